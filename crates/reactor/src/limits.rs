//! Connection limits shared by all reactors: per-IP counts and the descriptor budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Rejection;

/// The connection caps of one server, shared by its reactors: connections open in all, and per
/// peer address.
#[derive(Debug)]
pub(crate) struct Limits {
    /// Connections open across all reactors.
    open: AtomicUsize,
    /// Most connections open at once (`max_connections`).
    max_open: usize,
    /// Most connections from one address (`max_connections_per_ip`); 0 is no limit.
    per_ip: usize,
    /// Open connections per address, kept only with a per-address limit.
    ip_counts: IpCounts,
}

impl Limits {
    pub(crate) fn new(max_open: usize, per_ip: usize) -> Self {
        Limits {
            open: AtomicUsize::new(0),
            max_open,
            per_ip,
            ip_counts: IpCounts::default(),
        }
    }

    /// Counts a new connection from `ip`, or says which cap refuses it.
    pub(crate) fn admit(&self, ip: IpAddr) -> Result<(), Rejection> {
        self.admit_slot()?;
        self.admit_address(ip).inspect_err(|_| self.release_slot())
    }

    /// Counts a connection in the total only: an outbound one (the per-address limit is for
    /// peers that connect to us), or an accepted one whose address a PROXY header will give.
    pub(crate) fn admit_slot(&self) -> Result<(), Rejection> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_open {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejection::MaxConnections);
        }
        Ok(())
    }

    /// Counts a connection holding a slot already against `ip`'s limit.
    pub(crate) fn admit_address(&self, ip: IpAddr) -> Result<(), Rejection> {
        if self.per_ip > 0 && !self.ip_counts.try_add(ip, self.per_ip) {
            return Err(Rejection::MaxConnectionsPerIp);
        }
        Ok(())
    }

    /// Releases what an accepted connection from `ip` held.
    pub(crate) fn release(&self, ip: IpAddr) {
        self.release_slot();
        self.release_address(ip);
    }

    /// Releases `ip`'s count taken with [`admit_address`](Self::admit_address).
    pub(crate) fn release_address(&self, ip: IpAddr) {
        if self.per_ip > 0 {
            self.ip_counts.remove(ip);
        }
    }

    /// Releases a slot taken with [`admit_slot`](Self::admit_slot).
    pub(crate) fn release_slot(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Descriptors a server needs besides its connections: per reactor an epoll instance, a waker,
/// a spare and a few listeners; plus room for logs, the pool and the program itself (Redis
/// keeps 32 in reserve).
pub(crate) fn reserved_descriptors(reactors: usize) -> usize {
    32 + 8 * reactors
}

/// The soft limit on open files of this process, from `/proc/self/limits` (no `unsafe`
/// `getrlimit` needed); `None` if unlimited or unreadable.
pub(crate) fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            20000                20000                files"
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open connections per peer IP address, across reactors.
#[derive(Debug, Default)]
struct IpCounts {
    /// Addresses with at least one open connection.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl IpCounts {
    /// Counts one more connection from `ip` unless `limit` are open already.
    fn try_add(&self, ip: IpAddr, limit: usize) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    /// Counts one connection from `ip` fewer.
    fn remove(&self, ip: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both caps refuse past their limit and free a slot on release.
    #[test]
    fn caps() {
        let limits = Limits::new(3, 2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(limits.admit(a), Ok(()));
        assert_eq!(limits.admit(a), Ok(()));
        assert_eq!(limits.admit(a), Err(Rejection::MaxConnectionsPerIp));
        assert_eq!(limits.admit(b), Ok(()));
        assert_eq!(limits.admit(b), Err(Rejection::MaxConnections));
        limits.release(a);
        assert_eq!(limits.admit(b), Ok(()));
    }

    /// Per-IP counts stop at the limit, per address, and free a slot on removal.
    #[test]
    fn per_ip_counts() {
        let counts = IpCounts::default();
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(counts.try_add(a, 2) && counts.try_add(a, 2));
        assert!(!counts.try_add(a, 2));
        assert!(counts.try_add(b, 2));
        counts.remove(a);
        assert!(counts.try_add(a, 2));
    }

    /// The open-file limit of the test process is readable.
    #[test]
    fn reads_the_open_file_limit() {
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }
}
