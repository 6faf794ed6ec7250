//! Value kinds: what one setting accepts, how its text is read and how its value is written.
//!
//! A setting's declaration names a kind with its bounds (`Size::range(1, 1 << 30)`); the kind
//! supplies the parsing for `TURBINE_*` variables, the bounds check of `Config::validate`, the
//! value in `Config`'s `Display` line and the README's Accepted column. A new kind of value
//! (a path, a comma list, a CIDR list) is one more implementation of [`Kind`].

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use super::grammar::{
    describe_size, parse_bool, parse_duration, parse_size, render_duration, render_size,
};

/// The grammar and bounds of one setting's values.
pub(crate) trait Kind {
    /// The type of the setting's field in `Config`.
    type Value: PartialEq + fmt::Debug;

    /// Reads a value, already trimmed; `None` when it is not of this kind. Bounds are left to
    /// [`check`](Kind::check), so a value out of bounds is reported the same way whether it came
    /// from a variable or a builder.
    fn parse(&self, text: &str) -> Option<Self::Value>;

    /// Writes a value in the form [`parse`](Kind::parse) reads back (for `Display`).
    fn render(&self, value: &Self::Value) -> String;

    /// What a value that does not parse should have looked like: `ConfigError::expected`.
    fn expected(&self) -> String;

    /// The README's short form of what is accepted, bounds included (`size, 1 B to 1 GiB`).
    // Only the README test calls it; `expect` would misfire here (rustc reports trait methods'
    // dead code at the trait).
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the README test"))]
    fn accepted(&self) -> String;

    /// Checks the bounds; `Err` holds what is accepted instead (`a value from 1 to 1024`).
    fn check(&self, _value: &Self::Value) -> Result<(), String> {
        Ok(())
    }

    /// Whether `value` is zero in any unit, which an [`OrOff`] setting reads as off.
    fn is_zero(&self, _value: &Self::Value) -> bool {
        false
    }
}

/// `ConfigError::expected` for a value out of `min..=max`, the same for every numeric kind.
fn out_of_range(min: impl fmt::Display, max: impl fmt::Display) -> String {
    format!("a value from {min} to {max}")
}

/// A size in bytes with an optional unit (`65536`, `64KiB`), within `min..=max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// The smallest size accepted.
    min: usize,
    /// The largest size accepted.
    max: usize,
}

impl Size {
    /// Any size, 0 included (for a size bounded only by another setting).
    pub(crate) const ANY: Size = Size::range(0, usize::MAX);

    /// A size from `min` to `max` bytes.
    pub(crate) const fn range(min: usize, max: usize) -> Size {
        Size { min, max }
    }
}

impl Kind for Size {
    type Value = usize;

    fn parse(&self, text: &str) -> Option<usize> {
        parse_size(text)
    }

    fn render(&self, value: &usize) -> String {
        render_size(*value)
    }

    fn expected(&self) -> String {
        "a size in bytes, optionally with a unit (B, KiB, MiB, GiB), e.g. 65536 or 64KiB".into()
    }

    fn accepted(&self) -> String {
        if self.min == 0 && self.max == usize::MAX {
            return "size".into();
        }
        let (min, max) = (describe_size(self.min), describe_size(self.max));
        format!("size, {min} to {max}")
    }

    fn check(&self, value: &usize) -> Result<(), String> {
        match (self.min..=self.max).contains(value) {
            true => Ok(()),
            false => Err(out_of_range(self.min, self.max)),
        }
    }

    fn is_zero(&self, value: &usize) -> bool {
        *value == 0
    }
}

/// A whole number of type `T` (decimal, as `str::parse` reads it), from `min` up to `max` if
/// there is one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Count<T> {
    /// The smallest number accepted.
    min: T,
    /// The largest number accepted; `None` is up to `T::MAX`.
    max: Option<T>,
}

impl<T> Count<T> {
    /// A number from `min` to `max`.
    pub(crate) const fn range(min: T, max: T) -> Count<T> {
        Count {
            min,
            max: Some(max),
        }
    }

    /// A number from `min` up, as large as `T` holds.
    pub(crate) const fn at_least(min: T) -> Count<T> {
        Count { min, max: None }
    }
}

impl<T> Kind for Count<T>
where
    T: FromStr + fmt::Display + fmt::Debug + PartialOrd + Default,
{
    type Value = T;

    fn parse(&self, text: &str) -> Option<T> {
        text.parse().ok()
    }

    fn render(&self, value: &T) -> String {
        value.to_string()
    }

    fn expected(&self) -> String {
        "a whole number".into()
    }

    fn accepted(&self) -> String {
        match &self.max {
            Some(max) => format!("{} to {max}", self.min),
            None => format!("{} or more", self.min),
        }
    }

    fn check(&self, value: &T) -> Result<(), String> {
        match &self.max {
            Some(max) if value < &self.min || value > max => Err(out_of_range(&self.min, max)),
            None if value < &self.min => Err(format!("a value of at least {}", self.min)),
            _ => Ok(()),
        }
    }

    fn is_zero(&self, value: &T) -> bool {
        *value == T::default()
    }
}

/// A duration with a unit (`500ms`, `30s`, `5m`, `1h`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time;

impl Kind for Time {
    type Value = Duration;

    fn parse(&self, text: &str) -> Option<Duration> {
        parse_duration(text)
    }

    fn render(&self, value: &Duration) -> String {
        render_duration(*value)
    }

    fn expected(&self) -> String {
        "a duration with a unit (ms, s, m, h), e.g. 500ms or 30s".into()
    }

    fn accepted(&self) -> String {
        "duration".into()
    }

    fn is_zero(&self, value: &Duration) -> bool {
        value.is_zero()
    }
}

/// A boolean: `1`, `0`, `true`, `false`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag;

impl Kind for Flag {
    type Value = bool;

    fn parse(&self, text: &str) -> Option<bool> {
        parse_bool(text)
    }

    fn render(&self, value: &bool) -> String {
        value.to_string()
    }

    fn expected(&self) -> String {
        "1, 0, true or false".into()
    }

    fn accepted(&self) -> String {
        "boolean".into()
    }
}

/// A socket address: an IP address and a port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Address;

impl Kind for Address {
    type Value = SocketAddr;

    fn parse(&self, text: &str) -> Option<SocketAddr> {
        text.parse().ok()
    }

    fn render(&self, value: &SocketAddr) -> String {
        value.to_string()
    }

    fn expected(&self) -> String {
        "an IP address and port, e.g. 127.0.0.1:7878 or [::1]:7878".into()
    }

    fn accepted(&self) -> String {
        "`IP:port`, `[IPv6]:port`".into()
    }
}

/// One of a few names, read with `T`'s `FromStr` and written with its `Display`.
#[derive(Debug)]
pub(crate) struct Choice<T> {
    /// Every name `T::from_str` accepts, for the messages.
    names: &'static [&'static str],
    /// The type the names stand for.
    of: PhantomData<fn() -> T>,
}

impl<T> Choice<T> {
    /// The names `T` reads; they must be exactly those `T::from_str` accepts.
    pub(crate) const fn of(names: &'static [&'static str]) -> Choice<T> {
        Choice {
            names,
            of: PhantomData,
        }
    }
}

impl<T: FromStr + fmt::Display + fmt::Debug + PartialEq> Kind for Choice<T> {
    type Value = T;

    fn parse(&self, text: &str) -> Option<T> {
        text.parse().ok()
    }

    fn render(&self, value: &T) -> String {
        value.to_string()
    }

    fn expected(&self) -> String {
        match self.names {
            [] => "nothing".into(),
            [one] => (*one).into(),
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
        }
    }

    fn accepted(&self) -> String {
        let quoted: Vec<String> = self.names.iter().map(|name| format!("`{name}`")).collect();
        quoted.join(", ")
    }
}

/// An optional value: `0` (in any unit) or `off` for `None`, otherwise a value of kind `K`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrOff<K>(pub(crate) K);

impl<K: Kind> Kind for OrOff<K> {
    type Value = Option<K::Value>;

    fn parse(&self, text: &str) -> Option<Option<K::Value>> {
        // `0` is off in any kind, one whose values cannot be zero (an address) included.
        if text.eq_ignore_ascii_case("off") || text == "0" {
            return Some(None);
        }
        let value = self.0.parse(text)?;
        Some((!self.0.is_zero(&value)).then_some(value))
    }

    fn render(&self, value: &Option<K::Value>) -> String {
        value
            .as_ref()
            .map_or_else(|| "off".into(), |value| self.0.render(value))
    }

    fn expected(&self) -> String {
        format!("{}, or 0 or off to disable", self.0.expected())
    }

    fn accepted(&self) -> String {
        format!("{}, or `0`/`off`", self.0.accepted())
    }

    fn check(&self, value: &Option<K::Value>) -> Result<(), String> {
        match value {
            Some(value) => self
                .0
                .check(value)
                .map_err(|expected| format!("{expected}, or 0 or off to disable")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0` in any unit and `off` are `None` for an optional setting; other values go to the
    /// inner kind, bounds checked after parsing.
    #[test]
    fn or_off() {
        let timeout = OrOff(Time);
        assert_eq!(timeout.parse("off"), Some(None));
        assert_eq!(timeout.parse("OFF"), Some(None));
        assert_eq!(timeout.parse("0"), Some(None));
        assert_eq!(timeout.parse("0ms"), Some(None));
        assert_eq!(timeout.parse("2s"), Some(Some(Duration::from_secs(2))));
        assert_eq!(timeout.parse("2"), None);
        let buffer = OrOff(Size::range(1 << 10, 1 << 30));
        assert_eq!(buffer.parse("0B"), Some(None));
        assert_eq!(buffer.parse("100"), Some(Some(100)));
        assert!(buffer.check(&Some(100)).unwrap_err().contains("or off"));
        assert_eq!(buffer.render(&None), "off");
        assert_eq!(buffer.accepted(), "size, 1 KiB to 1 GiB, or `0`/`off`");
    }

    /// Counts and choices describe themselves as the README and the error messages read.
    #[test]
    fn descriptions() {
        assert_eq!(Count::range(1usize, 1024).accepted(), "1 to 1024");
        assert_eq!(Count::at_least(0usize).accepted(), "0 or more");
        assert_eq!(
            Count::range(1u32, 127).check(&0),
            Err("a value from 1 to 127".into())
        );
        assert_eq!(
            Count::at_least(2u32).check(&1),
            Err("a value of at least 2".into())
        );
        let priority = Choice::<turbine_pool::WorkerPriority>::of(&["normal", "low", "idle"]);
        assert_eq!(priority.expected(), "normal, low or idle");
        assert_eq!(priority.accepted(), "`normal`, `low`, `idle`");
        assert_eq!(Size::ANY.accepted(), "size");
    }
}
