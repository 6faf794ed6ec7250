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
                // Next due on the original schedule, strictly after now: a late reactor skips
                // the runs it missed instead of catching up with a burst.
                let periods = now.duration_since(*due).as_nanos() / period.as_nanos() + 1;
                let skip = u64::try_from(period.as_nanos() * periods).unwrap_or(u64::MAX);
                *due += Duration::from_nanos(skip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A task 250 ms late at a 100 ms period runs once, then not again until 400 ms: missed
    /// runs are skipped, the schedule is kept.
    #[test]
    fn a_late_task_skips_missed_runs() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let task: Task = Arc::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut periodic = Periodic::new(&[(ms(100), task)], t0);
        periodic.run_due(t0 + ms(350), 0);
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        periodic.run_due(t0 + ms(351), 0);
        assert_eq!(
            runs.load(Ordering::Relaxed),
            1,
            "ran again right after a late run"
        );
        assert_eq!(periodic.next_due(), Some(t0 + ms(400)));
        periodic.run_due(t0 + ms(400), 0);
        assert_eq!(runs.load(Ordering::Relaxed), 2);
    }
}
