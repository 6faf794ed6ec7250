//! Every mode over TLS against an in-test rustls echo server (`util/tls.rs`): echoes checked
//! byte for byte, full handshakes counted, sessions held, and handshakes that must fail
//! reported rather than panicking or hanging.

mod util;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rustls::{HandshakeKind, ProtocolVersion};
use turbine_load::{Framing, HoldConfig, LoadConfig, RateConfig, Report, TlsConfig, TlsVersion};
use util::tls::{Options, TlsServer};

/// A short closed-loop run over TLS: 4 connections on 2 threads, depth 4.
fn tls_run(addr: SocketAddr, tls: TlsConfig, framing: Framing, size: usize) -> Report {
    turbine_load::run(&LoadConfig {
        addr,
        connections: 4,
        threads: 2,
        size,
        depth: 4,
        duration: Duration::from_millis(250),
        warmup: Duration::from_millis(50),
        framing,
        progress: false,
        tls: Some(tls),
        ..LoadConfig::default()
    })
    .expect("run")
}

/// A churn run of 2 slots on 2 threads over TLS, without warm-up.
fn tls_churn(addr: SocketAddr, tls: TlsConfig) -> turbine_load::ChurnReport {
    turbine_load::churn(&LoadConfig {
        addr,
        connections: 2,
        threads: 2,
        size: 32,
        duration: Duration::from_millis(300),
        warmup: Duration::ZERO,
        server_pid: Some(std::process::id()),
        progress: false,
        tls: Some(tls),
        ..LoadConfig::default()
    })
    .expect("churn")
}

/// Checks a run against a faithful echo: messages flowed, every byte intact, no failures.
fn assert_clean(report: &Report, size: usize) {
    assert!(report.messages > 0, "{report}");
    assert_eq!(report.bytes, report.messages * size as u64, "{report}");
    assert_eq!(
        (report.errors, report.mismatches, report.failed_connects),
        (0, 0, 0),
        "{report}"
    );
    assert_eq!(report.failed_handshakes, 0, "{report}");
    assert_eq!(report.latency.count(), report.messages);
}

/// Closed-loop echo over TLS 1.3 comes back intact, byte for byte, in raw and length
/// framing, including messages larger than a TLS record (16 KiB); every connection
/// completed a full TLS 1.3 handshake first.
#[test]
fn closed_loop_over_tls() {
    let server = TlsServer::start(Options::default());
    for (framing, size) in [(Framing::Raw, 64), (Framing::Length, 40_000)] {
        let report = tls_run(server.addr, server.client(), framing, size);
        assert_clean(&report, size);
        assert_eq!(report.tls, Some(TlsVersion::Tls13));
        assert!(
            report.to_string().contains("of which TLS handshakes 0"),
            "{report}"
        );
    }
    let handshakes = server.handshakes();
    assert_eq!(handshakes.len(), 8, "{handshakes:?}");
    for h in &handshakes {
        assert_eq!(h.version, Some(ProtocolVersion::TLSv1_3));
        assert_eq!(h.kind, Some(HandshakeKind::Full));
        assert_eq!(h.alpn, None);
    }
}

/// A server that flips a plaintext bit is caught: the decrypted replies are checked.
#[test]
fn corruption_is_caught_over_tls() {
    let server = TlsServer::start(Options {
        corrupting: true,
        ..Options::default()
    });
    let report = tls_run(server.addr, server.client(), Framing::Raw, 64);
    assert!(report.messages > 0, "{report}");
    assert!(report.mismatches > 0, "{report}");
    assert_eq!((report.errors, report.failed_connects), (0, 0), "{report}");
}

/// A fixed-rate run over TLS keeps its rate, with every reply intact.
#[test]
fn fixed_rate_over_tls() {
    let server = TlsServer::start(Options::default());
    let report = turbine_load::run_at_rate(&RateConfig {
        load: LoadConfig {
            addr: server.addr,
            connections: 4,
            threads: 2,
            duration: Duration::from_millis(500),
            warmup: Duration::from_millis(50),
            framing: Framing::Lines,
            progress: false,
            tls: Some(server.client()),
            ..LoadConfig::default()
        },
        rate: 1000,
        ..RateConfig::default()
    })
    .expect("run_at_rate");
    assert_clean(&report, 64);
    let sent = report.sent_per_sec().expect("a fixed-rate report");
    assert!((850.0..=1150.0).contains(&sent), "{report}");
    assert_eq!(
        report.pacing.as_ref().map(|p| p.behind()),
        Some(0),
        "{report}"
    );
}

/// Churn over TLS makes a full handshake every cycle and counts them: the server completed
/// at least as many handshakes as cycles counted (at most, per slot, one more finished after
/// the window and one under way), none resumed; the report speaks of handshakes per second
/// and per server CPU-second.
#[test]
fn churn_counts_full_handshakes() {
    let server = TlsServer::start(Options::default());
    let report = tls_churn(server.addr, server.client());
    assert!(report.cycles >= 5, "{report}");
    assert_eq!(report.latency.count(), report.cycles);
    assert_eq!(
        (report.errors, report.mismatches, report.failed_connects),
        (0, 0, 0),
        "{report}"
    );
    let handshakes = server.handshakes();
    let done = handshakes.len() as u64;
    assert!(report.cycles <= done, "server handshakes {done}\n{report}");
    assert!(
        done <= report.cycles + 2 * 2,
        "server handshakes {done}\n{report}"
    );
    assert!(
        handshakes
            .iter()
            .all(|h| h.kind == Some(HandshakeKind::Full)),
        "{handshakes:?}"
    );
    let text = report.to_string();
    assert!(
        text.contains("handshakes/s: connect, TLS 1.3 handshake, echo, close"),
        "{text}"
    );
    assert!(
        report.connections_per_server_cpu_sec().is_some(),
        "{report}"
    );
    assert!(text.contains("handshakes per CPU-second"), "{text}");
}

/// Hold over TLS holds twenty sessions, each handshake complete at the server, and every
/// one still echoes afterwards.
#[test]
fn hold_completes_handshakes() {
    let server = TlsServer::start(Options::default());
    let report = turbine_load::hold(&HoldConfig {
        addr: server.addr,
        connections: 20,
        server_pid: Some(std::process::id()),
        size: 32,
        framing: Framing::Raw,
        tls: Some(server.client()),
    })
    .expect("hold");
    assert_eq!(report.connections, 20, "{report}");
    assert_eq!(
        (report.failed_connects, report.failed_handshakes),
        (0, 0),
        "{report}"
    );
    assert_eq!(report.echoed_ok, 20, "{report}");
    assert!(report.rss_growth_per_connection().is_some(), "{report}");
    assert!(
        report.to_string().contains("TLS 1.3 handshakes complete"),
        "{report}"
    );
    assert_eq!(server.handshakes().len(), 20);
}

/// A server name the certificate does not cover fails every handshake, in every mode: each
/// is counted as a failed connect and a failed handshake, promptly, and nothing panics or
/// hangs.
#[test]
fn wrong_server_name_fails_handshakes() {
    let server = TlsServer::start(Options::default());
    let wrong = TlsConfig {
        server_name: "wrong.example".into(),
        ..server.client()
    };
    let began = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            let report = turbine_load::run(&LoadConfig {
                addr: server.addr,
                connections: 3,
                duration: Duration::from_millis(100),
                warmup: Duration::ZERO,
                progress: false,
                tls: Some(wrong.clone()),
                ..LoadConfig::default()
            })
            .expect("run");
            assert_eq!(
                (report.failed_connects, report.failed_handshakes),
                (3, 3),
                "{report}"
            );
            assert_eq!((report.messages, report.errors), (0, 0), "{report}");
        });
        s.spawn(|| {
            let report = tls_churn(server.addr, wrong.clone());
            assert_eq!(report.cycles, 0, "{report}");
            // Each slot rests 10 ms after a failure: a few dozen, not thousands.
            assert!((2..=200).contains(&report.failed_handshakes), "{report}");
            assert_eq!(report.failed_connects, report.failed_handshakes);
            assert!(report.to_string().contains("TLS handshakes"), "{report}");
        });
        s.spawn(|| {
            let report = turbine_load::hold(&HoldConfig {
                addr: server.addr,
                connections: 3,
                server_pid: None,
                size: 16,
                framing: Framing::Raw,
                tls: Some(wrong.clone()),
            })
            .expect("hold");
            assert_eq!(report.connections, 0, "{report}");
            assert_eq!(report.failed_handshakes, 3, "{report}");
        });
    });
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert!(server.handshakes().is_empty());
}

/// TLS 1.2 works when the server allows it: closed-loop echo and churn negotiate it, with
/// full handshakes. A server that allows TLS 1.3 only fails a TLS 1.2 client's handshakes.
#[test]
fn tls12_when_the_server_allows_it() {
    let server = TlsServer::start(Options {
        versions: rustls::ALL_VERSIONS,
        ..Options::default()
    });
    let tls12 = TlsConfig {
        version: TlsVersion::Tls12,
        ..server.client()
    };
    let report = tls_run(server.addr, tls12.clone(), Framing::Lines, 100);
    assert_clean(&report, 100);
    let churned = tls_churn(server.addr, tls12.clone());
    assert!(churned.cycles > 0, "{churned}");
    assert_eq!(churned.failed_connects, 0, "{churned}");
    assert!(
        churned.to_string().contains("TLS 1.2 handshake"),
        "{churned}"
    );
    let handshakes = server.handshakes();
    assert!(handshakes.len() >= 5, "{handshakes:?}");
    for h in &handshakes {
        assert_eq!(h.version, Some(ProtocolVersion::TLSv1_2));
        assert_eq!(h.kind, Some(HandshakeKind::Full));
    }

    let only13 = TlsServer::start(Options::default());
    let refused = turbine_load::run(&LoadConfig {
        addr: only13.addr,
        connections: 2,
        duration: Duration::from_millis(50),
        warmup: Duration::ZERO,
        progress: false,
        tls: Some(TlsConfig {
            version: TlsVersion::Tls12,
            ..only13.client()
        }),
        ..LoadConfig::default()
    })
    .expect("run");
    assert_eq!(refused.failed_handshakes, 2, "{refused}");
}

/// The ALPN protocol given is offered, and the server can pick it; one the server does not
/// know makes it refuse the handshake.
#[test]
fn alpn_is_offered() {
    let server = TlsServer::start(Options {
        alpn: vec![b"turbine-echo".to_vec()],
        ..Options::default()
    });
    let offer = |alpn: &str| {
        turbine_load::run(&LoadConfig {
            addr: server.addr,
            connections: 1,
            duration: Duration::from_millis(50),
            warmup: Duration::ZERO,
            progress: false,
            tls: Some(TlsConfig {
                alpn: Some(alpn.into()),
                ..server.client()
            }),
            ..LoadConfig::default()
        })
        .expect("run")
    };
    let report = offer("turbine-echo");
    assert_clean(&report, 64);
    let handshakes = server.handshakes();
    assert_eq!(handshakes.len(), 1);
    assert_eq!(handshakes[0].alpn.as_deref(), Some(&b"turbine-echo"[..]));
    let refused = offer("h2");
    assert_eq!(refused.failed_handshakes, 1, "{refused}");
}

/// A certificate file that cannot be read stops the run before anything connects.
#[test]
fn missing_ca_file_is_an_error() {
    let e = turbine_load::churn(&LoadConfig {
        tls: Some(TlsConfig::new("/nonexistent/turbine-load/ca.pem")),
        ..LoadConfig::default()
    })
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert!(
        e.to_string().contains("/nonexistent/turbine-load/ca.pem"),
        "{e}"
    );
}
