//! Timeouts: idle, unfinished frame (slow loris) and stuck output each close the one connection
//! they concern, at about the configured time, while another client keeps being served; idle
//! connections with timers armed cost the reactor no CPU.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use turbine::{CloseReason, Running};
use util::hardening::{Closes, End, Pinger, Reactors, open_file_limit, read_until_end};
use util::{Echo, config, connect, flood, start, wait_until};

/// `idle_timeout(500ms)`: a client that sends nothing is closed with a clean EOF after about
/// 0.5 s (between 0.3 s and 5 s), for `IdleTimeout`; a client pinging every 20 ms meanwhile is
/// served throughout and stays open.
#[test]
fn idle_timeout_closes_a_silent_client_only() {
    let closes = Closes::default();
    let watched = closes.clone();
    let running = start(
        config().idle_timeout(Some(Duration::from_millis(500))),
        move |_| watched.lines(),
    );
    let addr = running.local_addr();
    let pinger = Pinger::start(addr);

    let started = Instant::now();
    let mut silent = connect(addr);
    let (got, end) = read_until_end(&mut silent, Duration::from_secs(10));
    let elapsed = started.elapsed();
    assert!(got.is_empty(), "the silent client got {got:?}");
    assert_eq!(end, End::Eof, "the silent client is closed cleanly");
    eprintln!("silent client closed after {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}, expected about 500 ms"
    );
    drop(silent);
    assert_only_closed(
        &running,
        &closes,
        CloseReason::IdleTimeout,
        Duration::from_secs(5),
    );
    let pings = pinger.finish();
    assert!(pings >= 5, "only {pings} pings");
}

/// Waits (up to `wait`) until one connection has closed for `reason`, then checks it was the
/// only one: the other (the pinger's) is still open and no other close was recorded.
fn assert_only_closed(running: &Running, closes: &Closes, reason: CloseReason, wait: Duration) {
    assert!(
        wait_until(wait, || closes.count(&reason) == 1),
        "close reasons: {:?}",
        closes.all()
    );
    assert!(
        wait_until(Duration::from_secs(5), || {
            let total = running.stats().total();
            (total.open, total.closed) == (1, 1)
        }),
        "only that connection closed: {:?}",
        running.stats().total()
    );
    assert_eq!(closes.all(), [reason]);
}

/// `frame_timeout(1s)`: a client trickling one byte every 100 ms with no `\n` is closed after
/// about 1 s (between 0.7 s and 5 s) although its bytes keep coming, for `FrameTimeout`; another
/// client is served throughout.
#[test]
fn frame_timeout_closes_a_trickling_client_only() {
    let closes = Closes::default();
    let watched = closes.clone();
    let running = start(
        config().frame_timeout(Some(Duration::from_secs(1))),
        move |_| watched.lines(),
    );
    let addr = running.local_addr();
    let pinger = Pinger::start(addr);

    let mut trickler = connect(addr);
    let mut writer = trickler.try_clone().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let started = Instant::now();
    let trickling = std::thread::spawn(move || {
        let mut sent = 0;
        while !stopping.load(Ordering::Relaxed) && writer.write_all(b"a").is_ok() {
            sent += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    });
    let (got, end) = read_until_end(&mut trickler, Duration::from_secs(10));
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent = trickling.join().expect("trickling thread");
    assert!(got.is_empty(), "the trickler got {got:?}");
    assert_eq!(end, End::Eof, "the trickler is closed cleanly");
    eprintln!("trickler closed after {elapsed:?}, {sent} bytes sent");
    assert!(
        elapsed >= Duration::from_millis(700) && elapsed < Duration::from_secs(5),
        "closed after {elapsed:?}, expected about 1 s"
    );
    assert!(
        sent >= 7,
        "only {sent} bytes trickled: the clock should not have run out"
    );
    drop(trickler);
    assert_only_closed(
        &running,
        &closes,
        CloseReason::FrameTimeout,
        Duration::from_secs(10),
    );
    let pings = pinger.finish();
    assert!(pings >= 5, "only {pings} pings");
}

/// `write_timeout(1s)`: a client that writes without ever reading is closed once the server's
/// output to it has not moved for 1 s (between 1 s and 6 s after it began), for `WriteTimeout`,
/// and its writes then fail; another client is served throughout.
#[test]
fn write_timeout_closes_a_client_that_never_reads_only() {
    let closes = Closes::default();
    let watched = closes.clone();
    let running = start(
        config().write_timeout(Some(Duration::from_secs(1))),
        move |_| watched.raw(),
    );
    let addr = running.local_addr();
    let pinger = Pinger::start(addr);

    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let flooding = flood(
        connect(addr),
        1 << 30,
        Arc::clone(&stop),
        Arc::clone(&progress),
    );
    let closed = wait_until(Duration::from_secs(15), || {
        closes.count(&CloseReason::WriteTimeout) == 1
    });
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    assert!(
        closed,
        "not closed in 15 s; close reasons: {:?}",
        closes.all()
    );
    eprintln!(
        "non-reader closed after {elapsed:?}, having written {} bytes",
        progress.load(Ordering::Relaxed)
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(6),
        "closed after {elapsed:?}, expected 1 s after its output stopped moving"
    );
    // Closed with unread input: a reset, so the blocked writer fails instead of hanging.
    let written = flooding.join().expect("flooding thread");
    assert!(
        written.is_err(),
        "the flooder's writes should fail once it is closed"
    );

    assert_only_closed(
        &running,
        &closes,
        CloseReason::WriteTimeout,
        Duration::from_secs(5),
    );
    let pings = pinger.finish();
    assert!(pings >= 5, "only {pings} pings");
}

/// Up to 2,000 idle connections (half holding an unfinished frame), each with idle, frame and
/// write timeouts armed, cost their reactor thread less than 0.2 s of CPU over 2 s: timers wake
/// the reactor at deadlines only.
#[test]
fn idle_connections_with_timers_cost_no_cpu() {
    // Two descriptors per connection (client and server end) in this one process.
    let limit = open_file_limit().unwrap_or(1024);
    let count = (limit.saturating_sub(256) / 2).min(2000);
    assert!(
        count >= 100,
        "open-file limit {limit} too low for this test"
    );
    let reactors = Reactors::default();
    let noted = reactors.clone();
    let running = start(
        config()
            .reactors(1)
            .idle_timeout(Some(Duration::from_secs(60)))
            .frame_timeout(Some(Duration::from_secs(60)))
            .write_timeout(Some(Duration::from_secs(60))),
        move |_| {
            noted.note();
            Echo::lines()
        },
    );
    let addr = running.local_addr();
    let clients: Vec<TcpStream> = (0..count)
        .map(|i| {
            let mut client = connect(addr);
            if i % 2 == 0 {
                client.write_all(b"unfinished").unwrap();
            }
            client
        })
        .collect();
    let partial_bytes = count.div_ceil(2) as u64 * 10;
    assert!(
        wait_until(Duration::from_secs(20), || {
            let total = running.stats().total();
            total.open == count as u64 && total.bytes_in == partial_bytes
        }),
        "{:?}",
        running.stats().total()
    );
    assert_eq!(reactors.len(), 1);

    let before = reactors.cpu();
    std::thread::sleep(Duration::from_secs(2));
    let used = reactors.cpu() - before;
    eprintln!("{count} idle connections: reactor CPU {used:?} in 2 s");
    assert!(
        used < Duration::from_millis(200),
        "{count} idle connections cost the reactor {used:?} of CPU in 2 s"
    );
    assert_eq!(running.stats().total().open, count as u64);
    drop(clients);
}
