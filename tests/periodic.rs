//! `Server::every`: periodic tasks run on every reactor thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use turbine::{Config, Context, Handler, RawCodec, Server};

/// A handler that does nothing; the test is about the reactors' own work.
struct Idle;

impl Handler for Idle {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _bytes: Vec<u8>) {}
}

/// A task scheduled every 10 ms runs repeatedly on each of two reactors, on its own thread,
/// with no connection to wake the loops.
#[test]
fn periodic_task_runs_on_every_reactor() {
    let runs: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let counted = Arc::clone(&runs);
    let config = Config::new()
        .addr("127.0.0.1:0".parse().unwrap())
        .reactors(2);
    let running = Server::bind(config)
        .unwrap()
        .every(Duration::from_millis(10), move |reactor| {
            let name = std::thread::current().name().map(str::to_string);
            assert_eq!(name, Some(format!("turbine-reactor-{reactor}")));
            counted[reactor].fetch_add(1, Ordering::Relaxed);
        })
        .start(|_| Idle)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs.iter().any(|r| r.load(Ordering::Relaxed) < 3) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    running.shutdown().unwrap();
    for (reactor, count) in runs.iter().enumerate() {
        assert!(
            count.load(Ordering::Relaxed) >= 3,
            "reactor {reactor} ran too few times"
        );
    }
}
