//! The file server's configuration: Turbine's `TURBINE_*` variables and `HTTP_ROOT`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use turbine::{Config, ConfigError};

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
    let config = Config::new().addr(DEFAULT_ADDR).with_vars(&lookup)?;
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

    /// The defaults: 127.0.0.1:8080 and the current directory.
    #[test]
    fn defaults() {
        let (config, root) = from_vars(|_| None).unwrap();
        assert_eq!(config.addr, DEFAULT_ADDR);
        assert_eq!(root, PathBuf::from("."));
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
