//! `Context::send_file`: file regions in a connection's output, in memory (`TestConnection`,
//! whose socket takes them as a plain one does) and over real sockets (`sendfile` on plain
//! TCP, refused on TLS).

mod util;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use turbine::{CloseReason, Config, Context, FileRegion, Handler, LinesCodec, TestConnection};
use util::tls::{Client, Pair, TempDir, client_config};
use util::{ByteStream, assert_same_bytes};

/// How a stream of windows is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// From the callbacks: as many windows as the connection takes while it is writable.
    Inline,
    /// Each window from the continuation of an offloaded job (standing in for the job that
    /// brings it into the page cache), the next job once the connection is writable.
    Jobs,
}

/// Where a stream of windows is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streaming {
    /// No stream.
    Idle,
    /// Sending windows of `window` bytes from `next`.
    Sending {
        /// Offset of the next window.
        next: usize,
        /// Bytes per window.
        window: usize,
        /// How windows are sent.
        pace: Pace,
    },
    /// A job for the window at `next` is on the pool.
    Waiting {
        /// Offset of the window the job brings.
        next: usize,
        /// Bytes per window.
        window: usize,
    },
}

/// Sends parts of one file. `SEND <offset> <len>`: `head`, the region, `tail` (a region refused
/// is copied instead, after `refused`). `STREAM <window>` and `JOBS <window>`: the whole file in
/// windows, paced by `is_writable` and `on_writable` (`JOBS`: each from a job's continuation),
/// then `done`. `NOW`: `close_now`.
struct Files {
    /// The file.
    file: Arc<File>,
    /// Its length.
    len: usize,
    /// The stream under way.
    streaming: Streaming,
    /// Regions refused (the socket cannot send files).
    refused: usize,
}

impl Files {
    fn new(file: &Arc<File>) -> Files {
        Files {
            file: Arc::clone(file),
            len: file.metadata().unwrap().len() as usize,
            streaming: Streaming::Idle,
            refused: 0,
        }
    }

    fn region(&self, offset: usize, len: usize) -> FileRegion {
        FileRegion::new(Arc::clone(&self.file), offset as u64, len)
    }

    /// Sends windows while the connection is writable; a job's window waits for its job.
    fn pump(&mut self, ctx: &mut Context<'_, Self>) {
        while let Streaming::Sending { next, window, pace } = self.streaming {
            if next == self.len {
                self.streaming = Streaming::Idle;
                ctx.send("done");
                return;
            }
            if !ctx.is_writable() {
                return; // on_writable goes on
            }
            let n = window.min(self.len - next);
            if pace == Pace::Jobs {
                self.streaming = Streaming::Waiting { next, window };
                let sent = ctx.offload(
                    || (),
                    move |files: &mut Files, ctx, _| {
                        ctx.send_file(files.region(next, n)).unwrap();
                        files.streaming = Streaming::Sending {
                            next: next + n,
                            window,
                            pace,
                        };
                        files.pump(ctx);
                    },
                );
                assert!(sent.is_ok(), "the pool takes the job");
                return;
            }
            ctx.send_file(self.region(next, n)).unwrap();
            self.streaming = Streaming::Sending {
                next: next + n,
                window,
                pace,
            };
        }
    }
}

impl Handler for Files {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let words: Vec<&str> = line.split(' ').collect();
        let number = |i: usize| words[i].parse::<usize>().unwrap();
        match words[0] {
            "SEND" => {
                let (offset, len) = (number(1), number(2));
                ctx.send("head");
                if let Err(region) = ctx.send_file(self.region(offset, len)) {
                    self.refused += 1;
                    ctx.send("refused");
                    // A test may read on the reactor; a server reads on the worker pool.
                    let mut bytes = vec![0; region.len()];
                    region
                        .file()
                        .read_exact_at(&mut bytes, region.offset())
                        .unwrap();
                    ctx.send_encoded(bytes);
                }
                ctx.send("tail");
            }
            "STREAM" | "JOBS" => {
                let pace = if words[0] == "JOBS" {
                    Pace::Jobs
                } else {
                    Pace::Inline
                };
                self.streaming = Streaming::Sending {
                    next: 0,
                    window: number(1),
                    pace,
                };
                self.pump(ctx);
            }
            "NOW" => ctx.close_now(),
            other => panic!("unknown command {other}"),
        }
    }

    fn on_writable(&mut self, ctx: &mut Context<'_, Self>) {
        self.pump(ctx);
    }
}

/// A file of `len` pseudo-random bytes in `dir`, open, and its bytes.
fn random_file(dir: &TempDir, len: usize) -> (Arc<File>, Vec<u8>) {
    let mut bytes = vec![0; len];
    ByteStream::new(len as u64).fill(&mut bytes);
    let path = dir.join("data");
    std::fs::write(&path, &bytes).unwrap();
    (Arc::new(File::open(&path).unwrap()), bytes)
}

/// Watermarks of 2 and 4 KiB, a write limit of 64 KiB.
fn small_watermarks() -> Config {
    Config::new()
        .write_low_watermark(2 << 10)
        .write_high_watermark(4 << 10)
        .write_limit(64 << 10)
}

/// A region leaves between the frames sent before and after it, through a peer window of a
/// few bytes (every write partial), and its bytes count as output until written.
#[test]
fn a_region_leaves_in_order_with_frames() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 10_000);
    let mut conn = TestConnection::new(Files::new(&file));
    conn.set_peer_window(Some(7));
    conn.push(b"SEND 100 5000\n");
    assert_eq!(conn.output_len(), 5 + 5000 + 5 - 7, "7 bytes were taken");
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let taken = conn.take_output();
        if taken.is_empty() {
            break;
        }
        got.extend_from_slice(&taken);
    }
    let want = [&b"head\n"[..], &bytes[100..5100], b"tail\n"].concat();
    assert_same_bytes(&got, &want, "head, region, tail");
    assert_eq!(conn.output_len(), 0);
    assert_eq!(Arc::strong_count(&file), 2, "the handler's and the test's");
}

/// A stream of regions sent from the callbacks is paced by the watermarks: while the peer
/// reads nothing, output stays under the high watermark plus one window; `on_writable` goes on
/// when it drains, and the file arrives whole.
#[test]
fn regions_are_paced_by_the_watermarks() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 100_000);
    let mut conn = TestConnection::with_config(Files::new(&file), small_watermarks());
    conn.set_peer_window(Some(1000));
    conn.push(b"STREAM 3000\n");
    assert!(
        conn.output_len() <= (4 << 10) + 3000,
        "{}",
        conn.output_len()
    );
    let mut got = Vec::new();
    for _ in 0..10_000 {
        got.extend_from_slice(&conn.take_output());
        assert!(conn.output_len() <= (4 << 10) + 3000);
        if got.len() >= bytes.len() + 5 {
            break;
        }
    }
    assert_same_bytes(&got, &[&bytes[..], b"done\n"].concat(), "the stream");
}

/// Windows sent from job continuations are paced too: output that went over the high
/// watermark outside any read (no input paused) still calls `on_writable` when it drains, so
/// the stream never stalls.
#[test]
fn regions_from_jobs_are_paced_by_on_writable() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 60_000);
    let mut conn = TestConnection::with_config(Files::new(&file), small_watermarks());
    conn.set_peer_window(Some(2000));
    conn.push(b"JOBS 5000\n");
    let mut got = Vec::new();
    for _ in 0..10_000 {
        assert!(conn.finish_offloads(Duration::from_secs(10)));
        assert!(conn.output_len() <= (4 << 10) + 5000);
        got.extend_from_slice(&conn.take_output());
        if got.len() >= bytes.len() + 5 {
            break;
        }
    }
    assert_same_bytes(&got, &[&bytes[..], b"done\n"].concat(), "the stream");
}

/// `close_now` while a region is half sent finishes that region (the peer never sees a torn
/// frame) and drops what follows it.
#[test]
fn close_now_finishes_the_region_being_sent() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 1000);
    let mut conn = TestConnection::new(Files::new(&file));
    conn.set_peer_window(Some(300));
    conn.push(b"SEND 0 1000\nSEND 0 1000\n");
    conn.push(b"NOW\n");
    conn.set_peer_window(None);
    let got = conn.take_output();
    assert_same_bytes(&got, &[&b"head\n"[..], &bytes].concat(), "the first region");
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
}

/// A region longer than what is left of its file (the file shrank) closes the connection with
/// `UnexpectedEof` after the bytes the file still had: never a short frame passed off as whole.
#[test]
fn a_file_that_shrank_closes_the_connection() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 1000);
    let mut conn = TestConnection::new(Files::new(&file));
    conn.push(b"SEND 600 1000\n");
    let got = conn.take_output();
    assert_same_bytes(
        &got,
        &[&b"head\n"[..], &bytes[600..]].concat(),
        "what was there",
    );
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::Io(std::io::ErrorKind::UnexpectedEof))
    );
}

/// A peer that stops reading in the middle of a region is closed by the write timeout.
#[test]
fn a_stalled_region_meets_the_write_timeout() {
    let dir = TempDir::new();
    let (file, _) = random_file(&dir, 1000);
    let config = Config::new().write_timeout(Some(Duration::from_secs(5)));
    let mut conn = TestConnection::with_config(Files::new(&file), config);
    conn.set_peer_window(Some(100));
    conn.push(b"SEND 0 1000\n");
    conn.advance(Duration::from_secs(4));
    assert!(!conn.is_closed());
    conn.advance(Duration::from_secs(2));
    assert_eq!(conn.close_reason(), Some(&CloseReason::WriteTimeout));
}

/// Over real sockets: on plain TCP a 4 MiB region is taken by the socket (not handed back);
/// through a 64 KiB send buffer to a client with a 16 KiB receive buffer that does not read
/// yet, only part of it is written while the rest waits in the server (`bytes_out` and
/// `output_buffered` both non-zero and adding up to the whole); once the client reads, the
/// rest follows byte for byte and `bytes_out` counts exactly what arrived. On TLS the region is
/// handed back and the handler's copy arrives instead, the same bytes.
#[test]
fn sendfile_on_plain_tcp_and_refused_on_tls() {
    let dir = TempDir::new();
    let (file, bytes) = random_file(&dir, 4 << 20);
    let request = format!("SEND 0 {}\n", bytes.len());
    let want_plain = [&b"head\n"[..], &bytes, b"tail\n"].concat();
    let want_tls = [&b"head\nrefused\n"[..], &bytes, b"tail\n"].concat();
    let whole = want_plain.len() as u64;

    let plain_file = Arc::clone(&file);
    let plain_config = util::config().reactors(1).send_buffer(Some(64 << 10));
    let plain = util::start(plain_config, move |_| Files::new(&plain_file));
    let mut client = util::small_window_client(plain.local_addr(), 16 << 10);
    client.write_all(request.as_bytes()).unwrap();
    // Not reading yet: the kernel's buffers take a part, the reactor holds the rest. The
    // counters are published at the end of a turn, so wait for a turn that shows both.
    assert!(
        util::wait_until(Duration::from_secs(5), || {
            let total = plain.stats().total();
            total.bytes_out > 0
                && total.output_buffered > 0
                && total.bytes_out + total.output_buffered == whole
        }),
        "a partial send, the rest held: {:?}",
        plain.stats().total()
    );
    let mut got = vec![0; want_plain.len()];
    client.read_exact(&mut got).unwrap();
    assert_same_bytes(&got, &want_plain, "plain TCP");
    assert!(
        util::wait_until(Duration::from_secs(5), || {
            let total = plain.stats().total();
            (total.bytes_out, total.output_buffered) == (whole, 0)
        }),
        "every byte counted out, none left: {:?} of {whole}",
        plain.stats().total()
    );

    let pair = Pair::new("send-file");
    let tls_file = Arc::clone(&file);
    let tls = turbine::Server::bind(util::config().reactors(1))
        .unwrap()
        .with_tls(pair.server_config(&[]))
        .start(move |_| Files::new(&tls_file))
        .unwrap();
    let mut client = Client::tls(
        tls.local_addr(),
        &client_config(&[&pair], util::tls::BOTH, &[]),
    );
    client.write_all(request.as_bytes()).unwrap();
    let mut got = vec![0; want_tls.len()];
    client.read_exact(&mut got).unwrap();
    assert_same_bytes(&got, &want_tls, "TLS");
}
