//! The text grammar of `TURBINE_*` values: sizes, durations and booleans, read strictly and
//! written back in a form that reads the same.
//!
//! Each value must parse completely: sizes are bytes with an optional `B`, `KiB`, `MiB` or `GiB`
//! suffix, durations a whole number with `ms`, `s`, `m` or `h`, booleans `1`, `0`, `true` or
//! `false`. The parsers are public so a program's own settings follow the same grammar.

use std::time::Duration;

/// Binary units from the largest, as written after a number (`64KiB`).
const SIZE_UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];

/// Duration units from the largest, in milliseconds, as written after a number (`30s`).
const DURATION_UNITS: [(u128, &str); 4] = [(3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")];

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

/// Writes a size in the largest unit that holds it exactly (`64KiB`, `65537`), which
/// [`parse_size`] reads back.
pub(crate) fn render_size(bytes: usize) -> String {
    match SIZE_UNITS
        .iter()
        .find(|(unit, _)| bytes != 0 && bytes % unit == 0)
    {
        Some((unit, name)) => format!("{}{name}", bytes / unit),
        None => bytes.to_string(),
    }
}

/// Writes a size for people, with a space before the unit (`1 KiB`, `1 B`), as the README's
/// bounds read.
pub(crate) fn describe_size(bytes: usize) -> String {
    match SIZE_UNITS
        .iter()
        .find(|(unit, _)| bytes != 0 && bytes % unit == 0)
    {
        Some((unit, name)) => format!("{} {name}", bytes / unit),
        None => format!("{bytes} B"),
    }
}

/// Writes a duration in the largest unit that holds it exactly (`30s`, `2m`), which
/// [`parse_duration`] reads back; one finer than a millisecond (set by a builder) has no such
/// form and is written as `Debug` does (`1.5µs`).
pub(crate) fn render_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0".to_string();
    }
    if d.subsec_nanos() % 1_000_000 != 0 {
        return format!("{d:?}");
    }
    let ms = d.as_millis();
    let (unit, name) = DURATION_UNITS
        .iter()
        .find(|(unit, _)| ms % unit == 0)
        .expect("every whole millisecond count is a whole number of ms");
    format!("{}{name}", ms / unit)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    /// Sizes and durations are written in their largest exact unit, and read back the same.
    #[test]
    fn rendered_values_read_back() {
        for (bytes, text) in [
            (0, "0"),
            (7, "7"),
            (65536, "64KiB"),
            (65537, "65537"),
            (3 << 20, "3MiB"),
            (1 << 30, "1GiB"),
        ] {
            assert_eq!(render_size(bytes), text);
            assert_eq!(parse_size(text), Some(bytes));
        }
        for (d, text) in [
            (Duration::ZERO, "0"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
        ] {
            assert_eq!(render_duration(d), text);
            assert_eq!(parse_duration(text), Some(d));
        }
        assert_eq!(render_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(describe_size(1), "1 B");
        assert_eq!(describe_size(16 << 20), "16 MiB");
    }
}
