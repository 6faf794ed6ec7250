//! The resumable reply parser behind [`RespClientCodec`](crate::RespClientCodec).
//!
//! The parser keeps its place across calls (the state below, and the arrays it is inside), so
//! every byte is examined once however the stream is split: a line's `\n` is searched for from
//! where the last search stopped, an element is parsed once, when its last byte arrives, and
//! becomes a [`Value`] then, pushed onto the array it belongs to. A reply of `n` elements
//! arriving one byte at a time therefore costs O(bytes + n) in all, not O(bytes × calls).
//!
//! Nesting is a stack of open arrays in a `Vec`, not recursion: a hostile `*1\r\n*1\r\n...`
//! costs one stack entry per level and is refused past [`Limits::depth`].
//!
//! The bytes of an unfinished reply stay in the buffer (the strings are copied out of it as
//! their elements complete), so a stream that ends mid-reply is reported as truncated; when the
//! last element arrives the buffer is advanced past the whole reply.
//!
//! Limits are checked so that every split of a stream gives the same error: a limit is broken
//! at a byte offset (the line's first byte over [`Limits::line`], the reply's first byte over
//! [`Limits::frame`]), and when the buffered bytes prove more than one broken, the one broken
//! at the smaller offset is reported (the reply's, on a tie), as the command parser does.

use std::mem;

use super::Value;
use super::parser::{LineOver, find_line, parse_i64, printable};
use crate::{CodecError, ReadBuf};

/// The bounds on one reply; see [`RespClientCodec`](crate::RespClientCodec).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Most bytes of one reply on the wire.
    pub(crate) frame: usize,
    /// Most bytes of one bulk string.
    pub(crate) bulk: usize,
    /// Most elements of one array.
    pub(crate) array: usize,
    /// Most bytes of a line (from its type byte, before its `\n`).
    pub(crate) line: usize,
    /// Most arrays one inside another.
    pub(crate) depth: usize,
}

/// The type of an element, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `+`: a simple string.
    Simple,
    /// `-`: an error.
    Error,
    /// `:`: an integer.
    Integer,
    /// `$`: a bulk string's length line.
    Bulk,
    /// `*`: an array's count line.
    Array,
}

/// Where the parser is in the current reply. Offsets count from the front of the buffer,
/// where the reply starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the type byte of the element at `at`.
    Element {
        /// Where the element starts.
        at: usize,
    },
    /// In the line of the element at `at`; the bytes from `at` to `searched` hold no `\n`.
    Line {
        /// Where the line (its type byte) starts.
        at: usize,
        /// Where the search for its `\n` resumes.
        searched: usize,
        /// The element's type.
        kind: Kind,
    },
    /// Expecting `len` bytes of a bulk string at `at`, then `\r\n`.
    Data {
        /// Where the string's bytes start.
        at: usize,
        /// How many there are.
        len: usize,
    },
}

/// An array whose elements are still arriving.
#[derive(Debug, Clone)]
struct Open {
    /// The elements complete so far.
    items: Vec<Value>,
    /// How many elements the array's header announced; more than `items.len()`.
    len: usize,
}

// hiredis's wording, where hiredis has a word for it.
const BAD_SIMPLE: &str = "Bad simple string value";
const BAD_INTEGER: &str = "Bad integer value";
const BAD_BULK_LENGTH: &str = "Bad bulk string length";
const BULK_OUT_OF_RANGE: &str = "Bulk string length out of range";
const BAD_MULTIBULK_LENGTH: &str = "Bad multi-bulk length";
const MULTIBULK_OUT_OF_RANGE: &str = "Multi-bulk length out of range";
const TOO_DEEP: &str = "Max nesting depth exceeded";
const BULK_CRLF: &str = "Bad bulk string value: no CRLF after its bytes";
const LINE_TOO_LONG: &str = "Line too long";

/// The reply parser: limits, state, and the arrays the current element is inside.
#[derive(Debug, Clone)]
pub(crate) struct ReplyParser {
    /// The bounds; set by the codec's builder methods.
    pub(crate) limits: Limits,
    /// Where the current reply stands; changed by every parse.
    state: State,
    /// The arrays the current element is inside, outermost first: at most `limits.depth`.
    open: Vec<Open>,
}

impl ReplyParser {
    /// A parser between replies.
    pub(crate) const fn new(limits: Limits) -> Self {
        ReplyParser {
            limits,
            state: State::Element { at: 0 },
            open: Vec::new(),
        }
    }

    /// Takes the next complete reply off the front of `src`; see
    /// [`RespClientCodec`](crate::RespClientCodec)'s `decode`.
    pub(crate) fn parse(&mut self, src: &mut ReadBuf) -> Result<Option<Value>, CodecError> {
        loop {
            // Each arm either moves to the next state or completes an element: its value and
            // the offset just past it.
            let (value, end) = match self.state {
                State::Element { at } => {
                    let Some(&first) = src.get(at) else {
                        return Ok(None);
                    };
                    if at >= self.limits.frame {
                        return Err(self.too_long(at as u64 + 1));
                    }
                    let kind = match first {
                        b'+' => Kind::Simple,
                        b'-' => Kind::Error,
                        b':' => Kind::Integer,
                        b'$' => Kind::Bulk,
                        b'*' => Kind::Array,
                        other => {
                            return Err(CodecError::invalid(format!(
                                "Protocol error, got \"{}\" as reply type byte",
                                printable(other)
                            )));
                        }
                    };
                    self.state = State::Line {
                        at,
                        searched: at + 1,
                        kind,
                    };
                    continue;
                }
                State::Line { at, searched, kind } => {
                    let Some(nl) = self.line(src, at, searched, kind)? else {
                        return Ok(None);
                    };
                    match self.line_element(src, at, nl, kind)? {
                        Some(value) => (value, nl + 1),
                        // A bulk string's bytes or an array's elements follow.
                        None => continue,
                    }
                }
                State::Data { at, len } => {
                    // `at + len + 2` was checked against the frame limit at the header.
                    let end = at + len;
                    if src.len() < end + 2 {
                        return Ok(None);
                    }
                    if src[end..end + 2] != *b"\r\n" {
                        return Err(CodecError::invalid(BULK_CRLF));
                    }
                    (Value::Bulk(src[at..end].to_vec()), end + 2)
                }
            };
            if let Some(reply) = self.complete(value, end) {
                src.advance(end);
                return Ok(Some(reply));
            }
        }
    }

    /// Reads the line of an element of type `kind` at `at`, its `\n` at `nl`: the element's
    /// value for a line that is the whole element, or `None` after moving on to a bulk
    /// string's bytes or an array's first element.
    fn line_element(
        &mut self,
        src: &ReadBuf,
        at: usize,
        nl: usize,
        kind: Kind,
    ) -> Result<Option<Value>, CodecError> {
        // What lies between the type byte and `\r\n`; `None` if the `\n` has no `\r` before it.
        let text = src[at + 1..nl].strip_suffix(b"\r");
        let value = match kind {
            Kind::Simple | Kind::Error => {
                let text = text
                    .filter(|text| memchr::memchr(b'\r', text).is_none())
                    .ok_or_else(|| CodecError::invalid(BAD_SIMPLE))?
                    .to_vec();
                if kind == Kind::Simple {
                    Value::Simple(text)
                } else {
                    Value::Error(text)
                }
            }
            Kind::Integer => text
                .and_then(parse_i64)
                .map(Value::Integer)
                .ok_or_else(|| CodecError::invalid(BAD_INTEGER))?,
            Kind::Bulk => {
                let len = text
                    .and_then(parse_i64)
                    .ok_or_else(|| CodecError::invalid(BAD_BULK_LENGTH))?;
                if len == -1 {
                    return Ok(Some(Value::Null));
                }
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= self.limits.bulk)
                    .ok_or_else(|| CodecError::invalid(BULK_OUT_OF_RANGE))?;
                // Refused on the header's word, before any of its bytes are waited for.
                let end = (nl + 1).checked_add(len).and_then(|end| end.checked_add(2));
                match end {
                    Some(end) if end <= self.limits.frame => {}
                    _ => {
                        let len = (nl as u64 + 3).saturating_add(len as u64);
                        return Err(self.too_long(len));
                    }
                }
                self.state = State::Data { at: nl + 1, len };
                return Ok(None);
            }
            Kind::Array => {
                let len = text
                    .and_then(parse_i64)
                    .ok_or_else(|| CodecError::invalid(BAD_MULTIBULK_LENGTH))?;
                if len == -1 {
                    return Ok(Some(Value::NullArray));
                }
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= self.limits.array)
                    .ok_or_else(|| CodecError::invalid(MULTIBULK_OUT_OF_RANGE))?;
                if self.open.len() >= self.limits.depth {
                    return Err(CodecError::invalid(TOO_DEEP));
                }
                if len == 0 {
                    return Ok(Some(Value::Array(Vec::new())));
                }
                // Reserve on what has arrived, never on the count's word: each element takes
                // at least 3 bytes (`+\r\n`), so the buffered bytes bound how many can follow.
                let arrived = (src.len() - (nl + 1)) / 3;
                self.open.push(Open {
                    items: Vec::with_capacity(len.min(arrived)),
                    len,
                });
                self.state = State::Element { at: nl + 1 };
                return Ok(None);
            }
        };
        Ok(Some(value))
    }

    /// Files the element `value`, which ends at `end`, into the array it belongs to, closing
    /// every array it completes. Returns the reply when it was the last element of the
    /// outermost array, or a reply on its own; otherwise expects the next element at `end`.
    fn complete(&mut self, mut value: Value, end: usize) -> Option<Value> {
        while let Some(open) = self.open.last_mut() {
            open.items.push(value);
            if open.items.len() < open.len {
                self.state = State::Element { at: end };
                return None;
            }
            // The innermost array is complete: it becomes an element of the one around it.
            value = Value::Array(mem::take(&mut open.items));
            self.open.pop();
        }
        self.state = State::Element { at: 0 };
        Some(value)
    }

    /// Looks for the `\n` ending the line that starts at `at`, resuming at `searched`.
    ///
    /// Returns its offset, or `None` (remembering how far it searched) when it has not arrived.
    /// Fails when the buffered bytes prove the line over the line limit or the reply over the
    /// frame limit, whichever is broken first (see the module docs).
    fn line(
        &mut self,
        src: &[u8],
        at: usize,
        searched: usize,
        kind: Kind,
    ) -> Result<Option<usize>, CodecError> {
        let found =
            find_line(src, at, searched, self.limits.line, self.limits.frame).map_err(|over| {
                match over {
                    LineOver::Frame(len) => self.too_long(len as u64),
                    LineOver::Line => CodecError::invalid(LINE_TOO_LONG),
                }
            })?;
        if found.is_none() {
            self.state = State::Line {
                at,
                searched: src.len(),
                kind,
            };
        }
        Ok(found)
    }

    /// The error for a reply known to be at least `len` bytes long.
    fn too_long(&self, len: u64) -> CodecError {
        CodecError::FrameTooLong {
            len,
            max: self.limits.frame,
        }
    }
}
