//! Graceful shutdown with clients mid-transfer: by SIGTERM to the `echo` example, and by a
//! `ShutdownHandle` in process; the second signal; the shutdown deadline.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use util::{Echo, Example, Rng, config, connect, flood, start, stopped_lines, wait_stalled};

/// Clients mid-transfer when the shutdown begins.
const CLIENTS: usize = 8;
/// Bytes each client sends.
const PER_CLIENT: usize = 1 << 20;

/// A client sending `PER_CLIENT` bytes in random pieces while a second thread reads the echo.
///
/// The writer sends the first half and reports it, sends the third quarter slowly (so bytes are
/// on the way when the shutdown begins), and waits to be released before sending the rest:
/// whatever the machine's speed, the shutdown begins mid-transfer.
struct Client {
    /// What it sends.
    data: Arc<Vec<u8>>,
    /// Echo bytes received so far.
    received: Arc<AtomicU64>,
    /// Releases the writer for its last quarter.
    go: Sender<()>,
    /// The writer: how many bytes it sent, at most (a write may fail once the server has closed,
    /// which is allowed).
    writer: JoinHandle<usize>,
    /// The reader: everything received, or the error that ended it with what came before.
    reader: JoinHandle<Result<Vec<u8>, (usize, io::Error)>>,
}

impl Client {
    fn start(addr: SocketAddr, seed: u64, halfway: Sender<()>) -> Client {
        let mut rng = Rng::new(seed);
        let data = Arc::new(rng.bytes(PER_CLIENT));
        let mut stream = connect(addr);
        let mut input = stream.try_clone().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let progress = Arc::clone(&received);
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0; 64 << 10];
            loop {
                match input.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        progress.store(got.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err((got.len(), e)),
                }
            }
        });
        let (go, released) = mpsc::channel();
        let to_send = Arc::clone(&data);
        let writer = std::thread::spawn(move || {
            // Writes `to_send[at..end]` in random pieces (small and spaced out if `slow`);
            // returns where it stopped (on an error, the end of the failed piece).
            let write_range = |stream: &mut TcpStream, rng: &mut Rng, mut at, end, slow| {
                while at < end {
                    let max = if slow { 4 << 10 } else { 64 << 10 };
                    let n = rng.range(1, max).min(end - at);
                    if stream.write_all(&to_send[at..at + n]).is_err() {
                        // Part of the piece may have gone out: count all of it.
                        return Err(at + n);
                    }
                    at += n;
                    if slow {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Ok(at)
            };
            let half = PER_CLIENT / 2;
            let three_quarters = PER_CLIENT / 4 * 3;
            let written = write_range(&mut stream, &mut rng, 0, half, false)
                .unwrap_or_else(|at| panic!("write failed at {at}, before the shutdown"));
            halfway.send(()).unwrap();
            // Keep bytes flowing while the shutdown begins, then wait to be released so that
            // no connection can finish before it has begun.
            let written = match write_range(&mut stream, &mut rng, written, three_quarters, true) {
                Ok(at) => {
                    released
                        .recv_timeout(Duration::from_secs(30))
                        .expect("released");
                    write_range(&mut stream, &mut rng, at, PER_CLIENT, false)
                }
                Err(at) => Err(at),
            };
            let written = match written {
                Ok(at) | Err(at) => at,
            };
            // May fail if the server has closed: fine.
            let _ = stream.shutdown(Shutdown::Write);
            written
        });
        Client {
            data,
            received,
            go,
            writer,
            reader,
        }
    }

    /// Waits for the writer and reader; checks that the echo is an exact prefix of what was
    /// sent and ended in a clean EOF. Returns the bytes received.
    fn finish(self, index: usize) -> usize {
        let written = self.writer.join().expect("writer thread");
        let got = match self.reader.join().expect("reader thread") {
            Ok(got) => got,
            Err((n, e)) => panic!("client {index}: read failed after {n} bytes, not EOF: {e}"),
        };
        assert!(
            got.len() <= written,
            "client {index}: received {} bytes, more than the {written} sent",
            got.len()
        );
        util::assert_same_bytes(
            &got,
            &self.data[..got.len()],
            &format!("client {index}'s echo"),
        );
        got.len()
    }
}

/// Starts `CLIENTS` clients and returns once each has sent half its data and received some echo.
fn start_clients(addr: SocketAddr) -> Vec<Client> {
    let (halfway, halfway_rx) = mpsc::channel();
    let clients: Vec<Client> = (0..CLIENTS)
        .map(|i| Client::start(addr, 100 + i as u64, halfway.clone()))
        .collect();
    for _ in 0..CLIENTS {
        halfway_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("every client sends its first half");
    }
    assert!(
        util::wait_until(Duration::from_secs(20), || clients
            .iter()
            .all(|c| c.received.load(Ordering::Relaxed) > 0)),
        "every client should have received some echo"
    );
    clients
}

/// Releases every writer for its second half.
fn release(clients: &[Client]) {
    for client in clients {
        let _ = client.go.send(());
    }
}

/// SIGTERM while 8 clients are mid-transfer: each gets an exact prefix of what it sent and a
/// clean EOF, every reactor reports all its connections drained and none closed by force, and
/// the process exits with code 0 within the shutdown timeout.
#[test]
fn sigterm_mid_transfer_drains_every_connection() {
    let mut example = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", "2"),
        ("TURBINE_SHUTDOWN_TIMEOUT", "20s"),
        ("ECHO_FRAMING", "raw"),
        ("RUST_LOG", "info"),
    ]);
    let addr = example.listening_addr();
    let clients = start_clients(addr);
    let before: u64 = clients
        .iter()
        .map(|c| c.received.load(Ordering::Relaxed))
        .sum();

    example.signal("TERM");
    let signalled = Instant::now();
    // Release the writers once both reactors have begun shutting down (and counted their
    // connections), so that none can finish first.
    for _ in 0..2 {
        example
            .wait_line(Duration::from_secs(10), |l| l.contains("shutting down;"))
            .unwrap_or_else(|| panic!("no reactor shutdown line:\n{}", example.output()));
    }
    release(&clients);
    let received: usize = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.finish(i))
        .sum();
    let status = example
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", example.output()));
    let output = example.output();
    assert_eq!(status.code(), Some(0), "exit status; output:\n{output}");
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "exit after the shutdown timeout"
    );
    assert!(received as u64 >= before);

    let stopped = stopped_lines(&example.log());
    assert_eq!(
        stopped.len(),
        2,
        "one `stopped` line per reactor:\n{output}"
    );
    for s in &stopped {
        assert_eq!(s.forced, 0, "a connection was closed by force:\n{output}");
    }
    let drained: u64 = stopped.iter().map(|s| s.drained).sum();
    assert_eq!(
        drained, CLIENTS as u64,
        "every client was open and drained:\n{output}"
    );
    eprintln!("{received} bytes echoed in all ({before} before the signal)");
}

/// `ShutdownHandle` while 8 clients are mid-transfer, in process: each gets an exact prefix of
/// what it sent and a clean EOF, and the server wrote exactly what the clients received and read
/// exactly as much (nothing it accepted was lost).
#[test]
fn shutdown_handle_mid_transfer_loses_nothing() {
    let running = start(
        config()
            .reactors(2)
            .shutdown_timeout(Duration::from_secs(20)),
        |_| Echo::raw(),
    );
    let clients = start_clients(running.local_addr());
    let stats = running.stats_handle();

    // The writers are sending their third quarter slowly: the shutdown begins mid-transfer.
    running.shutdown_handle().shutdown();
    release(&clients);
    running.shutdown().expect("shutdown");
    let received: usize = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.finish(i))
        .sum();

    let total = stats.snapshot().total();
    assert_eq!(total.bytes_out, received as u64, "{total:?}");
    assert_eq!(total.bytes_in, total.bytes_out, "{total:?}");
    assert_eq!(total.accepted, CLIENTS as u64);
    assert_eq!(total.closed, CLIENTS as u64);
    assert_eq!(total.open, 0);
    assert_eq!(total.output_buffered, 0);
}

/// Starts the example with one reactor and `shutdown_timeout`, and a client that writes without
/// ever reading until the server's output is stuck. Returns the example, the flooding thread's
/// stop flag and the thread, and the client's socket (kept open).
fn example_with_stuck_client(
    shutdown_timeout: &str,
) -> (Example, Arc<AtomicBool>, JoinHandle<io::Result<()>>) {
    let example = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", "2"),
        ("TURBINE_SHUTDOWN_TIMEOUT", shutdown_timeout),
        ("ECHO_FRAMING", "raw"),
        ("RUST_LOG", "info"),
    ]);
    let addr = example.listening_addr();
    let stream = connect(addr);
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let flooding = flood(stream, 1 << 30, Arc::clone(&stop), Arc::clone(&progress));
    let stalled = wait_stalled(
        &progress,
        Duration::from_millis(500),
        Duration::from_secs(30),
    );
    assert!(stalled.is_some(), "the client's writes never blocked");
    (example, stop, flooding)
}

/// A second SIGTERM during a graceful shutdown that cannot finish (a client never reads, the
/// timeout is 60 s) exits the process at once with code 128 + 15.
#[test]
fn second_sigterm_exits_at_once() {
    let (mut example, stop, flooding) = example_with_stuck_client("60s");
    example.signal("TERM");
    example
        .wait_line(Duration::from_secs(10), |l| l.contains("shutting down"))
        .unwrap_or_else(|| panic!("no shutdown line; output:\n{}", example.output()));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !example.has_exited(),
        "the graceful shutdown should still be waiting for the client; output:\n{}",
        example.output()
    );

    example.signal("TERM");
    let status = example
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit after the second SIGTERM:\n{}", example.output()));
    stop.store(true, Ordering::Relaxed);
    let output = example.output();
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "exit status; output:\n{output}"
    );
    assert!(output.contains("again"), "{output}");
    // The client's writes end with an error once the process is gone; that is expected.
    let _ = flooding.join().expect("flooding thread");
}

/// With a 1 s shutdown timeout and a client that never reads, SIGTERM still ends the process
/// with code 0 soon after the deadline, and the logs count that one connection closed by force.
#[test]
fn shutdown_deadline_closes_stuck_connection_by_force() {
    let (mut example, stop, flooding) = example_with_stuck_client("1s");
    example.signal("TERM");
    let status = example
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no exit within 15 s of SIGTERM:\n{}", example.output()));
    stop.store(true, Ordering::Relaxed);
    let output = example.output();
    assert_eq!(status.code(), Some(0), "exit status; output:\n{output}");
    let stopped = stopped_lines(&example.log());
    assert_eq!(
        stopped.len(),
        2,
        "one `stopped` line per reactor:\n{output}"
    );
    let forced: u64 = stopped.iter().map(|s| s.forced).sum();
    assert_eq!(
        forced, 1,
        "the stuck connection is closed by force:\n{output}"
    );
    let _ = flooding.join().expect("flooding thread");
}

/// Clients of the streaming test.
const STREAMERS: usize = 20;

/// A client streaming `PER_CLIENT` bytes through the echo as it comes, in 4 KiB pieces 2 ms
/// apart (so the server is never the bottleneck and nothing waits in the client's own send
/// buffer), while a second thread reads the echo. It stops writing once the reader sees the
/// server's EOF.
struct Streamer {
    /// What it sends.
    data: Arc<Vec<u8>>,
    /// Bytes written so far (each `write_all` that returned).
    written: Arc<AtomicU64>,
    /// Echo bytes received so far.
    received: Arc<AtomicU64>,
    /// The writer: bytes it wrote in all.
    writer: JoinHandle<usize>,
    /// The reader: everything received, or the error that ended it with what came before.
    reader: JoinHandle<Result<Vec<u8>, (usize, io::Error)>>,
}

impl Streamer {
    fn start(addr: SocketAddr, seed: u64) -> Streamer {
        let data = Arc::new(Rng::new(seed).bytes(PER_CLIENT));
        let mut stream = connect(addr);
        let mut input = stream.try_clone().unwrap();
        let received = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicBool::new(false));
        let (progress, end) = (Arc::clone(&received), Arc::clone(&ended));
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0; 64 << 10];
            let result = loop {
                match input.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        got.extend_from_slice(&buf[..n]);
                        progress.store(got.len() as u64, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            end.store(true, Ordering::Relaxed);
            result.map(|()| got.clone()).map_err(|e| (got.len(), e))
        });
        let written = Arc::new(AtomicU64::new(0));
        let (count, to_send) = (Arc::clone(&written), Arc::clone(&data));
        let writer = std::thread::spawn(move || {
            let mut at = 0;
            while at < PER_CLIENT && !ended.load(Ordering::Relaxed) {
                let n = (4 << 10).min(PER_CLIENT - at);
                if stream.write_all(&to_send[at..at + n]).is_err() {
                    break; // the server closed: what it read has come back
                }
                at += n;
                count.store(at as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = stream.shutdown(Shutdown::Write);
            at
        });
        Streamer {
            data,
            written,
            received,
            writer,
            reader,
        }
    }

    /// Waits for both threads; checks that the echo is an exact prefix of what was sent, holds
    /// at least `owed` bytes, and ended in a clean EOF. Returns the bytes received.
    fn finish(self, index: usize, owed: u64) -> usize {
        let written = self.writer.join().expect("writer thread");
        let got = match self.reader.join().expect("reader thread") {
            Ok(got) => got,
            Err((n, e)) => panic!("client {index}: read failed after {n} bytes, not EOF: {e}"),
        };
        assert!(got.len() <= written, "client {index}: more echo than sent");
        util::assert_same_bytes(&got, &self.data[..got.len()], &format!("client {index}"));
        assert!(
            got.len() as u64 >= owed,
            "client {index}: {} bytes echoed, but {owed} were sent before the signal",
            got.len()
        );
        got.len()
    }
}

/// SIGTERM while 20 clients stream 1 MiB each through the echo: every byte a client sent
/// before the signal comes back (the server reads each socket until it would block and answers
/// everything before it closes), what comes back is an exact prefix of what was sent, each
/// connection ends in a clean EOF, and the reactors log all 20 drained, none forced.
#[test]
fn sigterm_while_streaming_returns_everything_sent_before_it() {
    let mut example = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", "2"),
        ("TURBINE_SHUTDOWN_TIMEOUT", "20s"),
        ("ECHO_FRAMING", "raw"),
        ("RUST_LOG", "info"),
    ]);
    let addr = example.listening_addr();
    let streamers: Vec<Streamer> = (0..STREAMERS)
        .map(|i| Streamer::start(addr, 500 + i as u64))
        .collect();
    let flowing = util::wait_until(Duration::from_secs(30), || {
        streamers
            .iter()
            .all(|s| s.received.load(Ordering::Relaxed) >= 64 << 10)
    });
    assert!(flowing, "every client has 64 KiB echoed");
    // Whatever a client wrote before this point is in the server's socket buffer (loopback
    // delivers at once, and the pacing keeps the client's own buffer empty).
    let owed: Vec<u64> = streamers
        .iter()
        .map(|s| s.written.load(Ordering::Relaxed))
        .collect();
    example.signal("TERM");
    let mid_transfer = owed.iter().filter(|&&w| w < PER_CLIENT as u64).count();
    let received: usize = streamers
        .into_iter()
        .zip(&owed)
        .enumerate()
        .map(|(i, (s, &owed))| s.finish(i, owed))
        .sum();
    let status = example
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", example.output()));
    let output = example.output();
    assert_eq!(status.code(), Some(0), "exit status; output:\n{output}");
    assert!(
        mid_transfer >= STREAMERS / 2,
        "only {mid_transfer} clients were mid-transfer at the signal: the test proves little"
    );
    let stopped = stopped_lines(&example.log());
    let drained: u64 = stopped.iter().map(|s| s.drained).sum();
    let forced: u64 = stopped.iter().map(|s| s.forced).sum();
    // Every client still streaming at the signal was drained; none was cut by force.
    assert_eq!(forced, 0, "{output}");
    assert!(
        drained >= mid_transfer as u64,
        "{drained} drained:\n{output}"
    );
    eprintln!(
        "{received} bytes echoed; {} owed at the signal; {mid_transfer} clients mid-transfer",
        owed.iter().sum::<u64>()
    );
}

/// Idle connections of the idle-shutdown test.
const IDLE: usize = 1000;

/// SIGTERM with 1,000 idle connections (connected, nothing sent) and a 30 s linger timeout: the
/// process exits long before the linger timeout (each idle connection is quiet, so it is closed
/// at once, and closed without lingering: nothing of its is in flight), every client sees a
/// clean EOF, and the reactor logs all 1,000 drained.
#[test]
fn sigterm_with_idle_connections_exits_at_once() {
    let mut example = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", "1"),
        ("TURBINE_LINGER_TIMEOUT", "30s"),
        ("TURBINE_SHUTDOWN_TIMEOUT", "60s"),
        ("ECHO_FRAMING", "lines"),
        ("RUST_LOG", "info"),
    ]);
    let addr = example.listening_addr();
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| connect(addr)).collect();
    // One accept queue, served in order: once a later client is echoed, all were accepted.
    let mut probe = connect(addr);
    probe.write_all(b"probe\n").unwrap();
    let mut echo = [0; 6];
    probe.read_exact(&mut echo).expect("the probe's echo");
    drop(probe);

    let signalled = Instant::now();
    example.signal("TERM");
    let status = example
        .wait_exit(Duration::from_secs(60))
        .unwrap_or_else(|| panic!("no exit after SIGTERM; output:\n{}", example.output()));
    let took = signalled.elapsed();
    let output = example.output();
    assert_eq!(status.code(), Some(0), "exit status; output:\n{output}");
    assert!(
        took < Duration::from_secs(10),
        "exit took {took:?}:\n{output}"
    );
    for (i, client) in idle.iter_mut().enumerate() {
        let mut rest = Vec::new();
        client
            .read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("client {i}: {e} instead of a clean EOF"));
        assert!(rest.is_empty(), "client {i} got {rest:?}");
    }
    let stopped = stopped_lines(&example.log());
    let drained: u64 = stopped.iter().map(|s| s.drained).sum();
    let forced: u64 = stopped.iter().map(|s| s.forced).sum();
    assert_eq!((drained, forced), (IDLE as u64, 0), "{output}");
    eprintln!("{IDLE} idle connections: exit {took:?} after SIGTERM");
}
