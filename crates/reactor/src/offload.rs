//! Offloading: CPU-bound jobs run on the worker pool; results come back to the connection that
//! asked, on its reactor, in the order it asked.
//!
//! Each [`Context::offload`](crate::Context::offload) call takes a slot at the back of the
//! connection's queue of pending jobs ([`Offloads`]). A job's result travels back through the
//! reactor's mailbox and fills its slot; slots are completed front to back, so a fast job never
//! overtakes a slow one issued before it. Frames the handler sends while jobs are pending are
//! held in the slot of the latest job and written right after that job's own reply: a
//! request/response protocol answers in request order without any bookkeeping of its own.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use turbine_pool::{JobError, PoolConfig, PoolStats, WorkerPool};

use crate::output::Output;
use crate::{Context, Handler};

/// A job's result as it travels back: its value (of the type the job returned) or why not.
pub(crate) type Outcome = Result<Box<dyn Any + Send>, JobError>;

/// What runs on the reactor with a job's result.
pub(crate) type Done<H> = Box<dyn FnOnce(&mut H, &mut Context<'_, H>, Outcome)>;

/// One offloaded job of a connection, waiting for its turn.
struct Pending<H: Handler> {
    /// Position in the connection's sequence of jobs.
    seq: u64,
    /// The handler's continuation.
    done: Done<H>,
    /// The result, once it has arrived.
    outcome: Option<Outcome>,
    /// Frames sent after this job was issued and before the next one: written after this
    /// job's reply.
    held: Output,
}

/// A job whose turn has come: its continuation, its result, and the frames held behind it.
pub(crate) struct Ready<H: Handler> {
    /// The handler's continuation.
    pub(crate) done: Done<H>,
    /// The job's result.
    pub(crate) outcome: Outcome,
    /// Frames to write after the continuation's own.
    pub(crate) held: Output,
}

/// A connection's offloaded jobs not yet answered, in the order they were issued.
pub(crate) struct Offloads<H: Handler> {
    /// Pending jobs, oldest first.
    pending: VecDeque<Pending<H>>,
    /// Sequence number of the next job.
    next_seq: u64,
    /// Bytes held behind pending jobs, over all of them.
    held: usize,
}

impl<H: Handler> Default for Offloads<H> {
    fn default() -> Self {
        Offloads {
            pending: VecDeque::new(),
            next_seq: 0,
            held: 0,
        }
    }
}

impl<H: Handler> Offloads<H> {
    /// Jobs not yet answered.
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no job is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Bytes held behind pending jobs.
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    /// The sequence number the next job will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Queues the continuation of the job just submitted with [`next_seq`](Self::next_seq).
    pub(crate) fn push(&mut self, done: Done<H>) {
        self.pending.push_back(Pending {
            seq: self.next_seq,
            done,
            outcome: None,
            held: Output::default(),
        });
        self.next_seq += 1;
    }

    /// Runs `encode` on the held frames of the latest job if one is pending, so the frame is
    /// written after that job's reply; on `output` if none is.
    pub(crate) fn hold_or<R>(
        &mut self,
        output: &mut Output,
        encode: impl FnOnce(&mut Output) -> R,
    ) -> R {
        let Some(latest) = self.pending.back_mut() else {
            return encode(output);
        };
        let before = latest.held.len();
        let result = encode(&mut latest.held);
        self.held += latest.held.len() - before;
        result
    }

    /// Files the result of job `seq`; `false` if no such job is pending (it belonged to an
    /// earlier life of the connection, or was dropped by `close_now`).
    pub(crate) fn fill(&mut self, seq: u64, outcome: Outcome) -> bool {
        let Some(front) = self.pending.front() else {
            return false;
        };
        let Some(index) = seq.checked_sub(front.seq) else {
            return false;
        };
        match self.pending.get_mut(index as usize) {
            Some(pending) => {
                pending.outcome = Some(outcome);
                true
            }
            None => false,
        }
    }

    /// The front job, if its result is in.
    pub(crate) fn pop_ready(&mut self) -> Option<Ready<H>> {
        // Only the front job, and only once its result is in.
        self.pending.front()?.outcome.as_ref()?;
        let Pending {
            done,
            outcome,
            held,
            ..
        } = self.pending.pop_front()?;
        self.held -= held.len();
        Some(Ready {
            done,
            outcome: outcome?,
            held,
        })
    }

    /// Forgets every pending job (their results will be dropped on arrival); returns how many.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.pending.len();
        self.pending.clear();
        self.held = 0;
        n
    }
}

/// The server's worker pool, started on the first offload so servers that never offload run no
/// worker threads.
pub(crate) struct PoolCell {
    /// How to build it.
    config: PoolConfig,
    /// `Some(None)` if it could not start (logged once).
    pool: OnceLock<Option<WorkerPool>>,
}

impl PoolCell {
    pub(crate) fn new(config: PoolConfig) -> Arc<Self> {
        Arc::new(PoolCell {
            config,
            pool: OnceLock::new(),
        })
    }

    /// The pool, started now if this is the first use.
    pub(crate) fn get(&self) -> Option<&WorkerPool> {
        self.pool
            .get_or_init(|| match WorkerPool::new(self.config.clone()) {
                Ok(pool) => {
                    log::info!(
                        "worker pool started: {} workers, queue {}, priority {}",
                        self.config.workers,
                        self.config.queue,
                        self.config.priority
                    );
                    Some(pool)
                }
                Err(e) => {
                    log::error!("cannot start the worker pool: {e}");
                    None
                }
            })
            .as_ref()
    }

    /// The pool's counters, if it was started.
    pub(crate) fn stats(&self) -> Option<PoolStats> {
        self.pool.get()?.as_ref().map(WorkerPool::stats)
    }

    /// Shuts the pool down if it was started.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        if let Some(Some(pool)) = self.pool.get() {
            pool.shutdown(timeout);
        }
    }
}

impl fmt::Debug for PoolCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolCell")
            .field("started", &self.pool.get().is_some())
            .finish()
    }
}

/// Why [`Context::offload`](crate::Context::offload) did not take a job; holds the job, so the
/// caller can run it itself, retry later or drop it.
#[non_exhaustive]
pub enum OffloadError<J> {
    /// The worker queue is full: answer "busy" (the reactor never waits for room).
    Busy(J),
    /// The worker pool is shutting down or could not start.
    Unavailable(J),
}

impl<J> OffloadError<J> {
    /// The job that was not taken.
    pub fn into_job(self) -> J {
        match self {
            OffloadError::Busy(job) | OffloadError::Unavailable(job) => job,
        }
    }
}

impl<J> fmt::Debug for OffloadError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffloadError::Busy(_) => "Busy(..)",
            OffloadError::Unavailable(_) => "Unavailable(..)",
        })
    }
}

impl<J> fmt::Display for OffloadError<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffloadError::Busy(_) => "worker queue full",
            OffloadError::Unavailable(_) => "worker pool unavailable",
        })
    }
}

impl<J> std::error::Error for OffloadError<J> {}
