//! The file server's configuration: Turbine's `TURBINE_*` variables and `HTTP_ROOT`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use turbine::{Config, ConfigError, WorkerPriority};

/// Where the server listens unless `TURBINE_ADDR` says otherwise.
pub(crate) const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The server's configuration and the directory served, from the variables `lookup` finds
/// (`std::env::var` in `main`).
///
/// # Errors
///
/// A `TURBINE_*` value Turbine refuses; `HTTP_ROOT` (default: the current directory) not an
/// existing directory. Each error names the variable, the value and what is accepted.
pub(crate) fn from_vars(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Config, PathBuf), ConfigError> {
    // The jobs are short file system calls, not computations: at Turbine's default `low`
    // priority every result a worker posts wakes a reactor that preempts it, two context
    // switches per request where they share a core (a third of the CPU of a 4 KiB request,
    // measured with benches/http.sh); at `normal` a worker goes on with the next job and the
    // reactor takes the results in batches. TURBINE_WORKER_PRIORITY still decides.
    let config = Config::new()
        .addr(DEFAULT_ADDR)
        .worker_priority(WorkerPriority::Normal)
        .with_vars(&lookup)?;
    let raw = lookup("HTTP_ROOT").unwrap_or_else(|| ".".to_string());
    let root = PathBuf::from(&raw);
    if !root.is_dir() {
        return Err(ConfigError::new(
            "HTTP_ROOT",
            raw,
            "an existing directory (the one served; default: the current directory)",
        ));
    }
    Ok((config, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults: 127.0.0.1:8080, the current directory, workers at normal priority
    /// (which the variable still overrides).
    #[test]
    fn defaults() {
        let (config, root) = from_vars(|_| None).unwrap();
        assert_eq!(config.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(root, PathBuf::from("."));
        assert_eq!(config.worker_priority, WorkerPriority::Normal);
        let low = |name: &str| (name == "TURBINE_WORKER_PRIORITY").then(|| "low".to_string());
        assert_eq!(
            from_vars(low).unwrap().0.worker_priority,
            WorkerPriority::Low
        );
    }

    /// A root that is missing, or a file, is refused, naming the variable.
    #[test]
    fn root_must_be_a_directory() {
        for bad in ["/no/such/dir/anywhere", "/dev/null"] {
            let err = from_vars(|name| (name == "HTTP_ROOT").then(|| bad.to_string())).unwrap_err();
            assert_eq!(err.var, "HTTP_ROOT");
            assert_eq!(err.value, bad);
        }
    }
}
