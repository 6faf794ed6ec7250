//! `PoolConfig`: how many workers, how deep the queue, at what priority.

use std::fmt;
use std::str::FromStr;

/// The scheduling priority of worker threads, relative to the reactors.
///
/// Lower priorities make the kernel give a core to a reactor with work before a worker: a pool
/// saturated with CPU-bound jobs then slows the jobs, not the event loops. Where the system
/// refuses a change (a sandbox without the permission, another OS), the workers run at normal
/// priority and a debug line says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerPriority {
    /// The same as the reactors.
    Normal,
    /// `SCHED_BATCH` and nice +10: the scheduler favours a waking reactor over a worker and
    /// gives it about ten times a worker's share of a contended core. Measured on 2 cores with
    /// the pool saturated, PING p99 on the reactor fell from about 4 ms (`Normal`) to 0.4 to
    /// 0.6 ms (`cargo bench --bench offload`, BENCHMARKS.md).
    Low,
    /// `SCHED_IDLE`: workers run only on cores nothing else wants.
    Idle,
}

impl FromStr for WorkerPriority {
    type Err = ();

    /// `normal`, `low` or `idle` (any case).
    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "normal" => Ok(WorkerPriority::Normal),
            "low" => Ok(WorkerPriority::Low),
            "idle" => Ok(WorkerPriority::Idle),
            _ => Err(()),
        }
    }
}

impl fmt::Display for WorkerPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkerPriority::Normal => "normal",
            WorkerPriority::Low => "low",
            WorkerPriority::Idle => "idle",
        })
    }
}

/// The shape of a [`WorkerPool`](crate::WorkerPool).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Worker threads (default: available cores).
    pub workers: usize,
    /// Jobs that may wait for a worker at once (default 1024); more are refused.
    pub queue: usize,
    /// Worker scheduling priority (default [`WorkerPriority::Low`]).
    pub priority: WorkerPriority,
    /// Thread name prefix; workers are `{name}-0`, `{name}-1`, ... (default `turbine-worker`).
    pub name: String,
}

impl PoolConfig {
    /// The defaults.
    pub fn new() -> Self {
        PoolConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 1024,
            priority: WorkerPriority::Low,
            name: "turbine-worker".to_string(),
        }
    }

    /// Sets the number of worker threads (at least 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets how many jobs may wait at once (at least 1).
    pub fn queue(mut self, n: usize) -> Self {
        self.queue = n;
        self
    }

    /// Sets the workers' scheduling priority.
    pub fn priority(mut self, priority: WorkerPriority) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the thread name prefix.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::new()
    }
}
