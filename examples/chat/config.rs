//! The chat's configuration: Turbine's `TURBINE_*` variables, the chat's own address,
//! `CHAT_OUTBUF_LIMIT`, and cluster mode's `CHAT_REDIS` and `CHAT_CLUSTER_TTL`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use turbine::{Config, ConfigError, parse_duration, parse_size};

/// Where the chat listens unless `TURBINE_ADDR` says otherwise.
pub(crate) const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7879);

/// Output a member may have waiting before it is cut off as too slow, unless
/// `CHAT_OUTBUF_LIMIT` (or `TURBINE_WRITE_LIMIT`) says otherwise.
pub(crate) const DEFAULT_OUTBUF_LIMIT: usize = 4 << 20;

/// Longest prefix the server puts before a client's text (`<nick> (private): `, a 32-byte nick),
/// plus the `\n`: a member's output limit must hold at least one longest line.
pub(crate) const MAX_PREFIX: usize = 32 + " (private): ".len() + 1;

/// Largest `CHAT_OUTBUF_LIMIT`, as for `TURBINE_WRITE_LIMIT`.
const MAX_OUTBUF_LIMIT: usize = 1 << 30;

/// How long an instance's entries in Redis live without being renewed, unless
/// `CHAT_CLUSTER_TTL` says otherwise; also how long an instance may stay silent before the
/// others show its members as left.
pub(crate) const DEFAULT_CLUSTER_TTL: Duration = Duration::from_secs(10);

/// Shortest `CHAT_CLUSTER_TTL`: renewals go out four times per TTL, and a busy machine must not
/// miss all four.
const MIN_CLUSTER_TTL: Duration = Duration::from_secs(1);

/// Longest `CHAT_CLUSTER_TTL`: a dead instance is noticed one TTL after its last renewal, plus
/// a tenth of one for the check, and the protocol promises its members are shown as left
/// within 15 s.
const MAX_CLUSTER_TTL: Duration = Duration::from_secs(12);

/// What cluster mode needs: where Redis is, and how long entries live there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterSettings {
    /// `CHAT_REDIS`: the Redis server that links the instances.
    pub(crate) redis: SocketAddr,
    /// `CHAT_CLUSTER_TTL`: lifetime of an instance's entries in Redis (nicks, member lists)
    /// without renewal, and the silence after which an instance counts as dead.
    pub(crate) ttl: Duration,
}

/// The configuration from the variables `lookup` finds (`std::env::var` in `main`).
///
/// Starts from Turbine's defaults with address [`DEFAULT_ADDR`] and write limit
/// [`DEFAULT_OUTBUF_LIMIT`], applies every `TURBINE_*` variable, then `CHAT_OUTBUF_LIMIT`,
/// which sets the write limit (it wins over `TURBINE_WRITE_LIMIT`). The high watermark is
/// lowered to the limit if it was above it (and the low one to the high one), so a member's
/// replies to its own commands never pass the limit unnoticed.
///
/// # Errors
///
/// A `TURBINE_*` value Turbine refuses, or a `CHAT_OUTBUF_LIMIT` that is not a size (bytes with
/// an optional `B`, `KiB`, `MiB` or `GiB`) from `TURBINE_MAX_FRAME` + [`MAX_PREFIX`] to 1 GiB.
pub(crate) fn from_vars(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
    let config = Config::new()
        .addr(DEFAULT_ADDR)
        .write_limit(DEFAULT_OUTBUF_LIMIT)
        .with_vars(&lookup)?;
    let Some(raw) = lookup("CHAT_OUTBUF_LIMIT") else {
        return Ok(fit_watermarks(config));
    };
    let min = config.max_frame.saturating_add(MAX_PREFIX);
    match parse_size(raw.trim()) {
        Some(limit) if (min..=MAX_OUTBUF_LIMIT).contains(&limit) => {
            Ok(fit_watermarks(config.write_limit(limit)))
        }
        _ => Err(ConfigError::new(
            "CHAT_OUTBUF_LIMIT",
            raw,
            format!(
                "a size in bytes, optionally with a unit (B, KiB, MiB, GiB), from {min} \
                 (TURBINE_MAX_FRAME + {MAX_PREFIX}, room for one longest line) to 1GiB"
            ),
        )),
    }
}

/// The configuration from the process environment.
///
/// # Errors
///
/// See [`from_vars`].
pub(crate) fn from_env() -> Result<Config, ConfigError> {
    from_vars(|name| std::env::var(name).ok())
}

/// Lowers the watermarks to fit under the write limit.
fn fit_watermarks(config: Config) -> Config {
    let high = config.write_high_watermark.min(config.write_limit);
    let low = config.write_low_watermark.min(high);
    config.write_high_watermark(high).write_low_watermark(low)
}

/// Cluster mode's settings from the variables `lookup` finds: `None` without `CHAT_REDIS`
/// (one instance on its own, as without Redis at all).
///
/// # Errors
///
/// A `CHAT_REDIS` that is not an IP address and port, or a `CHAT_CLUSTER_TTL` (checked even
/// without `CHAT_REDIS`, so that a typo is not silently ignored) that is not a duration from
/// 1s to 12s.
pub(crate) fn cluster_from_vars(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<ClusterSettings>, ConfigError> {
    let ttl = match lookup("CHAT_CLUSTER_TTL") {
        None => DEFAULT_CLUSTER_TTL,
        Some(raw) => match parse_duration(raw.trim()) {
            Some(ttl) if (MIN_CLUSTER_TTL..=MAX_CLUSTER_TTL).contains(&ttl) => ttl,
            _ => {
                return Err(ConfigError::new(
                    "CHAT_CLUSTER_TTL",
                    raw,
                    "a duration with a unit (ms, s), from 1s to 12s (members of a dead \
                     instance must be shown as left within 15s)",
                ));
            }
        },
    };
    let Some(raw) = lookup("CHAT_REDIS") else {
        return Ok(None);
    };
    match raw.trim().parse::<SocketAddr>() {
        Ok(redis) => Ok(Some(ClusterSettings { redis, ttl })),
        Err(_) => Err(ConfigError::new(
            "CHAT_REDIS",
            raw,
            "an IP address and port, e.g. 127.0.0.1:6379 (names are not resolved)",
        )),
    }
}

/// Cluster mode's settings from the process environment.
///
/// # Errors
///
/// See [`cluster_from_vars`].
pub(crate) fn cluster_from_env() -> Result<Option<ClusterSettings>, ConfigError> {
    cluster_from_vars(|name| std::env::var(name).ok())
}
