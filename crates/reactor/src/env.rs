//! Reading `TURBINE_*` variables into a [`Config`], strictly.
//!
//! Each value must parse completely: sizes are bytes with an optional `B`, `KiB`, `MiB` or `GiB`
//! suffix, durations a whole number with `ms`, `s`, `m` or `h` (`0` or `off` disables an
//! optional timeout), booleans `1`, `0`, `true` or `false`. Anything else is refused with an
//! error naming the variable, the value and what is accepted, before anything is bound.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{Config, ConfigError};

const SIZE: &str =
    "a size in bytes, optionally with a unit (B, KiB, MiB, GiB), e.g. 65536 or 64KiB";
const DURATION: &str = "a duration with a unit (ms, s, m, h), e.g. 500ms or 30s";
const OPTIONAL_DURATION: &str =
    "a duration with a unit (ms, s, m, h), e.g. 500ms or 30s, or 0 or off to disable";
const BOOL: &str = "1, 0, true or false";
const COUNT: &str = "a whole number";
const ADDR: &str = "an IP address and port, e.g. 127.0.0.1:7878 or [::1]:7878";
const PRIORITY: &str = "normal, low or idle";

impl Config {
    /// Overrides this configuration with every `TURBINE_*` variable that is set, then validates.
    ///
    /// Values set on `self` before the call are the program's defaults; the environment wins
    /// over them.
    ///
    /// # Errors
    ///
    /// See [`Config::from_env`].
    pub fn with_env(self) -> Result<Config, ConfigError> {
        self.with_vars(|name| std::env::var(name).ok())
    }

    /// Like [`with_env`](Config::with_env), reading variables through `lookup` instead of the
    /// process environment (for tests, or configuration kept elsewhere).
    ///
    /// # Errors
    ///
    /// See [`Config::from_env`].
    pub fn with_vars(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let var = |name: &'static str| lookup(name).map(|value| (name, value));
        if let Some((n, v)) = var("TURBINE_ADDR") {
            self.addr = parse(n, &v, ADDR, |s| s.parse::<SocketAddr>().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_REACTORS") {
            self.reactors = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_PIN_CORES") {
            self.pin_cores = parse(n, &v, BOOL, parse_bool)?;
        }
        if let Some((n, v)) = var("TURBINE_BACKLOG") {
            self.backlog = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_MAX_CONNECTIONS") {
            self.max_connections = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_NODELAY") {
            self.nodelay = parse(n, &v, BOOL, parse_bool)?;
        }
        if let Some((n, v)) = var("TURBINE_WORKERS") {
            self.workers = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_WORKER_QUEUE") {
            self.worker_queue = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_WORKER_PRIORITY") {
            self.worker_priority = parse(n, &v, PRIORITY, |s| s.parse().ok())?;
        }
        let sizes: [(&'static str, &mut usize); 5] = [
            ("TURBINE_MAX_FRAME", &mut self.max_frame),
            ("TURBINE_READ_BUFFER", &mut self.read_buffer),
            (
                "TURBINE_WRITE_HIGH_WATERMARK",
                &mut self.write_high_watermark,
            ),
            ("TURBINE_WRITE_LOW_WATERMARK", &mut self.write_low_watermark),
            ("TURBINE_WRITE_LIMIT", &mut self.write_limit),
        ];
        for (name, field) in sizes {
            if let Some((n, v)) = var(name) {
                *field = parse(n, &v, SIZE, parse_size)?;
            }
        }
        if let Some((n, v)) = var("TURBINE_IDLE_TIMEOUT") {
            self.idle_timeout = parse(n, &v, OPTIONAL_DURATION, parse_optional_duration)?;
        }
        if let Some((n, v)) = var("TURBINE_FRAME_TIMEOUT") {
            self.frame_timeout = parse(n, &v, OPTIONAL_DURATION, parse_optional_duration)?;
        }
        if let Some((n, v)) = var("TURBINE_WRITE_TIMEOUT") {
            self.write_timeout = parse(n, &v, OPTIONAL_DURATION, parse_optional_duration)?;
        }
        if let Some((n, v)) = var("TURBINE_MAX_CONNECTIONS_PER_IP") {
            self.max_connections_per_ip = parse(n, &v, COUNT, |s| s.parse().ok())?;
        }
        if let Some((n, v)) = var("TURBINE_SHUTDOWN_TIMEOUT") {
            self.shutdown_timeout = parse(n, &v, DURATION, parse_duration)?;
        }
        // Report a refused combination with the value as the user wrote it (`128KiB`).
        self.validate().map_err(|mut e| {
            if let Some(raw) = lookup(e.var) {
                e.value = raw;
            }
            e
        })?;
        Ok(self)
    }
}

/// Parses one variable's value, or builds the error that names it.
fn parse<T>(
    var: &'static str,
    value: &str,
    expected: &str,
    parser: impl Fn(&str) -> Option<T>,
) -> Result<T, ConfigError> {
    parser(value.trim()).ok_or_else(|| ConfigError::new(var, value.to_string(), expected))
}

/// Parses a boolean the way `TURBINE_*` variables are read: `1`, `0`, `true`, `false` (any
/// case). For a program's own settings, so they follow the same grammar.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// Splits `123unit` into the number and the unit; the number must be plain ASCII digits.
fn split_number(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let number = s[..digits].parse().ok()?;
    Some((number, s[digits..].trim_start()))
}

/// Parses a size the way `TURBINE_*` variables are read: `65536`, `64KiB`, `1MiB`, `2GiB`,
/// `100B` (units in any case); `None` for anything else, overflow included.
pub fn parse_size(s: &str) -> Option<usize> {
    let (n, unit) = split_number(s)?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    usize::try_from(n.checked_mul(scale)?).ok()
}

/// Parses a duration the way `TURBINE_*` variables are read: `500ms`, `30s`, `5m`, `1h`; a bare
/// `0` is zero; `None` for anything else.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (n, unit) = split_number(s)?;
    match unit {
        "" if n == 0 => Some(Duration::ZERO),
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

/// A duration, or `0` / `off` for none.
fn parse_optional_duration(s: &str) -> Option<Option<Duration>> {
    if s.eq_ignore_ascii_case("off") {
        return Some(None);
    }
    let d = parse_duration(s)?;
    Some((!d.is_zero()).then_some(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::new().with_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Sizes take exactly the documented forms, and overflow is refused rather than wrapped.
    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Some(65536));
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1mib"), Some(1 << 20));
        assert_eq!(parse_size("7B"), Some(7));
        for bad in [
            "",
            "-1",
            "1.5KiB",
            "64KB",
            "KiB",
            "abc",
            "99999999999999999999GiB",
        ] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }

    /// Durations need a unit (but for zero), and booleans take only the four spellings.
    #[test]
    fn durations_and_bools() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["30", "1.5s", "s", "-1s", "10 sec"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
        assert_eq!(parse_optional_duration("off"), Some(None));
        assert_eq!(parse_optional_duration("0"), Some(None));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    /// Every variable is applied, and an unset variable leaves the default.
    #[test]
    fn variables_override_defaults() {
        let c = config_from(&[
            ("TURBINE_ADDR", "[::1]:9000"),
            ("TURBINE_REACTORS", "3"),
            ("TURBINE_MAX_FRAME", "1MiB"),
            ("TURBINE_IDLE_TIMEOUT", "250ms"),
            ("TURBINE_PIN_CORES", "1"),
        ])
        .unwrap();
        assert_eq!(c.addr, "[::1]:9000".parse().unwrap());
        assert_eq!(c.reactors, 3);
        assert_eq!(c.max_frame, 1 << 20);
        assert_eq!(c.idle_timeout, Some(Duration::from_millis(250)));
        assert!(c.pin_cores);
        assert_eq!(c.backlog, Config::new().backlog);
    }

    /// Each refused value names its variable and the value in the message.
    #[test]
    fn bad_values_name_the_variable() {
        for (var, value) in [
            ("TURBINE_REACTORS", "0"),
            ("TURBINE_REACTORS", "abc"),
            ("TURBINE_MAX_FRAME", "-1"),
            ("TURBINE_ADDR", "localhost:x"),
            ("TURBINE_SHUTDOWN_TIMEOUT", "soon"),
        ] {
            let err = config_from(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var);
            assert_eq!(err.value, value);
            assert!(err.to_string().contains(var), "{err}");
        }
        let err = config_from(&[
            ("TURBINE_WRITE_LOW_WATERMARK", "128KiB"),
            ("TURBINE_WRITE_HIGH_WATERMARK", "64KiB"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "TURBINE_WRITE_LOW_WATERMARK");
        assert!(err.expected.contains("TURBINE_WRITE_HIGH_WATERMARK"));
    }
}
