//! `Settings`: the fixed workload and what the environment may change.

use std::time::Duration;

/// Connections the load generator opens per run.
const CONNECTIONS: usize = 100;

/// Bytes per message, framing included.
const SIZE: usize = 64;

/// Warm-up before each measured window.
const WARMUP: Duration = Duration::from_secs(1);

/// Default measured window (`COMPARE_SECS`).
const SECS: f64 = 3.0;

/// Default number of rounds (`COMPARE_ROUNDS`).
const ROUNDS: usize = 3;

/// Length of each load run under a system call counter, which has no warm-up.
const COUNT_WINDOW: Duration = Duration::from_secs(2);

/// How every comparison run is set up.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// Times every scenario and peer is measured (`COMPARE_ROUNDS`, default 3).
    pub rounds: usize,
    /// Measured window of each run (`COMPARE_SECS`, default 3 s).
    pub duration: Duration,
    /// Warm-up before each window: connections open, messages flow, nothing counted.
    pub warmup: Duration,
    /// Connections per run.
    pub connections: usize,
    /// Bytes per message.
    pub size: usize,
    /// Window of each run under a system call counter (`perf stat`, `strace`).
    pub count_window: Duration,
    /// The core each server child pins itself to; `None` on a machine with one core.
    pub server_core: Option<usize>,
    /// The core the load generator (this process) pins itself to; `None` with one core.
    pub load_core: Option<usize>,
}

impl Settings {
    /// The defaults, with `COMPARE_SECS` and `COMPARE_ROUNDS` applied; pinning when the
    /// machine has at least two cores.
    ///
    /// # Errors
    ///
    /// A variable is set to something other than a positive number (of seconds for
    /// `COMPARE_SECS`, a whole number for `COMPARE_ROUNDS`); the message names it.
    pub(crate) fn from_env() -> Result<Settings, String> {
        let secs = match std::env::var("COMPARE_SECS") {
            Ok(value) => value
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 3600.0)
                .ok_or_else(|| {
                    format!("COMPARE_SECS={value:?}: expected seconds, more than 0, e.g. 3 or 0.5")
                })?,
            Err(_) => SECS,
        };
        let rounds = match std::env::var("COMPARE_ROUNDS") {
            Ok(value) => value
                .parse::<usize>()
                .ok()
                .filter(|r| (1..=100).contains(r))
                .ok_or_else(|| format!("COMPARE_ROUNDS={value:?}: expected 1 to 100"))?,
            Err(_) => ROUNDS,
        };
        let cores = core_affinity::get_core_ids().map_or(0, |ids| ids.len());
        let pinned = cores >= 2;
        Ok(Settings {
            rounds,
            duration: Duration::from_secs_f64(secs),
            warmup: WARMUP,
            connections: CONNECTIONS,
            size: SIZE,
            count_window: COUNT_WINDOW,
            server_core: pinned.then_some(0),
            load_core: pinned.then_some(1),
        })
    }

    /// The command that reproduces this run, with the variables that were set.
    pub(crate) fn command(&self, mode: &str) -> String {
        let mut command = String::new();
        for var in ["COMPARE_SECS", "COMPARE_ROUNDS"] {
            if let Ok(value) = std::env::var(var) {
                command.push_str(&format!("{var}={value} "));
            }
        }
        command.push_str("cargo bench --bench compare");
        if !mode.is_empty() {
            command.push_str(" -- ");
            command.push_str(mode);
        }
        command
    }
}
