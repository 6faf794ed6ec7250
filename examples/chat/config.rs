//! The chat's configuration: Turbine's `TURBINE_*` variables, the chat's own address, and
//! `CHAT_OUTBUF_LIMIT`.

use std::net::{Ipv4Addr, SocketAddr};

use turbine::{Config, ConfigError, parse_size};

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
