//! A short soak: seconds of connection churn of every kind against one in-process server, then
//! nothing may be left behind: no open connection, no descriptor, no output, no error.
//!
//! `benches/soak.sh` is the long version, against the `echo` example, for minutes.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use util::hardening::{open_fds, reset, serial};
use util::{Echo, Rng, assert_same_bytes, config, connect, read_to_eof, start, wait_until};

/// How long the churn lasts.
const CHURN: Duration = Duration::from_secs(3);
/// Client threads.
const THREADS: u64 = 4;
/// Connections per thread at most, spread over the churn: a fast machine would otherwise open tens of thousands, and
/// those the client closes first wait out TIME_WAIT on the ephemeral ports other tests need.
const MAX_PER_THREAD: u64 = 1500;

/// What one churning client did.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    /// Echoes checked byte for byte, ended by our half-close and the server's EOF.
    half_closed: u64,
    /// Echoes checked, then closed by us first.
    closed_first: u64,
    /// Reset by us with input unread by the server.
    reset: u64,
    /// Connected and closed at once, without a byte.
    empty: u64,
}

/// One connection of a random kind; a failure panics (and fails the test).
fn churn_once(addr: SocketAddr, rng: &mut Rng, counts: &mut Counts) {
    let mut stream = connect(addr);
    match rng.range(0, 3) {
        0 => {
            let len = rng.range(1, 16 << 10);
            let data = rng.bytes(len);
            stream.write_all(&data).expect("write");
            stream.shutdown(Shutdown::Write).expect("half-close");
            let got = read_to_eof(&mut stream);
            assert_same_bytes(&got, &data, "half-closed echo");
            counts.half_closed += 1;
        }
        1 => {
            let len = rng.range(1, 16 << 10);
            let data = rng.bytes(len);
            stream.write_all(&data).expect("write");
            let mut got = vec![0; data.len()];
            stream.read_exact(&mut got).expect("read the echo");
            assert_same_bytes(&got, &data, "echo");
            counts.closed_first += 1;
        }
        2 => {
            let len = rng.range(1, 64 << 10);
            let data = rng.bytes(len);
            stream.write_all(&data).expect("write");
            reset(stream);
            counts.reset += 1;
        }
        _ => counts.empty += 1,
    }
}

/// Four threads churn connections for 3 s (at most 6,000, paced) against a two-reactor raw echo (echoes checked byte
/// for byte, closes from either side first, resets with unread input, empty connections):
/// afterwards no connection is open, every accepted one is closed, no output is held, nothing
/// panicked, and the process's descriptor count is back where it began.
#[test]
fn churn_leaves_nothing_behind() {
    let _serial = serial();
    let running = start(config().reactors(2), |_| Echo::raw());
    let addr = running.local_addr();
    let baseline = open_fds();
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                let mut rng = Rng::new(0x50A4 + t);
                let mut counts = Counts::default();
                // Paced to spread the connections over the whole churn.
                let interval = CHURN / MAX_PER_THREAD as u32;
                for k in 0..MAX_PER_THREAD as u32 {
                    let elapsed = started.elapsed();
                    if elapsed >= CHURN {
                        break;
                    }
                    std::thread::sleep((interval * k).saturating_sub(elapsed));
                    churn_once(addr, &mut rng, &mut counts);
                }
                counts
            })
        })
        .collect();
    let mut all = Counts::default();
    for thread in threads {
        let c = thread.join().expect("a churning client failed");
        all.half_closed += c.half_closed;
        all.closed_first += c.closed_first;
        all.reset += c.reset;
        all.empty += c.empty;
    }
    let connections = all.half_closed + all.closed_first + all.reset + all.empty;
    eprintln!(
        "{connections} connections in {:?}: {all:?}",
        started.elapsed()
    );
    assert!(
        connections >= 100,
        "only {connections} connections: {all:?}"
    );

    assert!(
        wait_until(Duration::from_secs(10), || {
            let total = running.stats().total();
            total.open == 0 && total.closed == connections
        }),
        "every connection closed: {:?}",
        running.stats().total()
    );
    let total = running.stats().total();
    assert_eq!(total.accepted, connections, "{total:?}");
    assert_eq!(total.rejected, 0, "{total:?}");
    assert_eq!(total.panics, 0, "{total:?}");
    assert_eq!(total.output_buffered, 0, "{total:?}");
    assert!(
        wait_until(Duration::from_secs(5), || open_fds() <= baseline + 2),
        "descriptors: {} open, {baseline} before the churn",
        open_fds()
    );
    running
        .shutdown()
        .expect("the reactors stopped without error");
}
