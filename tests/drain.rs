//! Graceful shutdown with well-behaved clients and one that never reads, in process: what
//! `tests/shutdown.rs` leaves out (the mix, the time it takes, and the drained and forced
//! counts in the log of an in-process server).

mod util;

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use util::hardening::{End, LogCapture, read_until_end};
use util::{
    Echo, Rng, assert_same_bytes, config, connect, flood, start, stopped_lines, wait_stalled,
    wait_until,
};

/// Bytes each well-behaved client sends before the shutdown; the echo waits unread until the
/// shutdown has begun.
const REQUEST: usize = 32 << 10;

/// `shutdown_timeout(1s)`, three well-behaved clients (each with a 32 KiB echo pending, read
/// once the shutdown has begun, closing on EOF) and one that writes without ever reading:
/// `shutdown()` takes about the timeout (at least 0.9 s, under 10 s), the three get their
/// whole echo and a clean EOF, every connection is closed, and the reactors log three drained
/// and one closed by force.
#[test]
fn shutdown_drains_readers_and_forces_a_non_reader_at_the_deadline() {
    let log = LogCapture::install();
    let running = start(
        config()
            .reactors(2)
            .shutdown_timeout(Duration::from_secs(1)),
        |_| Echo::raw(),
    );
    let addr = running.local_addr();
    let stats = running.stats_handle();

    let mut rng = Rng::new(0xD7A1);
    let requests: Vec<Vec<u8>> = (0..3).map(|_| rng.bytes(REQUEST)).collect();
    let mut readers = Vec::new();
    for request in &requests {
        let mut client = connect(addr);
        client.write_all(request).unwrap();
        readers.push(client);
    }
    assert!(
        wait_until(Duration::from_secs(10), || stats
            .snapshot()
            .total()
            .bytes_in
            == 3 * REQUEST as u64),
        "{:?}",
        stats.snapshot().total()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let flooding = flood(
        connect(addr),
        1 << 30,
        Arc::clone(&stop),
        Arc::clone(&progress),
    );
    assert!(
        wait_stalled(
            &progress,
            Duration::from_millis(500),
            Duration::from_secs(30)
        )
        .is_some(),
        "the non-reader's writes never blocked"
    );
    assert_eq!(stats.snapshot().total().open, 4);

    // The readers start once the shutdown has begun, and each closes its socket on EOF.
    let shutdown = running.shutdown_handle();
    let started = Instant::now();
    shutdown.shutdown();
    let readers: Vec<_> = readers
        .into_iter()
        .map(|mut client| {
            std::thread::spawn(move || read_until_end(&mut client, Duration::from_secs(20)))
        })
        .collect();
    running.shutdown().expect("shutdown");
    let took = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    eprintln!("shutdown took {took:?}");

    for (i, (reader, request)) in readers.into_iter().zip(&requests).enumerate() {
        let (got, end) = reader.join().expect("reader thread");
        assert_same_bytes(&got, request, &format!("reader {i}'s echo"));
        assert_eq!(end, End::Eof, "reader {i} ends in a clean EOF");
    }
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "shutdown took {took:?}; the deadline was 1 s"
    );
    let written = flooding.join().expect("flooding thread");
    assert!(
        written.is_err(),
        "the non-reader's writes fail once it is closed by force"
    );

    let total = stats.snapshot().total();
    assert_eq!((total.open, total.closed), (0, 4), "{total:?}");
    let stopped = stopped_lines(&log.lines());
    assert_eq!(
        stopped.len(),
        2,
        "one `stopped` line per reactor: {:?}",
        log.lines()
    );
    let drained: u64 = stopped.iter().map(|s| s.drained).sum();
    let forced: u64 = stopped.iter().map(|s| s.forced).sum();
    assert_eq!(
        (drained, forced),
        (3, 1),
        "three drained, one forced: {:?}",
        log.lines()
    );
}
