//! The gateway's configuration: Turbine's `TURBINE_*` variables and the `GATEWAY_*` ones.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use turbine::{Config, ConfigError, parse_duration};

/// Where the gateway listens unless `TURBINE_ADDR` says otherwise.
pub(crate) const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7882);
/// The back end unless `GATEWAY_REDIS` says otherwise.
pub(crate) const DEFAULT_REDIS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 6379);
/// Per-request deadline unless `GATEWAY_TIMEOUT` says otherwise.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Back-end connections per reactor unless `GATEWAY_BACKEND_CONNECTIONS` says otherwise.
pub(crate) const DEFAULT_BACKEND_CONNECTIONS: usize = 2;
/// Most back-end connections per reactor.
const MAX_BACKEND_CONNECTIONS: usize = 64;

/// What the `GATEWAY_*` variables set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `GATEWAY_REDIS`: the back end.
    pub(crate) redis: SocketAddr,
    /// `GATEWAY_TIMEOUT`: how long a request may wait for the back end.
    pub(crate) timeout: Duration,
    /// `GATEWAY_BACKEND_CONNECTIONS`: connections to the back end per reactor.
    pub(crate) backend_connections: usize,
}

/// The server's configuration and the gateway's settings from the variables `lookup` finds.
///
/// # Errors
///
/// A `TURBINE_*` value Turbine refuses, or a `GATEWAY_*` value that does not parse; the error
/// names the variable, the value and what is accepted.
pub(crate) fn from_vars(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Config, Settings), ConfigError> {
    let config = Config::new().addr(DEFAULT_ADDR).with_vars(&lookup)?;
    let setting = |var: &'static str, expected: &str, parse: &dyn Fn(&str) -> bool| {
        lookup(var).map(|raw| {
            if parse(raw.trim()) {
                Ok(raw)
            } else {
                Err(ConfigError::new(var, raw, expected.to_string()))
            }
        })
    };
    let redis = match setting(
        "GATEWAY_REDIS",
        "an IP address and port, e.g. 127.0.0.1:6379",
        &|s| s.parse::<SocketAddr>().is_ok(),
    ) {
        None => DEFAULT_REDIS,
        Some(raw) => raw?.trim().parse().expect("checked above"),
    };
    let timeout = match setting(
        "GATEWAY_TIMEOUT",
        "a duration above zero with a unit (ms, s, m, h), e.g. 500ms or 1s",
        &|s| parse_duration(s).is_some_and(|d| !d.is_zero()),
    ) {
        None => DEFAULT_TIMEOUT,
        Some(raw) => parse_duration(raw?.trim()).expect("checked above"),
    };
    let count = |s: &str| {
        s.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_BACKEND_CONNECTIONS).contains(n))
    };
    let backend_connections = match setting(
        "GATEWAY_BACKEND_CONNECTIONS",
        &format!("a whole number from 1 to {MAX_BACKEND_CONNECTIONS}"),
        &|s| count(s).is_some(),
    ) {
        None => DEFAULT_BACKEND_CONNECTIONS,
        Some(raw) => count(raw?.trim()).expect("checked above"),
    };
    let settings = Settings {
        redis,
        timeout,
        backend_connections,
    };
    Ok((config, settings))
}
