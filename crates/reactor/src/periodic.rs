//! Periodic tasks: work a program runs on every reactor at a fixed interval.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A task run on each reactor thread, given the reactor's index.
pub(crate) type Task = Arc<dyn Fn(usize) + Send + Sync>;

/// One reactor's schedule of periodic tasks.
#[derive(Default)]
pub(crate) struct Periodic {
    /// Each task with its period and next due time.
    tasks: Vec<(Task, Duration, Instant)>,
}

impl Periodic {
    /// Schedules `tasks`, each first due one period from `now`.
    pub(crate) fn new(tasks: &[(Duration, Task)], now: Instant) -> Self {
        Periodic {
            tasks: tasks
                .iter()
                .map(|(period, task)| (Arc::clone(task), *period, now + *period))
                .collect(),
        }
    }

    /// When the next task is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.tasks.iter().map(|(_, _, due)| *due).min()
    }

    /// Runs every task that is due; a task late by more than a period skips the missed runs
    /// rather than running several times in a row. A panicking task is logged, and runs again
    /// at its next period: it never takes the reactor down.
    pub(crate) fn run_due(&mut self, now: Instant, reactor: usize) {
        for (task, period, due) in &mut self.tasks {
            if *due <= now {
                if catch_unwind(AssertUnwindSafe(|| task(reactor))).is_err() {
                    log::error!("reactor {reactor}: a periodic task panicked");
                }
                *due = (*due + *period).max(now);
            }
        }
    }
}
