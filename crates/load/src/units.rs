//! Human-readable figures for reports and progress lines.

use std::fmt;

/// A latency in nanoseconds, printed with a unit and three significant digits: `850ns`,
/// `85.3us`, `1.20ms`, `2.50s`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nanos(pub u64);

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0 as f64;
        let (value, unit) = match self.0 {
            0..1_000 => return write!(f, "{}ns", self.0),
            1_000..1_000_000 => (ns / 1e3, "us"),
            1_000_000..1_000_000_000 => (ns / 1e6, "ms"),
            _ => (ns / 1e9, "s"),
        };
        let decimals = if value < 10.0 {
            2
        } else if value < 100.0 {
            1
        } else {
            0
        };
        write!(f, "{value:.decimals$}{unit}")
    }
}

/// A byte count, printed in B, KiB, MiB or GiB with one decimal above bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes(pub f64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: f64 = 1024.0;
        let b = self.0;
        if b.abs() < KIB {
            write!(f, "{b:.0} B")
        } else if b.abs() < KIB * KIB {
            write!(f, "{:.1} KiB", b / KIB)
        } else if b.abs() < KIB * KIB * KIB {
            write!(f, "{:.1} MiB", b / (KIB * KIB))
        } else {
            write!(f, "{:.1} GiB", b / (KIB * KIB * KIB))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Latencies keep three significant digits across units.
    #[test]
    fn nanos() {
        let s = |ns| Nanos(ns).to_string();
        assert_eq!(s(850), "850ns");
        assert_eq!(s(85_300), "85.3us");
        assert_eq!(s(1_204_000), "1.20ms");
        assert_eq!(s(123_456_789), "123ms");
        assert_eq!(s(2_500_000_000), "2.50s");
    }

    /// Byte counts pick the largest binary unit below them.
    #[test]
    fn bytes() {
        assert_eq!(Bytes(512.0).to_string(), "512 B");
        assert_eq!(Bytes(2048.0).to_string(), "2.0 KiB");
        assert_eq!(Bytes(-3.5 * 1024.0 * 1024.0).to_string(), "-3.5 MiB");
    }
}
