//! `PoolStats`: what a pool is doing, readable from any thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Jobs waiting for a worker now.
    pub queued: u64,
    /// Jobs running now.
    pub running: u64,
    /// Jobs that ran to the end (without panicking) since start.
    pub completed: u64,
    /// Jobs refused because the queue was full or the pool was shutting down.
    pub rejected: u64,
    /// Jobs that panicked (each caught; its worker lives on).
    pub panicked: u64,
    /// Jobs dropped unrun because the shutdown deadline passed.
    pub dropped: u64,
    /// Worker threads alive.
    pub workers: u64,
}

/// The live counters behind [`PoolStats`].
#[derive(Default)]
pub(crate) struct Counters {
    /// Jobs accepted and not yet taken by a worker; also the queue's occupancy for admission.
    pub(crate) queued: AtomicU64,
    pub(crate) running: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) panicked: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) workers: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> PoolStats {
        PoolStats {
            queued: self.queued.load(Relaxed),
            running: self.running.load(Relaxed),
            completed: self.completed.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            panicked: self.panicked.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            workers: self.workers.load(Relaxed),
        }
    }
}
