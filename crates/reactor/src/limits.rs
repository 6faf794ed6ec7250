//! Connection limits shared by all reactors: per-IP counts and the descriptor budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Descriptors a server needs besides its connections: per reactor a listener, an epoll
/// instance, a waker and a spare; plus room for logs, the pool and the program itself (Redis
/// keeps 32 in reserve).
pub(crate) fn reserved_descriptors(reactors: usize) -> usize {
    32 + 4 * reactors
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
#[derive(Default)]
pub(crate) struct IpCounts {
    /// Addresses with at least one open connection.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl IpCounts {
    /// Counts one more connection from `ip` unless `limit` are open already.
    pub(crate) fn try_add(&self, ip: IpAddr, limit: usize) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    /// Counts one connection from `ip` fewer.
    pub(crate) fn remove(&self, ip: IpAddr) {
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
