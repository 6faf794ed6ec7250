//! `run` against real sockets: in-test echo servers, every framing, and a corrupting server.

mod util;

use std::time::Duration;

use turbine_load::{Framing, LoadConfig, Report};
use util::{Echo, echo_server};

/// A short run: 4 connections, depth 4, 100 ms warm-up and 300 ms measured.
fn short_run(echo: Echo, framing: Framing, size: usize) -> Report {
    let config = LoadConfig {
        addr: echo_server(echo),
        connections: 4,
        threads: 2,
        size,
        depth: 4,
        duration: Duration::from_millis(300),
        warmup: Duration::from_millis(100),
        framing,
        server_pid: Some(std::process::id()),
        progress: false,
        tls: None,
    };
    turbine_load::run(&config).expect("run")
}

/// Checks a run against a faithful echo: messages flowed, all intact, no errors.
fn assert_clean(report: &Report) {
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.mismatches, 0, "{report}");
    assert_eq!(report.errors, 0, "{report}");
    assert_eq!(report.failed_connects, 0, "{report}");
    assert_eq!(report.latency.count(), report.messages);
    assert_eq!(report.elapsed, Duration::from_millis(300));
    assert!(report.latency.percentile(50.0) > 0);
    assert!(report.server_cpu.is_some(), "{report}");
}

/// Raw messages come back intact and are counted, with latencies and byte totals.
#[test]
fn raw_echo_is_clean() {
    let report = short_run(Echo::Faithful, Framing::Raw, 64);
    assert_clean(&report);
    assert_eq!(report.bytes, report.messages * 64);
}

/// Lines come back intact, including the shortest line possible.
#[test]
fn lines_echo_is_clean() {
    assert_clean(&short_run(Echo::Faithful, Framing::Lines, 100));
    assert_clean(&short_run(Echo::Faithful, Framing::Lines, 2));
}

/// Length-prefixed messages come back intact, including ones larger than a server read.
#[test]
fn length_echo_is_clean() {
    assert_clean(&short_run(Echo::Faithful, Framing::Length, 64));
    assert_clean(&short_run(Echo::Faithful, Framing::Length, 40_000));
}

/// A server that flips one bit per read is caught: replies are checked byte for byte.
#[test]
fn corrupting_echo_is_caught() {
    let report = short_run(Echo::Corrupting, Framing::Raw, 64);
    assert!(report.messages > 0, "{report}");
    assert!(report.mismatches > 0, "{report}");
    assert_eq!(report.errors, 0, "{report}");
}

/// Connecting to a port nobody listens on counts failed connects instead of failing the run.
#[test]
fn refused_connects_are_counted() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = turbine_load::run(&LoadConfig {
        addr,
        connections: 3,
        duration: Duration::from_millis(50),
        warmup: Duration::ZERO,
        progress: false,
        ..LoadConfig::default()
    })
    .expect("run");
    assert_eq!(report.failed_connects, 3);
    assert_eq!(report.messages, 0);
}

/// Configurations out of bounds are refused before anything connects.
#[test]
fn bad_config_is_refused() {
    let bad = |config: LoadConfig| turbine_load::run(&config).unwrap_err().kind();
    let base = LoadConfig::default();
    let invalid = std::io::ErrorKind::InvalidInput;
    assert_eq!(
        bad(LoadConfig {
            depth: 0,
            ..base.clone()
        }),
        invalid
    );
    assert_eq!(
        bad(LoadConfig {
            connections: 0,
            ..base.clone()
        }),
        invalid
    );
    assert_eq!(
        bad(LoadConfig {
            framing: Framing::Length,
            size: 4,
            ..base.clone()
        }),
        invalid
    );
    assert_eq!(
        bad(LoadConfig {
            duration: Duration::ZERO,
            ..base
        }),
        invalid
    );
}
