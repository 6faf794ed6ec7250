//! Turbine's worker pool: CPU-bound jobs run here, off the reactors, so an event loop never
//! blocks.
//!
//! # Layout
//!
//! - [`WorkerPool`] (`pool.rs`): named threads taking jobs from a bounded queue; submitting never
//!   blocks (a full queue hands the job back); a panicking job is caught and reported.
//! - [`PoolConfig`] and [`WorkerPriority`] (`config.rs`): size, queue bound, thread priority.
//! - [`PoolStats`] (`stats.rs`): queued, running, completed, rejected, panicked.
//! - `priority.rs`: lowering a worker thread's scheduling priority, so reactors win a core.
//!
//! # Example
//!
//! ```
//! use std::sync::mpsc;
//! use turbine_pool::{PoolConfig, WorkerPool};
//!
//! let pool = WorkerPool::new(PoolConfig::new().workers(2).queue(8))?;
//! let (tx, rx) = mpsc::channel();
//! pool.submit_with(|| (1..=10u64).product::<u64>(), move |result| tx.send(result).unwrap())
//!     .map_err(|_| "queue full")
//!     .unwrap();
//! assert_eq!(rx.recv().unwrap(), Ok(3_628_800));
//! pool.shutdown(std::time::Duration::from_secs(1));
//! # Ok::<(), std::io::Error>(())
//! ```

mod config;
mod pool;
mod priority;
mod stats;

pub use config::{PoolConfig, WorkerPriority};
pub use pool::{JobError, SubmitError, WorkerPool};
pub use stats::PoolStats;
