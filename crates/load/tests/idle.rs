//! An idle fixed-rate client thread sleeps. Alone in its test binary, so that the client
//! thread it measures by name (`turbine-load-0`) is the only one in the process.

mod util;

use std::time::Duration;

use turbine_load::{LoadConfig, RateConfig};
use util::{Echo, echo_server, thread_cpu};

/// A client thread with nothing due sleeps in `poll`: at 20 messages a second its CPU time
/// over 600 ms stays far below the 600 ms a spinning thread would use.
#[test]
fn idle_thread_sleeps() {
    let addr = echo_server(Echo::Faithful);
    let watcher = std::thread::spawn(|| {
        // The client thread exists from the connect phase on; sample it mid-run.
        std::thread::sleep(Duration::from_millis(200));
        let before = thread_cpu("turbine-load-0")?;
        std::thread::sleep(Duration::from_millis(600));
        Some(thread_cpu("turbine-load-0")? - before)
    });
    let report = turbine_load::run_at_rate(&RateConfig {
        load: LoadConfig {
            addr,
            connections: 1,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            progress: false,
            ..LoadConfig::default()
        },
        rate: 20,
        ..RateConfig::default()
    })
    .expect("run_at_rate");
    let used = watcher
        .join()
        .unwrap()
        .expect("the client thread's CPU time");
    assert!(used <= Duration::from_millis(60), "used {used:?}\n{report}");
    let behind = report.pacing.as_ref().map(|p| p.behind());
    assert_eq!(behind, Some(0), "{report}");
}
