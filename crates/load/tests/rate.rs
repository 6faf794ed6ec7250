//! `run_at_rate` against real sockets: the rate kept, every framing, a stalling server's tail,
//! and messages that cannot go out. (`idle.rs` checks that an idle client thread sleeps.)

mod util;

use std::time::Duration;

use turbine_load::{Framing, LoadConfig, Pacing, RateConfig, Report};
use util::{Echo, echo_server, refused_addr};

/// A fixed-rate run of `rate` messages per second over 4 connections on 2 threads.
fn rate_run(addr: std::net::SocketAddr, rate: u64, framing: Framing, duration: Duration) -> Report {
    let config = RateConfig {
        load: LoadConfig {
            addr,
            connections: 4,
            threads: 2,
            size: 64,
            duration,
            warmup: Duration::from_millis(100),
            framing,
            server_pid: Some(std::process::id()),
            progress: false,
            ..LoadConfig::default()
        },
        rate,
        ..RateConfig::default()
    };
    turbine_load::run_at_rate(&config).expect("run_at_rate")
}

/// The pacing figures, which every fixed-rate report has.
fn pacing(report: &Report) -> &Pacing {
    report
        .pacing
        .as_ref()
        .expect("a fixed-rate report has pacing")
}

/// Checks a fixed-rate run against a prompt, faithful echo: about `rate` sent and answered
/// per second, nothing behind schedule, no errors.
fn assert_kept(report: &Report, rate: u64) {
    let p = pacing(report);
    assert_eq!(p.target, rate);
    let sent = report.sent_per_sec().expect("sent rate");
    let target = rate as f64;
    assert!((0.85 * target..=1.15 * target).contains(&sent), "{report}");
    let answered = report.messages_per_sec();
    assert!(
        (0.8 * target..=1.15 * target).contains(&answered),
        "{report}"
    );
    assert_eq!(p.behind(), 0, "{report}");
    assert_eq!(
        (report.errors, report.mismatches, report.failed_connects),
        (0, 0, 0)
    );
    assert_eq!(report.latency.count(), report.messages);
    assert_eq!(p.send_lag.count(), p.sent);
    assert!(report.server_cpu.is_some(), "{report}");
}

/// Against a prompt echo server, a 1 s run at 2000 messages/s sends and gets back about
/// 2000 a second, none late, with no errors.
#[test]
fn rate_is_kept() {
    let report = rate_run(
        echo_server(Echo::Faithful),
        2000,
        Framing::Raw,
        Duration::from_secs(1),
    );
    assert_kept(&report, 2000);
    // A prompt server on loopback answers well within the rate's 0.5 ms spacing, plus the
    // millisecond timer's lag; 50 ms leaves room for a busy test machine.
    assert!(report.latency.percentile(50.0) < 50_000_000, "{report}");
    assert!(
        report.to_string().contains("target 2000 msgs/s"),
        "{report}"
    );
}

/// Lines and length-prefixed messages keep the rate too, every reply checked.
#[test]
fn rate_in_every_framing() {
    std::thread::scope(|s| {
        for framing in [Framing::Lines, Framing::Length] {
            s.spawn(move || {
                let report = rate_run(
                    echo_server(Echo::Faithful),
                    1000,
                    framing,
                    Duration::from_millis(600),
                );
                assert_kept(&report, 1000);
            });
        }
    });
}

/// A server that stalls for 300 ms in the middle of the window shows the stall in the
/// fixed-rate p99, because latency counts from intended send times (no coordinated
/// omission); a closed-loop run against the same stall reports it only in its maximum.
#[test]
fn stall_shows_in_the_tail() {
    const STALL: Duration = Duration::from_millis(300);
    let stalling = || {
        echo_server(Echo::Stalling {
            after: Duration::from_millis(350),
            stall: STALL,
        })
    };
    let load = |addr| LoadConfig {
        addr,
        connections: 2,
        duration: Duration::from_secs(1),
        warmup: Duration::ZERO,
        progress: false,
        ..LoadConfig::default()
    };
    let (open, closed) = std::thread::scope(|s| {
        let open = s.spawn(|| {
            turbine_load::run_at_rate(&RateConfig {
                load: load(stalling()),
                rate: 1000,
                ..RateConfig::default()
            })
        });
        let closed = s.spawn(|| turbine_load::run(&load(stalling())));
        (open.join().unwrap(), closed.join().unwrap())
    });
    let (open, closed) = (open.expect("run_at_rate"), closed.expect("run"));
    let stall = STALL.as_nanos() as u64;
    // Messages due during the stall wait for its end: the one due as it began waits all of
    // it, the one due as it ended none, so over a 1 s window about 30 % of replies wait
    // 0-300 ms, evenly spread, and the 99th percentile is about 300 ms less 1 % of the
    // window (290 ms).
    // (The maximum reaches the full stall only if a message was due just as it began.)
    assert!(open.latency.max() >= stall * 9 / 10, "fixed rate:\n{open}");
    assert!(
        open.latency.percentile(99.0) >= stall * 8 / 10,
        "fixed rate:\n{open}"
    );
    assert!(
        open.latency.percentile(90.0) >= stall / 2,
        "fixed rate:\n{open}"
    );
    assert_eq!((open.errors, open.mismatches), (0, 0), "{open}");
    // Messages kept falling due during the stall and went out on time: the socket took
    // them, so none were late.
    assert_eq!(pacing(&open).behind(), 0, "{open}");
    // The closed loop had one message in flight per connection during the stall, and sent
    // nothing more: two slow replies among thousands.
    assert!(
        closed.latency.max() >= stall * 8 / 10,
        "closed loop:\n{closed}"
    );
    assert!(
        closed.latency.percentile(99.0) < stall / 3,
        "closed loop:\n{closed}"
    );
}

/// Messages held back by `max_outstanding` while the server stalls count their latency from
/// their intended send times, not from when they finally went out: the tail still shows the
/// stall, and the held messages are counted as backlogged.
#[test]
fn held_messages_count_from_their_intended_time() {
    const STALL: Duration = Duration::from_millis(300);
    let report = turbine_load::run_at_rate(&RateConfig {
        load: LoadConfig {
            addr: echo_server(Echo::Stalling {
                after: Duration::from_millis(350),
                stall: STALL,
            }),
            connections: 2,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            progress: false,
            ..LoadConfig::default()
        },
        rate: 1000,
        max_outstanding: 2,
    })
    .expect("run_at_rate");
    let p = pacing(&report);
    // All but the two in flight per connection waited out the stall in this process.
    assert!(p.backlogged >= 200, "{report}");
    assert_eq!((p.late, p.unsent), (0, 0), "{report}");
    assert!(
        p.send_lag.max() >= STALL.as_nanos() as u64 * 8 / 10,
        "{report}"
    );
    let stall = STALL.as_nanos() as u64;
    assert!(
        report.latency.percentile(99.0) >= stall * 8 / 10,
        "{report}"
    );
    assert_eq!((report.errors, report.mismatches), (0, 0), "{report}");
}

/// A server that never answers holds each connection at `max_outstanding`: later messages
/// are counted as backlogged and, at the end, unsent, instead of being silently skipped.
#[test]
fn backlog_is_counted() {
    let report = turbine_load::run_at_rate(&RateConfig {
        load: LoadConfig {
            addr: echo_server(Echo::Silent),
            connections: 2,
            duration: Duration::from_millis(300),
            warmup: Duration::ZERO,
            progress: false,
            ..LoadConfig::default()
        },
        rate: 1000,
        max_outstanding: 5,
    })
    .expect("run_at_rate");
    let p = pacing(&report);
    assert_eq!(report.messages, 0, "{report}");
    assert_eq!((p.sent, p.in_flight_at_end), (10, 10), "{report}");
    // About 300 messages came due; all but the 10 sent waited, and were still waiting.
    assert!((250..=310).contains(&p.backlogged), "{report}");
    assert_eq!(p.unsent, p.backlogged, "{report}");
    assert_eq!(p.late, 0, "{report}");
    assert!(
        report.to_string().contains("did not go out on schedule"),
        "{report}"
    );
}

/// Messages due to connections that could not connect are counted unsent: the report does
/// not quietly lower the target.
#[test]
fn failed_connections_leave_messages_unsent() {
    let report = turbine_load::run_at_rate(&RateConfig {
        load: LoadConfig {
            addr: refused_addr(),
            connections: 2,
            duration: Duration::from_millis(200),
            warmup: Duration::ZERO,
            progress: false,
            ..LoadConfig::default()
        },
        rate: 100,
        ..RateConfig::default()
    })
    .expect("run_at_rate");
    let p = pacing(&report);
    assert_eq!(report.failed_connects, 2, "{report}");
    assert_eq!(p.sent, 0, "{report}");
    // 100 a second for 200 ms: messages 0 to 19.
    assert_eq!(p.unsent, 20, "{report}");
}

/// Fixed-rate configurations out of bounds are refused before anything connects, a depth
/// among them.
#[test]
fn bad_rate_config_is_refused() {
    let bad = |config: RateConfig| turbine_load::run_at_rate(&config).unwrap_err();
    let base = RateConfig::default();
    let e = bad(RateConfig {
        load: LoadConfig {
            depth: 4,
            ..LoadConfig::default()
        },
        ..base.clone()
    });
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("depth 4"), "{e}");
    let e = bad(RateConfig {
        rate: 0,
        ..base.clone()
    });
    assert!(e.to_string().contains("rate 0"), "{e}");
    let e = bad(RateConfig {
        max_outstanding: 0,
        ..base
    });
    assert!(e.to_string().contains("max_outstanding 0"), "{e}");
}
