//! `hold` against an in-test echo server.

mod util;

use turbine_load::{Framing, HoldConfig};
use util::{Echo, echo_server};

/// Twenty connections are held at once and each echoes its message intact, in every framing;
/// the server's memory is read before and after.
#[test]
fn hold_twenty() {
    // In parallel: each hold waits 500 ms for the server to settle.
    std::thread::scope(|s| {
        for framing in [Framing::Raw, Framing::Lines, Framing::Length] {
            s.spawn(move || {
                let report = turbine_load::hold(&HoldConfig {
                    addr: echo_server(Echo::Faithful),
                    connections: 20,
                    server_pid: Some(std::process::id()),
                    size: 32,
                    framing,
                    tls: None,
                })
                .expect("hold");
                assert_eq!(report.connections, 20, "{report}");
                assert_eq!(report.echoed_ok, 20, "{framing}: {report}");
                assert_eq!(
                    (report.failed_connects, report.mismatches, report.errors),
                    (0, 0, 0)
                );
                assert!(report.rss_growth_per_connection().is_some(), "{report}");
            });
        }
    });
}

/// A corrupting server makes every echo a mismatch.
#[test]
fn hold_sees_corruption() {
    let report = turbine_load::hold(&HoldConfig {
        addr: echo_server(Echo::Corrupting),
        connections: 5,
        server_pid: None,
        size: 16,
        framing: Framing::Raw,
        tls: None,
    })
    .expect("hold");
    assert_eq!((report.echoed_ok, report.mismatches), (0, 5), "{report}");
}
