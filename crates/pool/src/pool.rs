//! `WorkerPool`: named threads running jobs from a bounded queue.

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::stats::Counters;
use crate::{PoolConfig, PoolStats, priority};

/// A job as the workers see it.
type Job = Box<dyn FnOnce() -> Ran + Send>;

/// How a job ended, as the worker counts it.
enum Ran {
    /// It returned.
    Completed,
    /// It ended and counted its own outcome (`submit_with` counts before it reports, so a
    /// waiter never reads stats that miss its job).
    Counted,
}

/// Why `admit` refused a job.
enum Refused {
    Full,
    Closed,
}

/// What the queue carries: a job, or a request for one worker to stop.
enum Task {
    /// Run this (unless the shutdown deadline has passed).
    Run(Job),
    /// Exit the worker loop. Sent once per worker by `shutdown`, behind every queued job.
    Stop,
}

/// A pool of worker threads for CPU-bound jobs.
///
/// - Submitting never blocks: past [`PoolConfig::queue`] waiting jobs, or once shutdown has
///   begun, the job is handed back inside the error.
/// - A panicking job is caught; its worker lives on; [`submit_with`](WorkerPool::submit_with)
///   reports it to whoever waits for the result.
/// - [`shutdown`](WorkerPool::shutdown) stops taking jobs, lets the workers finish the queued
///   ones until a deadline, drops the rest, and joins the threads. Dropping the pool does the
///   same with no deadline.
/// - Workers run at [`PoolConfig::priority`], lower than reactors by default.
pub struct WorkerPool {
    /// Where jobs go; unbounded because admission is counted in `counters.queued`.
    tx: Sender<Task>,
    /// State the workers share.
    shared: Arc<Shared>,
    /// Joined by `shutdown`.
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// The queue bound.
    capacity: u64,
    /// Worker count, for the stop requests.
    workers: usize,
}

/// What workers and the pool share.
struct Shared {
    /// Counters behind `PoolStats`.
    counters: Counters,
    /// Set when shutdown begins: submissions fail from then on.
    closed: AtomicBool,
    /// Jobs still queued after this instant are dropped, not run.
    deadline: Mutex<Option<Instant>>,
}

/// Why a job was not accepted; holds the job.
pub enum SubmitError<F> {
    /// The queue holds [`PoolConfig::queue`] jobs already: answer "busy", or retry later.
    Full(F),
    /// The pool is shutting down.
    Closed(F),
}

impl<F> SubmitError<F> {
    /// The job that was not accepted.
    pub fn into_inner(self) -> F {
        match self {
            SubmitError::Full(f) | SubmitError::Closed(f) => f,
        }
    }
}

impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::Full(_) => "Full(..)",
            SubmitError::Closed(_) => "Closed(..)",
        })
    }
}

impl<F> fmt::Display for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SubmitError::Full(_) => "worker queue full",
            SubmitError::Closed(_) => "worker pool shut down",
        })
    }
}

impl<F> std::error::Error for SubmitError<F> {}

/// Why a job submitted with [`WorkerPool::submit_with`](crate::WorkerPool::submit_with) (or
/// offloaded by a Turbine handler with `Context::offload`) produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError {
    /// The job panicked, with this message.
    Panicked(String),
    /// The job was dropped unrun: the pool shut down first.
    Cancelled,
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(msg) => write!(f, "job panicked: {msg}"),
            JobError::Cancelled => f.write_str("job cancelled by shutdown"),
        }
    }
}

impl std::error::Error for JobError {}

impl WorkerPool {
    /// Starts `config.workers` threads.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for zero workers or a zero queue; a thread that could not be spawned
    /// (those already started are stopped).
    pub fn new(config: PoolConfig) -> io::Result<WorkerPool> {
        if config.workers == 0 || config.queue == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a worker pool needs at least one worker and a queue of at least one job",
            ));
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        let pool = WorkerPool {
            tx,
            shared: Arc::new(Shared {
                counters: Counters::default(),
                closed: AtomicBool::new(false),
                deadline: Mutex::new(None),
            }),
            threads: Mutex::new(Vec::with_capacity(config.workers)),
            capacity: config.queue as u64,
            workers: config.workers,
        };
        for index in 0..config.workers {
            let rx = rx.clone();
            let shared = Arc::clone(&pool.shared);
            let priority = config.priority;
            let thread = std::thread::Builder::new()
                .name(format!("{}-{index}", config.name))
                .spawn(move || {
                    if let Err(why) = priority::apply(priority) {
                        log::debug!("worker {index}: priority {priority} refused ({why})");
                    }
                    work(&rx, &shared);
                })?; // on error `pool` drops here, which stops the started workers
            pool.shared.counters.workers.fetch_add(1, Ordering::Relaxed);
            lock(&pool.threads).push(thread);
        }
        Ok(pool)
    }

    /// Queues `job`; returns at once.
    ///
    /// A panic in `job` is caught and counted; the job's own code is responsible for reporting
    /// its outcome (or use [`submit_with`](WorkerPool::submit_with)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] when the queue is full, [`SubmitError::Closed`] after shutdown
    /// began; both hand the job back.
    pub fn submit<F>(&self, job: F) -> Result<(), SubmitError<F>>
    where
        F: FnOnce() + Send + 'static,
    {
        match self.admit() {
            Ok(()) => {
                self.enqueue(Box::new(move || {
                    job();
                    Ran::Completed
                }));
                Ok(())
            }
            Err(Refused::Full) => Err(SubmitError::Full(job)),
            Err(Refused::Closed) => Err(SubmitError::Closed(job)),
        }
    }

    /// Queues `job` and calls `report` with its result on the worker thread: `Ok(value)`,
    /// `Err(JobError::Panicked)` if it panicked, or `Err(JobError::Cancelled)` if the pool shut
    /// down before running it. `report` is called exactly once if the job is accepted, after
    /// the pool's stats count the job's outcome.
    ///
    /// # Errors
    ///
    /// As [`submit`](WorkerPool::submit), handing back `job` (and dropping `report` unrun).
    pub fn submit_with<T, F, R>(&self, job: F, report: R) -> Result<(), SubmitError<F>>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
        R: FnOnce(Result<T, JobError>) + Send + 'static,
    {
        match self.admit() {
            Ok(()) => {}
            Err(Refused::Full) => return Err(SubmitError::Full(job)),
            Err(Refused::Closed) => return Err(SubmitError::Closed(job)),
        }
        // `Reported` reports `Cancelled` if dropped unrun (the shutdown deadline passed).
        let mut reported = Reported {
            report: Some(Box::new(report)),
        };
        let shared = Arc::clone(&self.shared);
        self.enqueue(Box::new(move || {
            let result = catch_unwind(AssertUnwindSafe(job))
                .map_err(|panic| JobError::Panicked(panic_message(&*panic)));
            // Counted before the report, so a waiter never reads stats that miss its job.
            let counter = match result {
                Ok(_) => &shared.counters.completed,
                Err(_) => &shared.counters.panicked,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            reported.send(result);
            Ran::Counted
        }));
        Ok(())
    }

    /// Takes a place in the queue, or says why not.
    fn admit(&self) -> Result<(), Refused> {
        let counters = &self.shared.counters;
        if self.shared.closed.load(Ordering::Acquire) {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Closed);
        }
        // Admission by counter, so a refused job can be handed back as it was given (a bounded
        // channel would hand back the boxed job).
        if counters.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            counters.queued.fetch_sub(1, Ordering::AcqRel);
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        Ok(())
    }

    /// Sends an admitted job to the workers.
    fn enqueue(&self, job: Job) {
        // The receivers live as long as the workers, which outlive every `Stop` sent after
        // `closed` is set, so this send cannot fail.
        let _ = self.tx.send(Task::Run(job));
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        self.shared.counters.snapshot()
    }

    /// Stops taking jobs, runs the queued ones until `timeout` has passed, drops the rest, and
    /// joins the workers. A job running at the deadline is waited for (a thread cannot be
    /// interrupted). Calling it again does nothing.
    pub fn shutdown(&self, timeout: Duration) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // No deadline for a timeout too large to represent (as `Drop` asks).
        *lock(&self.shared.deadline) = Instant::now().checked_add(timeout);
        for _ in 0..self.workers {
            let _ = self.tx.send(Task::Stop);
        }
        for thread in lock(&self.threads).drain(..) {
            let _ = thread.join();
        }
        let stats = self.stats();
        if stats.dropped > 0 {
            log::info!("worker pool stopped; {} queued jobs dropped", stats.dropped);
        }
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.shutdown(Duration::MAX);
    }
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool")
            .field("stats", &self.stats())
            .finish()
    }
}

/// A worker: runs jobs until told to stop.
fn work(rx: &Receiver<Task>, shared: &Shared) {
    let counters = &shared.counters;
    for task in rx.iter() {
        let Task::Run(job) = task else {
            break;
        };
        counters.queued.fetch_sub(1, Ordering::AcqRel);
        let expired = lock(&shared.deadline).is_some_and(|deadline| Instant::now() >= deadline);
        if expired {
            counters.dropped.fetch_add(1, Ordering::Relaxed);
            drop(job); // a `submit_with` job reports `Cancelled` as it drops
            continue;
        }
        counters.running.fetch_add(1, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(job));
        counters.running.fetch_sub(1, Ordering::Relaxed);
        match outcome {
            Ok(Ran::Completed) => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Ran::Counted) => {}
            Err(_) => {
                counters.panicked.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    counters.workers.fetch_sub(1, Ordering::Relaxed);
}

/// Receives a job's outcome.
type Report<T> = Box<dyn FnOnce(Result<T, JobError>) + Send>;

/// Calls its report once: with the job's result, or with `Cancelled` if dropped first.
struct Reported<T> {
    /// `None` once called.
    report: Option<Report<T>>,
}

impl<T> Reported<T> {
    fn send(&mut self, result: Result<T, JobError>) {
        if let Some(report) = self.report.take() {
            report(result);
        }
    }
}

impl<T> Drop for Reported<T> {
    fn drop(&mut self) {
        self.send(Err(JobError::Cancelled));
    }
}

/// The message of a panic payload (`&str` or `String`), or a placeholder.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Locks a mutex that a panic cannot leave inconsistent (every critical section here is a
/// plain read or write), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
