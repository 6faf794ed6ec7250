//! The proxy's configuration: Turbine's `TURBINE_*` variables, `PROXY_UPSTREAMS` and
//! `PROXY_CONNECT_TIMEOUT`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use turbine::{Config, ConfigError, parse_duration};

/// Where the proxy listens unless `TURBINE_ADDR` says otherwise.
pub(crate) const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7881);
/// How long one upstream connect may take unless `PROXY_CONNECT_TIMEOUT` says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Most upstreams `PROXY_UPSTREAMS` may list (a client remembers those it tried in a `u64`).
pub(crate) const MAX_UPSTREAMS: usize = 64;

/// What the `PROXY_*` variables set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `PROXY_UPSTREAMS`: the servers to relay to, in order.
    pub(crate) upstreams: Vec<SocketAddr>,
    /// `PROXY_CONNECT_TIMEOUT`: how long one upstream connect may take.
    pub(crate) connect_timeout: Duration,
}

/// The server's configuration and the proxy's settings from the variables `lookup` finds
/// (`std::env::var` in `main`).
///
/// # Errors
///
/// A `TURBINE_*` value Turbine refuses; `PROXY_UPSTREAMS` missing, empty, with an entry that is
/// not `IP:port`, or with more than [`MAX_UPSTREAMS`] entries; `PROXY_CONNECT_TIMEOUT` not a
/// duration above zero. Each error names the variable, the value and what is accepted.
pub(crate) fn from_vars(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(Config, Settings), ConfigError> {
    let config = Config::new().addr(DEFAULT_ADDR).with_vars(&lookup)?;
    let upstreams = match lookup("PROXY_UPSTREAMS") {
        None => {
            return Err(ConfigError::new(
                "PROXY_UPSTREAMS",
                String::new(),
                "a comma-separated list of IP:port (it is required)",
            ));
        }
        Some(raw) => parse_upstreams(&raw).ok_or_else(|| {
            ConfigError::new(
                "PROXY_UPSTREAMS",
                raw,
                format!(
                    "a comma-separated list of 1 to {MAX_UPSTREAMS} IP:port, e.g. \
                     127.0.0.1:9000,127.0.0.1:9001"
                ),
            )
        })?,
    };
    let connect_timeout = match lookup("PROXY_CONNECT_TIMEOUT") {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(raw) => parse_duration(raw.trim())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                ConfigError::new(
                    "PROXY_CONNECT_TIMEOUT",
                    raw,
                    "a duration above zero with a unit (ms, s, m, h), e.g. 500ms or 3s",
                )
            })?,
    };
    let settings = Settings {
        upstreams,
        connect_timeout,
    };
    Ok((config, settings))
}

/// `IP:port,IP:port,...`, spaces around entries allowed; `None` if anything else.
fn parse_upstreams(raw: &str) -> Option<Vec<SocketAddr>> {
    let addrs = raw
        .split(',')
        .map(|entry| entry.trim().parse().ok())
        .collect::<Option<Vec<SocketAddr>>>()?;
    (1..=MAX_UPSTREAMS).contains(&addrs.len()).then_some(addrs)
}
