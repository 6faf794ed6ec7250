//! `LinesCodec`: `\n`-terminated UTF-8 lines with a maximum length.

use crate::{CodecError, Decoder, Encoder, ReadBuf};

/// A codec for text lines: each frame is the UTF-8 text before a `\n`.
///
/// Decoding drops the `\n` and one `\r` directly before it, so both `\n` and `\r\n` line endings
/// are accepted. Encoding appends `\n`.
///
/// A line's content (without its line ending) may be at most [`max_length`](LinesCodec::max_length)
/// bytes. The decoder fails as soon as the buffered bytes prove a line is longer, without waiting
/// for its newline, so a peer that never sends one cannot make it buffer more than the maximum
/// plus one read.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, Encoder, LinesCodec, ReadBuf};
///
/// let mut codec = LinesCodec::new(64);
/// let mut input = ReadBuf::from(&b"GET\r\nPUT\nhalf"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some("GET".to_string()));
/// assert_eq!(codec.decode(&mut input).unwrap(), Some("PUT".to_string()));
/// assert_eq!(codec.decode(&mut input).unwrap(), None); // "half" waits for its newline
///
/// let mut output = Vec::new();
/// codec.encode("OK".to_string(), &mut output).unwrap();
/// assert_eq!(output, b"OK\n");
/// ```
#[derive(Debug, Clone)]
pub struct LinesCodec {
    /// Most content bytes a line may have, line ending excluded.
    max_length: usize,
    /// How many buffered bytes are already known to hold no `\n`.
    next_index: usize,
}

impl LinesCodec {
    /// A lines codec that accepts lines of at most `max_length` bytes, line ending excluded.
    pub const fn new(max_length: usize) -> Self {
        LinesCodec {
            max_length,
            next_index: 0,
        }
    }

    /// Most content bytes a line may have, line ending excluded.
    pub const fn max_length(&self) -> usize {
        self.max_length
    }

    fn too_long(&self, len: usize) -> CodecError {
        CodecError::FrameTooLong {
            len: len as u64,
            max: self.max_length,
        }
    }
}

impl Decoder for LinesCodec {
    type Item = String;

    /// Takes the next complete line off the front of `src`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when a line is longer than the maximum, reported as soon as
    ///   the buffered bytes without a newline prove it.
    /// - [`CodecError::InvalidUtf8`] when a complete line is not UTF-8.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<String>, CodecError> {
        // Resuming where the last call stopped keeps a line that arrives in pieces linear.
        let start = self.next_index.min(src.len());
        let Some(offset) = memchr::memchr(b'\n', &src[start..]) else {
            self.next_index = src.len();
            // A trailing `\r` may still turn out to be part of the line ending.
            let content = match src.last() {
                Some(b'\r') => src.len() - 1,
                _ => src.len(),
            };
            if content > self.max_length {
                return Err(self.too_long(content));
            }
            return Ok(None);
        };
        let newline = start + offset;
        self.next_index = 0;
        let end = if newline > 0 && src[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        // A long line can still arrive whole, newline included, in one read.
        if end > self.max_length {
            return Err(self.too_long(end));
        }
        let mut line = src.split_to(newline + 1);
        line.truncate(end);
        String::from_utf8(line)
            .map(Some)
            .map_err(|_| CodecError::InvalidUtf8)
    }
}

impl Encoder for LinesCodec {
    type Item = String;

    /// Appends `item` and a `\n` to `dst`.
    ///
    /// A line ending in `\r` is written as it is, and the decoder would read it back without
    /// that `\r`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::Invalid`] when `item` contains a `\n`.
    /// - [`CodecError::FrameTooLong`] when `item` is longer than the maximum.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: String, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        if memchr::memchr(b'\n', item.as_bytes()).is_some() {
            return Err(CodecError::invalid("line contains a newline"));
        }
        if item.len() > self.max_length {
            return Err(self.too_long(item.len()));
        }
        dst.reserve(item.len() + 1);
        dst.extend_from_slice(item.as_bytes());
        dst.push(b'\n');
        Ok(())
    }
}
