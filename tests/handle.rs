//! `ConnHandle`: sending to a connection from other threads, stale handles, and the write limit.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use turbine::{
    CodecError, Config, ConnHandle, Context, Decoder, Encoder, Handler, LinesCodec,
    MAX_FRAMES_IN_FLIGHT, ReadBuf, Running, SendError,
};
use util::{config, connect, start, wait_until};

/// Lines, with an encoder that can be made slow: it stands for a CPU-heavy encoder
/// (compression, encryption) and widens the reactor's turns without changing what they do.
struct Lines {
    /// The stock codec doing the work.
    inner: LinesCodec,
    /// Time each `encode` spends before encoding.
    encode_delay: Duration,
}

impl Decoder for Lines {
    type Item = String;

    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<String>, CodecError> {
        self.inner.decode(src)
    }
}

impl Encoder for Lines {
    type Item = String;

    fn encode(&mut self, line: String, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        if !self.encode_delay.is_zero() {
            std::thread::sleep(self.encode_delay);
        }
        self.inner.encode(line, dst)
    }
}

/// A line protocol: `handle` sends this connection's [`ConnHandle`] to the test and replies
/// `ok`; any other line is echoed.
struct Commands {
    /// Where handles go.
    handles: SyncSender<ConnHandle<String>>,
    /// See [`Lines::encode_delay`].
    encode_delay: Duration,
}

impl Handler for Commands {
    type Codec = Lines;

    fn codec(&mut self, config: &Config) -> Lines {
        Lines {
            inner: LinesCodec::new(config.max_frame),
            encode_delay: self.encode_delay,
        }
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "handle" {
            // Never block the reactor: the test drains the channel, and it has room to spare.
            self.handles
                .try_send(ctx.handle())
                .expect("handle channel full");
            ctx.send("ok");
        } else {
            ctx.send(line);
        }
    }
}

/// Starts a `Commands` server; returns it with the receiving end of its handles.
fn start_commands(cfg: Config) -> (Running, Receiver<ConnHandle<String>>) {
    start_commands_with(cfg, Duration::ZERO)
}

/// Starts a `Commands` server whose encoder takes `encode_delay` per frame.
fn start_commands_with(
    cfg: Config,
    encode_delay: Duration,
) -> (Running, Receiver<ConnHandle<String>>) {
    let (tx, rx) = sync_channel(16);
    let running = start(cfg, move |_| Commands {
        handles: tx.clone(),
        encode_delay,
    });
    (running, rx)
}

/// A line client.
struct Client {
    /// The connection, buffered for `read_line`.
    stream: BufReader<TcpStream>,
}

impl Client {
    fn connect(running: &Running) -> Client {
        Client {
            stream: BufReader::new(connect(running.local_addr())),
        }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .expect("write");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stream.read_line(&mut line).expect("read a line");
        assert!(n > 0, "unexpected EOF");
        assert!(line.ends_with('\n'), "partial line {line:?}");
        line.pop();
        line
    }

    /// Asks for this connection's handle.
    fn handle(&mut self, handles: &Receiver<ConnHandle<String>>) -> ConnHandle<String> {
        self.send("handle");
        assert_eq!(self.line(), "ok");
        handles
            .recv_timeout(Duration::from_secs(10))
            .expect("the handler sends its handle")
    }
}

/// A handle to a closed connection fails with `Closed`, handing its frame back, even after a new
/// connection took the same slab slot; the new connection receives nothing from it.
#[test]
fn stale_handle_fails_and_delivers_nothing() {
    let (running, handles) = start_commands(config().reactors(1));

    let mut a = Client::connect(&running);
    let handle_a = a.handle(&handles);
    handle_a.send("to A while open".into()).unwrap();
    assert_eq!(a.line(), "to A while open");
    drop(a);
    assert!(
        wait_until(Duration::from_secs(10), || handle_a.is_closed()),
        "the handle never saw its connection close"
    );

    let mut b = Client::connect(&running);
    let handle_b = b.handle(&handles);
    assert_eq!(handle_b.id().reactor(), handle_a.id().reactor());
    assert_eq!(
        handle_b.id().slot(),
        handle_a.id().slot(),
        "B should reuse A's slot"
    );
    assert_ne!(handle_b.id().serial(), handle_a.id().serial());
    assert!(!handle_b.is_closed());

    match handle_a.send("stale".to_string()) {
        Err(SendError::Closed(frame)) => assert_eq!(frame, "stale"),
        other => panic!("a stale handle should fail with Closed, got {other:?}"),
    }
    let err = handle_a.send("stale again".to_string()).unwrap_err();
    assert!(matches!(err, SendError::Closed(_)));
    assert_eq!(err.into_inner(), "stale again");

    // B's next bytes are its own echo, then what its own handle sends: nothing of A's.
    b.send("ping");
    assert_eq!(b.line(), "ping");
    handle_b.send("to B".into()).unwrap();
    assert_eq!(b.line(), "to B");
    b.send("pong");
    assert_eq!(b.line(), "pong");
    // And nothing else is on its way.
    b.stream
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut extra = [0; 64];
    match b.stream.read(&mut extra) {
        Ok(n) => panic!("B received {:?}", String::from_utf8_lossy(&extra[..n])),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
}

/// Frames sent through a live handle from another thread all arrive, in order.
#[test]
fn handle_from_another_thread_delivers_in_order() {
    const LINES: usize = 1000;
    const { assert!(LINES < MAX_FRAMES_IN_FLIGHT) };
    let (running, handles) = start_commands(config());
    let mut client = Client::connect(&running);
    let handle = client.handle(&handles);
    let sender = std::thread::spawn(move || {
        for i in 0..LINES {
            // Fewer frames than MAX_FRAMES_IN_FLIGHT and far less than the write limit: every
            // send must be accepted.
            handle
                .send(format!("line {i}"))
                .unwrap_or_else(|e| panic!("send {i} failed: {e}"));
        }
    });
    for i in 0..LINES {
        assert_eq!(client.line(), format!("line {i}"));
    }
    sender.join().expect("sender thread");
    // The connection still answers, after all of them.
    client.send("done");
    assert_eq!(client.line(), "done");
}

/// With a client that does not read, sends through a handle fail with `Full` (handing the frame
/// back) once the connection's output passes the write limit, and keep failing while it does.
#[test]
fn send_fails_with_full_past_the_write_limit() {
    let write_limit = 64 << 10;
    let cfg = config()
        .reactors(1)
        .write_high_watermark(16 << 10)
        .write_low_watermark(8 << 10)
        .write_limit(write_limit)
        .shutdown_timeout(Duration::from_secs(2));
    let (running, handles) = start_commands(cfg);
    let mut client = Client::connect(&running);
    let handle = client.handle(&handles);
    // From here on the client reads nothing.

    let sender = std::thread::spawn(move || {
        let line = "x".repeat(1023); // 1 KiB with its newline
        // At most 64 MiB: far beyond what the socket buffers and the write limit can take.
        const MAX_SENDS: usize = 64 << 10;
        let mut accepted = 0usize;
        let mut fulls_in_a_row = 0;
        for _ in 0..MAX_SENDS {
            match handle.send(line.clone()) {
                Ok(()) => {
                    accepted += 1;
                    fulls_in_a_row = 0;
                }
                Err(SendError::Full(frame)) => {
                    assert_eq!(frame, line, "Full hands the frame back");
                    // `Full` can also mean "too many frames in flight" for a moment; the write
                    // limit is what still refuses once the reactor has caught up.
                    fulls_in_a_row += 1;
                    if fulls_in_a_row == 20 {
                        return (handle, accepted);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(SendError::Closed(_)) => panic!("the connection closed"),
            }
        }
        panic!("{MAX_SENDS} sends and no lasting Full ({accepted} accepted)");
    });
    let (handle, accepted) = sender.join().expect("sender thread");
    assert!(accepted > 0);

    assert!(
        wait_until(Duration::from_secs(10), || running
            .stats()
            .total()
            .output_buffered
            > write_limit as u64),
        "output should be over the write limit: {:?}",
        running.stats().total()
    );
    match handle.send("more".into()) {
        Err(SendError::Full(frame)) => assert_eq!(frame, "more"),
        other => panic!("expected Full, got {other:?}"),
    }
    assert!(!handle.is_closed());
    drop(client);
}

/// Sends through handles cannot make a connection buffer more than the write limit plus
/// `MAX_FRAMES_IN_FLIGHT` frames, as `ConnHandle` documents, even when the encoder is slow and a
/// sender retries at once after every `Full`.
#[test]
fn handle_sends_buffer_at_most_write_limit_plus_frames_in_flight() {
    /// Bytes per frame, newline included.
    const FRAME: usize = 1024;
    /// Frames the sender gets accepted before it stops: well past the documented bound.
    const FRAMES: usize = 3 * MAX_FRAMES_IN_FLIGHT;
    let write_limit = 64 << 10;
    let cfg = config()
        .reactors(1)
        .write_high_watermark(16 << 10)
        .write_low_watermark(8 << 10)
        .write_limit(write_limit)
        .shutdown_timeout(Duration::from_secs(2));
    // 20 µs per frame (more with the timer's slack): a few hundred milliseconds in all.
    let (running, handles) = start_commands_with(cfg, Duration::from_micros(20));
    let mut client = Client::connect(&running);
    let handle = client.handle(&handles);
    // The client reads everything, so output never piles up because of it.
    let mut stream = client.stream.into_inner();
    let mut reader = stream.try_clone().unwrap();
    let reading = std::thread::spawn(move || util::read_to_eof(&mut reader).len());

    let sender = std::thread::spawn(move || {
        let line = "x".repeat(FRAME - 1);
        let until = Instant::now() + Duration::from_secs(10);
        let mut accepted = 0;
        let mut fulls = 0u64;
        while accepted < FRAMES && Instant::now() < until {
            match handle.send(line.clone()) {
                Ok(()) => accepted += 1,
                Err(SendError::Full(_)) => {
                    fulls += 1;
                    std::thread::yield_now();
                }
                Err(SendError::Closed(_)) => panic!("the connection closed"),
            }
        }
        (accepted, fulls)
    });
    let (accepted, fulls) = sender.join().expect("sender thread");
    assert_eq!(accepted, FRAMES, "the sender ran out of time");
    // An accepted send is written unless the connection starts closing first (`ConnHandle::
    // send`), and our FIN starts the close: so the FIN waits until every accepted frame is
    // written (the reader keeps taking them; up to `MAX_FRAMES_IN_FLIGHT` may still be in the
    // mailbox when the sender stops, longer on a loaded machine).
    assert!(
        wait_until(Duration::from_secs(10), || running
            .stats()
            .total()
            .bytes_out
            >= (accepted * FRAME) as u64),
        "the accepted frames were not all written: {:?}",
        running.stats().total()
    );
    // `done` follows them out; then the server closes after our FIN.
    stream.write_all(b"done\n").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let received = reading.join().expect("reader thread");
    assert_eq!(
        received,
        accepted * FRAME + 5,
        "every accepted frame arrives"
    );
    let stats = running.stats_handle();
    running.shutdown().unwrap();
    let total = stats.snapshot().total();
    eprintln!("{accepted} sends accepted, {fulls} refused: {total:?}");
    let bound = (write_limit + MAX_FRAMES_IN_FLIGHT * FRAME) as u64;
    assert!(
        total.output_peak <= bound,
        "a connection buffered {} bytes, over write limit + frames in flight ({bound})",
        total.output_peak
    );
}
