//! `Framing`: how messages are delimited on the wire, and how its name is parsed.

use std::fmt;
use std::str::FromStr;

/// How messages are delimited on the wire; it must match the server's codec.
///
/// Every message is exactly [`LoadConfig::size`](crate::LoadConfig::size) bytes on the wire,
/// framing included, and an echo server sends each back unchanged, so the reply to a message
/// is the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Fixed-size messages of arbitrary bytes, with no delimiter: replies are matched by byte
    /// count. Fits a server that echoes bytes as they arrive (`ECHO_FRAMING=raw`).
    Raw,
    /// Lines: printable ASCII bytes, then one `'\n'` that ends the message and appears nowhere
    /// else in it. Needs at least 2 bytes per message.
    Lines,
    /// A 4-byte big-endian length, then that many payload bytes (`size - 4`, at least 1).
    Length,
}

impl Framing {
    /// The smallest message size this framing allows, in bytes on the wire.
    pub const fn min_size(self) -> usize {
        match self {
            Framing::Raw => 1,
            Framing::Lines => 2,
            Framing::Length => 5,
        }
    }

    /// The name [`FromStr`] accepts and [`Display`](fmt::Display) prints: `raw`, `lines` or
    /// `length`.
    pub const fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Lines => "lines",
            Framing::Length => "length",
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Framing {
    type Err = ParseFramingError;

    /// Parses `raw`, `lines` or `length` (lower case, as `ECHO_FRAMING` takes them).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "raw" => Ok(Framing::Raw),
            "lines" => Ok(Framing::Lines),
            "length" => Ok(Framing::Length),
            _ => Err(ParseFramingError(s.to_string())),
        }
    }
}

/// A framing name that is not `raw`, `lines` or `length`; holds the name given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFramingError(pub String);

impl fmt::Display for ParseFramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown framing {:?}: expected raw, lines or length",
            self.0
        )
    }
}

impl std::error::Error for ParseFramingError {}
