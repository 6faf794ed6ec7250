//! `Upstreams`: the servers the proxy relays to, which one a new client gets, and the back-off
//! of those that fail.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// First wait before an upstream that failed is tried again.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before an upstream that keeps failing is tried again.
pub(crate) const LAST_BACKOFF: Duration = Duration::from_secs(30);
/// At most one warning about failing upstreams per this interval (the rest are counted).
const WARN_EVERY: Duration = Duration::from_secs(1);

/// One upstream server.
#[derive(Debug)]
struct Upstream {
    /// Where it listens.
    addr: SocketAddr,
    /// Connections to it from this process now (connecting or open).
    active: AtomicUsize,
    /// Its back-off after failures.
    backoff: Mutex<Backoff>,
}

/// When a failing upstream may be tried again, and the wait after its next failure.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    /// Not tried before this moment; `None` when it is in service.
    until: Option<Instant>,
    /// The wait after the next failure.
    next: Duration,
}

/// The upstreams, shared by every reactor: least connections first, failing ones skipped until
/// their back-off (1 s, doubling to 30 s) has passed.
#[derive(Debug)]
pub(crate) struct Upstreams {
    /// In the order `PROXY_UPSTREAMS` lists them.
    list: Vec<Upstream>,
    /// When the last warning was logged (ms since `epoch`), to rate-limit them.
    warned_at: AtomicU64,
    /// Warnings not logged since the last one.
    suppressed: AtomicU64,
    /// The origin of `warned_at`.
    epoch: Instant,
}

/// An upstream a client is relayed to: its index in the list and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice {
    /// Index in the list.
    pub(crate) index: usize,
    /// Address.
    pub(crate) addr: SocketAddr,
}

impl Upstreams {
    /// The upstreams at `addrs`, all in service.
    pub(crate) fn new(addrs: &[SocketAddr]) -> Self {
        let list = addrs
            .iter()
            .map(|&addr| Upstream {
                addr,
                active: AtomicUsize::new(0),
                backoff: Mutex::new(Backoff {
                    until: None,
                    next: FIRST_BACKOFF,
                }),
            })
            .collect();
        Upstreams {
            list,
            warned_at: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// The upstream for a client that has already tried those in `tried` (a bit per index):
    /// among those in service, the one with the fewest connections, ties in list order; `None`
    /// if none is left. The choice counts as a connection until [`release`](Self::release).
    pub(crate) fn choose(&self, tried: u64, now: Instant) -> Option<Choice> {
        let (index, upstream) = self
            .list
            .iter()
            .enumerate()
            .filter(|(i, u)| tried & (1 << i) == 0 && u.in_service(now))
            .min_by_key(|(_, u)| u.active.load(Ordering::Relaxed))?;
        upstream.active.fetch_add(1, Ordering::Relaxed);
        Some(Choice {
            index,
            addr: upstream.addr,
        })
    }

    /// A connection to upstream `index` closed.
    pub(crate) fn release(&self, index: usize) {
        self.list[index].active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Upstream `index` accepted a connection: it is in service again.
    pub(crate) fn succeeded(&self, index: usize) {
        let mut backoff = lock(&self.list[index].backoff);
        backoff.until = None;
        backoff.next = FIRST_BACKOFF;
    }

    /// A connect to upstream `index` failed: it is skipped until its back-off has passed, and
    /// the next back-off doubles. Connects that were under way when it went down fail within
    /// the back-off the first of them set: one outage, one step. Logs a warning, at most one
    /// per second.
    pub(crate) fn failed(&self, index: usize, error: &dyn std::fmt::Display, now: Instant) {
        let upstream = &self.list[index];
        let wait = {
            let mut backoff = lock(&upstream.backoff);
            match backoff.until.filter(|&until| until > now) {
                Some(until) => until - now,
                None => {
                    let wait = backoff.next;
                    backoff.until = Some(now + wait);
                    backoff.next = (wait * 2).min(LAST_BACKOFF);
                    wait
                }
            }
        };
        self.warn(format_args!(
            "upstream {} failed ({error}); retried in {wait:?}",
            upstream.addr
        ));
    }

    /// Logs a warning unless one was logged in the last second (then counts it).
    pub(crate) fn warn(&self, message: std::fmt::Arguments<'_>) {
        let now = self.epoch.elapsed().as_millis() as u64;
        let last = self.warned_at.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .warned_at
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
            if suppressed > 0 {
                log::warn!("{message} ({suppressed} more warnings in the last second)");
            } else {
                log::warn!("{message}");
            }
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Upstream {
    /// Whether it may be tried now.
    fn in_service(&self, now: Instant) -> bool {
        lock(&self.backoff).until.is_none_or(|until| until <= now)
    }
}

/// Locks `mutex`, whatever a panicking holder left: the back-off is two plain values.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
