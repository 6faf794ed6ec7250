//! `churn` against real sockets: cycles counted against the server's accepts, every framing,
//! refused connects and corrupted echoes.

mod util;

use std::sync::atomic::Ordering;
use std::time::Duration;

use turbine_load::{ChurnReport, Framing, LoadConfig};
use util::{Echo, echo_server, echo_server_counting, refused_addr};

/// A churn run of `slots` slots on 2 threads, without warm-up.
fn churn_run(addr: std::net::SocketAddr, slots: usize, framing: Framing) -> ChurnReport {
    turbine_load::churn(&LoadConfig {
        addr,
        connections: slots,
        threads: 2,
        size: 32,
        duration: Duration::from_millis(300),
        warmup: Duration::ZERO,
        framing,
        server_pid: Some(std::process::id()),
        progress: false,
        ..LoadConfig::default()
    })
    .expect("churn")
}

/// Checks a churn run against a faithful echo: cycles completed, each timed, nothing failed.
fn assert_clean(report: &ChurnReport) {
    assert!(report.cycles >= 10, "{report}");
    assert_eq!(report.latency.count(), report.cycles);
    assert!(report.latency.percentile(50.0) > 0, "{report}");
    assert_eq!(
        (report.errors, report.mismatches, report.failed_connects),
        (0, 0, 0),
        "{report}"
    );
    assert_eq!(report.out_of_ports, 0);
    assert!(report.connections_per_sec() > 0.0);
    assert!(
        report.connections_per_server_cpu_sec().is_some(),
        "{report}"
    );
}

/// Four slots complete many connect-echo-close cycles with no errors, and every one counted
/// is a connection the server accepted: the server saw at most the cycles plus, per slot, one
/// cycle finished after the window and one under way.
#[test]
fn churn_counts_its_cycles() {
    let (addr, accepted) = echo_server_counting(Echo::Faithful);
    let report = churn_run(addr, 4, Framing::Raw);
    assert_clean(&report);
    let accepted = accepted.load(Ordering::Relaxed);
    assert!(report.cycles <= accepted, "accepted {accepted}\n{report}");
    assert!(
        accepted <= report.cycles + 2 * 4,
        "accepted {accepted}\n{report}"
    );
}

/// Lines and length-prefixed echoes are checked in churn cycles too.
#[test]
fn churn_in_every_framing() {
    std::thread::scope(|s| {
        for framing in [Framing::Lines, Framing::Length] {
            s.spawn(move || assert_clean(&churn_run(echo_server(Echo::Faithful), 2, framing)));
        }
    });
}

/// Refused connects are counted, and a slot waits before retrying rather than spinning:
/// two slots over 300 ms fail a few dozen times, not thousands.
#[test]
fn churn_counts_refused_connects() {
    let report = churn_run(refused_addr(), 2, Framing::Raw);
    assert_eq!(report.cycles, 0, "{report}");
    assert!((2..=200).contains(&report.failed_connects), "{report}");
    assert_eq!(report.out_of_ports, 0, "{report}");
}

/// A corrupting server makes every cycle a mismatch, still counted as a cycle.
#[test]
fn churn_catches_corruption() {
    let report = churn_run(echo_server(Echo::Corrupting), 2, Framing::Raw);
    assert!(report.cycles > 0, "{report}");
    assert!(report.mismatches >= report.cycles, "{report}");
    assert_eq!(report.errors, 0, "{report}");
}

/// A churn run refuses a depth: each cycle sends one message.
#[test]
fn churn_refuses_a_depth() {
    let e = turbine_load::churn(&LoadConfig {
        depth: 2,
        ..LoadConfig::default()
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("depth 2: a churn run"), "{e}");
}
