//! The cross-thread hand-off: frames sent through a [`ConnHandle`] from a thread outside the
//! server, to a client socket.
//!
//! A Turbine server with one reactor on `127.0.0.1` port 0 speaks lines ([`LinesCodec`]); its
//! handler answers a `subscribe` line by sending its connection's [`ConnHandle`] out through a
//! channel. The bench thread connects a blocking `std::net::TcpStream` client (`TCP_NODELAY` on
//! both ends), subscribes, takes the handle, and then sends 64-byte frames through it: 63
//! letters, to which the reactor's encoder appends the `\n`. Each iteration sends a batch of
//! 1000 frames, under [`MAX_FRAMES_IN_FLIGHT`] (1024), and the client reads back all 64,000 bytes
//! (counted, and the last byte checked to be a `\n`) before the next batch starts, so the
//! connection holds nothing at the start of a batch. One criterion group, `mailbox`, with
//! `Throughput::Elements(1000)`, so criterion reports frames per second:
//!
//! - `end_to_end`: times the whole batch, from the first send to the client's last read. That
//!   includes, per frame, a `String` clone (one allocation, what a real sender pays for an owned
//!   frame), [`ConnHandle::send`] (the closed flag, the in-flight and output counters, a push
//!   onto the reactor's unbounded crossbeam channel), and on the reactor the drain of the mailbox
//!   (up to 4096 messages per turn), `LinesCodec` encoding onto the connection's output and the
//!   publication of its output size; per burst, the wake-up (the first send after the reactor
//!   last emptied its mailbox writes its `eventfd`; later sends see a wake-up pending and skip
//!   it, so a batch costs a few wake-ups, not one per frame), the socket writes (what a reactor
//!   turn encoded leaves in one write), loopback TCP, and the client's `read` calls into a
//!   64 KiB buffer. Where sender and reactor run at the same time on different cores, a frame's
//!   cost here is that of the slowest stage of the pipeline plus the batch's start-up and drain,
//!   not the sum of the stages.
//! - `send_only`: times only the 1000 [`ConnHandle::send`] calls of a batch. The frames are
//!   cloned into a reused `Vec` before the clock starts, and the client drains the batch after
//!   it stops. The reactor still runs during the timed part, draining the channel and writing
//!   concurrently, so the figure includes the contention on the channel and the `eventfd`
//!   writes of the wake-ups, which is what a sender sees.
//!
//! A send refused with [`SendError::Full`] is retried after `yield_now` and counted as a stall;
//! the count is printed after each function (with these batch sizes it should be zero: at most
//! 1000 frames are in flight and 64 KB of output is far under the 1 MiB write limit).
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench mailbox
//! cargo bench --bench mailbox -- send_only   # one function only (a criterion filter)
//! ```
//!
//! The defaults (1 s warm-up, 3 s measurement, 20 samples per function) keep a full run under a
//! minute; `send_only` takes longer than its measured time, since the client's drain between
//! batches is not measured. The client shares the machine's cores with the reactor, so
//! `end_to_end` measures the client's reads as well as the server.
//!
//! Both figures depend on where the scheduler puts the bench thread and the reactor. On two
//! cores they overlap: the reactor wakes while the batch is still being sent and takes it in a
//! few turns, each with its own wake-up and socket write (on a 2-core VM, about 4 wake-ups and
//! 2.5 writes per batch for `end_to_end`), and cache lines move between the cores for every
//! frame: the channel's slots, and the connection's in-flight and output counters, which the
//! sender and the reactor both write per frame. On one core the sender usually posts most of
//! the batch before the reactor runs, which then drains it in one or two turns and writes.
//! Pinning the process to one core measures that second case, the CPU work per frame, and is
//! steadier:
//!
//! ```text
//! taskset -c 0 cargo bench --bench mailbox
//! ```
//!
//! To see how far wake-ups and writes were coalesced, count the system calls of a profiling run
//! (criterion's `--profile-time` skips the analysis): the bench thread's `write`s are, but for a
//! few lines of output, the mailbox's `eventfd` wake-ups, and the `sendto`s the reactor's socket
//! writes; divide by the sends it prints over 1000 for a figure per batch.
//!
//! ```text
//! perf stat -e syscalls:sys_enter_write,syscalls:sys_enter_sendto -- \
//!     target/release/deps/mailbox-<hash> --bench --profile-time 5 mailbox/end_to_end
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use turbine::{
    Config, ConnHandle, Context, Handler, LinesCodec, MAX_FRAMES_IN_FLIGHT, Running, SendError,
    Server,
};

/// Frames sent per iteration.
const BATCH: usize = 1000;
/// Bytes per frame on the wire, the encoder's `\n` included.
const FRAME: usize = 64;

const _: () = assert!(BATCH < MAX_FRAMES_IN_FLIGHT);

/// Hands its connection's [`ConnHandle`] out on a `subscribe` line; ignores other lines.
struct Subscribe {
    /// Where handles go.
    handles: SyncSender<ConnHandle<String>>,
}

impl Handler for Subscribe {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "subscribe" {
            // Never block the reactor: the channel has room for every subscriber of this bench.
            self.handles
                .try_send(ctx.handle())
                .expect("handle channel full");
        }
    }
}

/// A `Subscribe` server with one reactor on `127.0.0.1:0`, and where its handles arrive.
fn start_server() -> io::Result<(Running, Receiver<ConnHandle<String>>)> {
    let config = Config::new()
        .addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .reactors(1);
    let (tx, rx) = sync_channel(4);
    let running = Server::bind(config)?.start(move |_peer| Subscribe {
        handles: tx.clone(),
    })?;
    Ok((running, rx))
}

/// The bench thread's side: a subscribed client and the handle that sends to it.
struct Feed {
    /// The client connection.
    stream: TcpStream,
    /// Sends to the client's connection on the server.
    handle: ConnHandle<String>,
    /// The frame sent, without its `\n`.
    line: String,
    /// Read buffer.
    buf: Vec<u8>,
    /// Sends refused with `SendError::Full` and retried.
    stalls: u64,
    /// Frames sent.
    sent: u64,
}

impl Feed {
    /// Connects, subscribes and waits for the handle.
    fn connect(addr: SocketAddr, handles: &Receiver<ConnHandle<String>>) -> io::Result<Feed> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(b"subscribe\n")?;
        let handle = handles
            .recv_timeout(Duration::from_secs(10))
            .map_err(|e| io::Error::new(io::ErrorKind::TimedOut, e))?;
        let line = (0..FRAME - 1).map(|i| char::from(b'a' + (i % 26) as u8));
        Ok(Feed {
            stream,
            handle,
            line: line.collect(),
            buf: vec![0; 64 * 1024],
            stalls: 0,
            sent: 0,
        })
    }

    /// Sends `frame`, retrying (and counting a stall) while the connection is full.
    fn send(&mut self, mut frame: String) {
        loop {
            match self.handle.send(frame) {
                Ok(()) => break,
                Err(SendError::Full(back)) => {
                    self.stalls += 1;
                    frame = back;
                    std::thread::yield_now();
                }
                Err(SendError::Closed(_)) => panic!("the connection closed"),
            }
        }
        self.sent += 1;
    }

    /// Reads exactly one batch's bytes.
    fn drain(&mut self) {
        let want = BATCH * FRAME;
        let mut got = 0;
        let mut last = 0;
        while got < want {
            let room = self.buf.len().min(want - got);
            match self.stream.read(&mut self.buf[..room]) {
                Ok(0) => panic!("server closed the connection"),
                Ok(n) => {
                    got += n;
                    last = self.buf[n - 1];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(last, b'\n', "the batch does not end with a whole line");
    }

    /// Times `iters` batches, each sent and read back.
    fn end_to_end(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            for _ in 0..BATCH {
                self.send(self.line.clone());
            }
            self.drain();
        }
        start.elapsed()
    }

    /// Times only the sends of `iters` batches; each batch is built before and read back after
    /// its timed part.
    fn send_only(&mut self, iters: u64, batch: &mut Vec<String>) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            batch.extend((0..BATCH).map(|_| self.line.clone()));
            let start = Instant::now();
            for frame in batch.drain(..) {
                self.send(frame);
            }
            total += start.elapsed();
            self.drain();
        }
        total
    }

    /// Prints the stalls since the last report, if anything was sent, and starts counting again.
    fn report(&mut self, function: &str) {
        if self.sent > 0 {
            eprintln!(
                "mailbox/{function}: {} stalls (SendError::Full) in {} sends",
                self.stalls, self.sent
            );
        }
        self.reset();
    }

    /// Zeroes the counters.
    fn reset(&mut self) {
        self.stalls = 0;
        self.sent = 0;
    }
}

/// Frames per second through `ConnHandle::send`: end to end to the client, and the sends alone.
fn mailbox(c: &mut Criterion) {
    let (running, handles) = start_server().expect("start the server");
    let mut feed = Feed::connect(running.local_addr(), &handles).expect("subscribe");
    // Fail before measuring if the frames do not arrive whole.
    feed.end_to_end(1);
    feed.reset();

    let mut group = c.benchmark_group("mailbox");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("end_to_end", |b| {
        b.iter_custom(|iters| feed.end_to_end(iters));
    });
    feed.report("end_to_end");
    let mut batch = Vec::with_capacity(BATCH);
    group.bench_function("send_only", |b| {
        b.iter_custom(|iters| feed.send_only(iters, &mut batch));
    });
    feed.report("send_only");
    group.finish();

    drop(feed);
    running.shutdown().expect("shut the server down");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = mailbox
}
criterion_main!(benches);
