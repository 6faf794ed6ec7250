//! Offloading: CPU-bound jobs run on the worker pool; results come back to the connection that
//! asked, on its reactor, in the order it asked.
//!
//! Each [`Context::offload`](crate::Context::offload) call takes a slot at the back of the
//! connection's queue of pending jobs. A job's result travels back through the reactor's mailbox
//! and fills its slot; slots are completed front to back, so a fast job never overtakes a slow
//! one issued before it. Frames the handler sends while jobs are pending are held in the slot of
//! the latest job and written right after that job's own reply: a request/response protocol
//! answers in request order without any bookkeeping of its own.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use turbine_pool::{JobError, PoolConfig, PoolStats, WorkerPool};

use crate::{Context, Handler};

/// A job's result as it travels back: its value (of the type the job returned) or why not.
pub(crate) type Outcome = Result<Box<dyn Any + Send>, JobError>;

/// What runs on the reactor with a job's result.
pub(crate) type Done<H> = Box<dyn FnOnce(&mut H, &mut Context<'_, H>, Outcome)>;

/// One offloaded job of a connection, waiting for its turn.
pub(crate) struct Pending<H: Handler> {
    /// Position in the connection's sequence of jobs.
    pub(crate) seq: u64,
    /// The handler's continuation.
    pub(crate) done: Done<H>,
    /// The result, once it has arrived.
    pub(crate) outcome: Option<Outcome>,
    /// Encoded frames sent after this job was issued and before the next one: written after
    /// this job's reply.
    pub(crate) held: Vec<u8>,
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

/// Why [`Context::offload`](crate::Context::offload) did not take a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffloadError {
    /// The worker queue is full: answer "busy" (the reactor never waits for room).
    Busy,
    /// The worker pool is shutting down or could not start.
    Unavailable,
}

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffloadError::Busy => "worker queue full",
            OffloadError::Unavailable => "worker pool unavailable",
        })
    }
}

impl std::error::Error for OffloadError {}

/// Runs the continuations of the connection's jobs whose turn has come: front to back, while
/// the front one has its result. Each job's reply goes out first, then what was held behind it.
pub(crate) fn complete<H: Handler>(handler: &mut H, ctx: &mut Context<'_, H>) {
    while ctx.io.offloads.front().is_some_and(|p| p.outcome.is_some()) {
        let Some(Pending {
            done,
            outcome: Some(outcome),
            held,
            ..
        }) = ctx.io.offloads.pop_front()
        else {
            break;
        };
        ctx.stats.offloads -= 1;
        ctx.io.completing = true;
        done(handler, ctx, outcome);
        ctx.io.completing = false;
        ctx.io.held -= held.len();
        ctx.io.output.extend_from_slice(&held);
    }
}
