//! The resumable command parser behind [`RespCodec`](crate::RespCodec).
//!
//! The parser keeps its place across calls (the state below), so every byte is examined once
//! however the stream is split. The bytes of an unfinished command stay in the buffer, with the
//! positions of its complete arguments noted; when its last argument arrives the command is
//! copied out in one piece and the buffer is advanced past it.
//!
//! Limits are checked so that every split of a stream gives the same error: a limit is broken
//! at a byte offset (the line's first byte over [`Limits::inline`], the command's first byte
//! over [`Limits::frame`]), and when the buffered bytes prove more than one broken, the one
//! broken at the smaller offset is reported (the command's, on a tie).

use std::mem;

use super::Command;
use super::inline::{self, UnbalancedQuotes};
use crate::{CodecError, ReadBuf};

/// The bounds on one command; see [`RespCodec`](crate::RespCodec).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most bytes of one command on the wire.
    pub(crate) frame: usize,
    /// Most bytes of one argument.
    pub(crate) bulk: usize,
    /// Most arguments of one multibulk.
    pub(crate) array: usize,
    /// Most bytes of an inline line or a header line before its `\n`.
    pub(crate) inline: usize,
}

/// Where the parser is in the current command. Offsets count from the front of the buffer,
/// where the command starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between commands: the next byte decides the form.
    Start,
    /// In an inline line; its first `searched` bytes hold no `\n`.
    Inline {
        /// Bytes already searched.
        searched: usize,
    },
    /// In a multibulk's `*<count>` line; its first `searched` bytes hold no `\n`.
    Count {
        /// Bytes already searched.
        searched: usize,
    },
    /// Expecting the `$<len>` line of the next argument at `at`; the bytes from `at` to
    /// `searched` hold no `\n`.
    Length {
        /// Where the line starts.
        at: usize,
        /// Where the search for its `\n` resumes.
        searched: usize,
    },
    /// Expecting `len` bytes of an argument at `at`, then `\r\n`.
    Data {
        /// Where the argument's bytes start.
        at: usize,
        /// How many there are.
        len: usize,
    },
}

/// Which line is being read: what its length limit is called in the error.
#[derive(Debug, Clone, Copy)]
enum LineKind {
    /// An inline command.
    Inline,
    /// A `*<count>` line.
    Count,
    /// A `$<len>` line.
    Length,
}

impl LineKind {
    /// Redis's error for the line over the inline limit.
    fn too_big(self) -> CodecError {
        CodecError::invalid(match self {
            LineKind::Inline => "Protocol error: too big inline request",
            LineKind::Count => "Protocol error: too big mbulk count string",
            LineKind::Length => "Protocol error: too big bulk count string",
        })
    }
}

const INVALID_MULTIBULK: &str = "Protocol error: invalid multibulk length";
const INVALID_BULK: &str = "Protocol error: invalid bulk length";
const UNBALANCED: &str = "Protocol error: unbalanced quotes in request";
const EXPECTED_CRLF: &str = "Protocol error: expected CRLF after bulk string";

/// The command parser: limits, state, and the arguments of the command in progress.
#[derive(Debug, Clone)]
pub(crate) struct Parser {
    /// The bounds; set by the codec's builder methods.
    pub(crate) limits: Limits,
    /// Where the current command stands; changed by every parse.
    state: State,
    /// Arguments the current multibulk announced.
    expected: usize,
    /// Where the current multibulk's complete arguments lie in the buffer; handed over with
    /// the command.
    spans: Vec<(usize, usize)>,
}

impl Parser {
    /// A parser between commands.
    pub(crate) const fn new(limits: Limits) -> Self {
        Parser {
            limits,
            state: State::Start,
            expected: 0,
            spans: Vec::new(),
        }
    }

    /// Takes the next complete command off the front of `src`; see
    /// [`RespCodec`](crate::RespCodec)'s `decode`.
    pub(crate) fn parse(&mut self, src: &mut ReadBuf) -> Result<Option<Command>, CodecError> {
        loop {
            match self.state {
                State::Start => match src.first() {
                    None => return Ok(None),
                    Some(b'*') => self.state = State::Count { searched: 0 },
                    Some(_) => self.state = State::Inline { searched: 0 },
                },
                State::Inline { searched } => {
                    let Some(nl) = self.line(src, 0, searched, LineKind::Inline)? else {
                        return Ok(None);
                    };
                    let line = &src[..nl];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let command = inline::split(line)
                        .map_err(|UnbalancedQuotes| CodecError::invalid(UNBALANCED))?;
                    src.advance(nl + 1);
                    self.state = State::Start;
                    if !command.is_empty() {
                        return Ok(Some(command));
                    }
                    // A blank line is skipped, as Redis does.
                }
                State::Count { searched } => {
                    let Some(nl) = self.line(src, 0, searched, LineKind::Count)? else {
                        return Ok(None);
                    };
                    let count = header_number(&src[..nl])
                        .filter(|&n| n <= self.limits.array as i64)
                        .ok_or_else(|| CodecError::invalid(INVALID_MULTIBULK))?;
                    if count <= 0 {
                        // `*0` and `*-1` are skipped, as Redis does.
                        src.advance(nl + 1);
                        self.state = State::Start;
                        continue;
                    }
                    self.expected = count as usize;
                    // Reserve on the count's word only up to a small bound, as Redis does:
                    // the arguments themselves have not arrived.
                    self.spans = Vec::with_capacity(self.expected.min(1024));
                    self.state = State::Length {
                        at: nl + 1,
                        searched: nl + 1,
                    };
                }
                State::Length { at, searched } => {
                    let Some(&first) = src.get(at) else {
                        return Ok(None);
                    };
                    if at >= self.limits.frame {
                        return Err(self.too_long(at + 1));
                    }
                    if first != b'$' {
                        return Err(CodecError::invalid(format!(
                            "Protocol error: expected '$', got '{}'",
                            printable(first)
                        )));
                    }
                    let Some(nl) = self.line(src, at, searched, LineKind::Length)? else {
                        return Ok(None);
                    };
                    let len = header_number(&src[at..nl])
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|&n| n <= self.limits.bulk)
                        .ok_or_else(|| CodecError::invalid(INVALID_BULK))?;
                    let end = (nl + 1).saturating_add(len).saturating_add(2);
                    if end > self.limits.frame {
                        return Err(self.too_long(end));
                    }
                    self.state = State::Data { at: nl + 1, len };
                }
                State::Data { at, len } => {
                    let end = at + len;
                    if src.len() < end + 2 {
                        return Ok(None);
                    }
                    if src[end..end + 2] != *b"\r\n" {
                        return Err(CodecError::invalid(EXPECTED_CRLF));
                    }
                    self.spans.push((at, end));
                    if self.spans.len() == self.expected {
                        // One copy of the whole command (headers included, the last CRLF not):
                        // two allocations however many arguments it has.
                        let bytes = src[..end].to_vec();
                        src.advance(end + 2);
                        self.state = State::Start;
                        let spans = mem::take(&mut self.spans);
                        return Ok(Some(Command::from_parts(bytes, spans)));
                    }
                    self.state = State::Length {
                        at: end + 2,
                        searched: end + 2,
                    };
                }
            }
        }
    }

    /// Looks for the `\n` ending the line that starts at `start`, resuming at `searched`.
    ///
    /// Returns its offset, or `None` (remembering how far it searched) when it has not arrived.
    /// Fails when the buffered bytes prove the line over the inline limit or the command over
    /// the frame limit, whichever is broken first (see the module docs).
    fn line(
        &mut self,
        src: &[u8],
        start: usize,
        searched: usize,
        kind: LineKind,
    ) -> Result<Option<usize>, CodecError> {
        let found = find_line(src, start, searched, self.limits.inline, self.limits.frame)
            .map_err(|over| match over {
                LineOver::Frame(len) => self.too_long(len),
                LineOver::Line => kind.too_big(),
            })?;
        if found.is_none() {
            let searched = src.len();
            self.state = match self.state {
                State::Inline { .. } => State::Inline { searched },
                State::Count { .. } => State::Count { searched },
                State::Length { at, .. } => State::Length { at, searched },
                other => other,
            };
        }
        Ok(found)
    }

    /// The error for a command known to be at least `len` bytes long.
    fn too_long(&self, len: usize) -> CodecError {
        CodecError::FrameTooLong {
            len: len as u64,
            max: self.limits.frame,
        }
    }
}

/// The number in a header line (`*<n>\r` or `$<n>\r`, the `\n` excluded), parsed as strictly
/// as Redis's `string2ll`: an optional `-`, then digits without a leading zero (`0` alone is
/// fine), fitting an `i64`. `None` if the line is not that, or does not end in `\r`.
fn header_number(line: &[u8]) -> Option<i64> {
    let digits = line.get(1..)?.strip_suffix(b"\r")?;
    parse_i64(digits)
}

/// Parses a decimal `i64` written the one way Redis's `string2ll` accepts: an optional `-`,
/// digits without a leading zero (`0` alone is fine), no `+`, no spaces. RESP lengths are read
/// this way, and so are a Redis-like server's integer arguments.
///
/// # Examples
///
/// ```
/// use turbine_codec::parse_resp_integer;
///
/// assert_eq!(parse_resp_integer(b"-42"), Some(-42));
/// assert_eq!(parse_resp_integer(b"007"), None);
/// assert_eq!(parse_resp_integer(b"9223372036854775808"), None); // overflow
/// ```
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', ..] if digits.len() <= 19 => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// A byte as Redis's `%c` would show it, but never a line break or invalid UTF-8: the text goes
/// into an error reply.
pub(super) fn printable(byte: u8) -> String {
    if byte.is_ascii_graphic() || byte == b' ' {
        char::from(byte).to_string()
    } else {
        format!("\\x{byte:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header numbers are as strict as Redis's: no `+`, no leading zero, no `-0`, `i64` only.
    #[test]
    fn strict_numbers() {
        for (text, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-1", Some(-1)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("99999999999999999999", None),
            ("", None),
            ("-", None),
            ("-0", None),
            ("00", None),
            ("01", None),
            ("+1", None),
            (" 1", None),
            ("1 ", None),
            ("1a", None),
        ] {
            assert_eq!(parse_i64(text.as_bytes()), want, "{text:?}");
        }
    }

    /// Control and non-ASCII bytes are shown escaped.
    #[test]
    fn printable_bytes() {
        assert_eq!(printable(b'x'), "x");
        assert_eq!(printable(b'\n'), "\\x0a");
        assert_eq!(printable(0xff), "\\xff");
    }
}

/// Which limit a line broke first; see [`find_line`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineOver {
    /// The message's (frame) limit: it is at least this many bytes long.
    Frame(usize),
    /// The line's own limit.
    Line,
}

/// Looks for the `\n` ending the line that starts at `start` of a message that starts at
/// offset 0 of `src`, resuming the search at `searched`: its offset, or `None` when it has not
/// arrived (the caller resumes at `src.len()` next time). Fails when the buffered bytes prove
/// the line's content longer than `line_max` or the message longer than `frame_max`,
/// whichever limit is broken at the smaller offset (the frame's on a tie). Shared by the
/// command and the reply parser, so that the rule is written once.
pub(super) fn find_line(
    src: &[u8],
    start: usize,
    searched: usize,
    line_max: usize,
    frame_max: usize,
) -> Result<Option<usize>, LineOver> {
    let found = memchr::memchr(b'\n', &src[searched..]).map(|i| searched + i);
    // The line's content ends at the newline, or at the end of what has arrived.
    let end = found.unwrap_or(src.len());
    // First offset past the line's limit; the frame's is `frame_max`.
    let line_limit = start.saturating_add(line_max);
    let line_over = line_limit < end;
    // A found newline belongs to the message; what follows it does not, yet.
    let frame_over = match found {
        Some(nl) => frame_max <= nl,
        None => frame_max < src.len(),
    };
    if frame_over && (!line_over || frame_max <= line_limit) {
        return Err(LineOver::Frame(found.map_or(src.len(), |nl| nl + 1)));
    }
    if line_over {
        return Err(LineOver::Line);
    }
    Ok(found)
}
