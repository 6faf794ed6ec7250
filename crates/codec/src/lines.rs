//! `LinesCodec`: `\n`-terminated UTF-8 lines with a maximum length each way.

use crate::splitter::Splitter;
use crate::{CodecError, Decoder, Encoder, FrameLimits, Oversize, ReadBuf};

/// A codec for text lines: each frame is the UTF-8 text before a `\n`.
///
/// Decoding drops the `\n` and one `\r` directly before it, so both `\n` and `\r\n` line endings
/// are accepted. Encoding appends `\n`. [`ByteLinesCodec`](crate::ByteLinesCodec) splits the
/// same way but hands out bytes without checking them.
///
/// The codec has two bounds, its [`FrameLimits`], on a line's content (without its line ending):
/// a line received may have at most [`max_length`](LinesCodec::max_length) bytes, a line
/// written at most [`max_encode_length`](LinesCodec::max_encode_length). The decoder notices as
/// soon as the buffered bytes prove a line is longer than its bound, without waiting for its
/// newline, so a peer that never sends one cannot make it buffer more than that bound plus one
/// read. What happens then is chosen with
/// [`with_oversize`](LinesCodec::with_oversize): by default a fatal
/// [`CodecError::FrameTooLong`]; with [`Oversize::Discard`] one [`CodecError::Discarded`] and
/// the line is skipped through its newline.
///
/// Each line is copied once, from the read buffer into the `String` handed out (the UTF-8 check
/// reuses that allocation).
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
    /// Finds line endings, enforces the bounds, skips over-long lines when told to.
    splitter: Splitter,
}

impl LinesCodec {
    /// A lines codec that accepts lines of at most `limits.decode` bytes and writes lines of at
    /// most `limits.encode` bytes, line ending excluded, and treats a longer line received as a
    /// fatal error. A bare `usize` is both bounds.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{FrameLimits, LinesCodec};
    ///
    /// let same = LinesCodec::new(1024);
    /// assert_eq!((same.max_length(), same.max_encode_length()), (1024, 1024));
    /// let replies_longer = LinesCodec::new(FrameLimits::new(1024, 1 << 20));
    /// assert_eq!(replies_longer.max_encode_length(), 1 << 20);
    /// ```
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        LinesCodec {
            splitter: Splitter::lines(limits.into()),
        }
    }

    /// Chooses what happens to a line received over the decode bound: a fatal error (the
    /// default) or discarding it.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{CodecError, Decoder, LinesCodec, Oversize, ReadBuf};
    ///
    /// let mut codec = LinesCodec::new(3).with_oversize(Oversize::Discard);
    /// let mut input = ReadBuf::from(&b"abcdef"[..]);
    /// // Known too long before its newline: reported once, with the bytes seen so far.
    /// assert_eq!(codec.decode(&mut input), Err(CodecError::Discarded { len: 6, max: 3 }));
    /// assert!(input.is_empty()); // skipped bytes are consumed, not kept
    /// input.extend_from_slice(b"gh\r\nabc\n");
    /// assert_eq!(codec.decode(&mut input), Ok(Some("abc".to_string())));
    /// ```
    #[must_use]
    pub fn with_oversize(mut self, oversize: Oversize) -> Self {
        self.splitter.set_oversize(oversize);
        self
    }

    /// Most content bytes a line received may have, line ending excluded: the decode bound.
    pub const fn max_length(&self) -> usize {
        self.splitter.max_length()
    }

    /// Most content bytes a line to encode may have, line ending excluded: the encode bound.
    pub const fn max_encode_length(&self) -> usize {
        self.splitter.max_encode_length()
    }

    /// Both bounds: [`max_length`](Self::max_length) to decode,
    /// [`max_encode_length`](Self::max_encode_length) to encode.
    pub const fn limits(&self) -> FrameLimits {
        self.splitter.limits()
    }

    /// What happens to a line received over the decode bound.
    pub const fn oversize(&self) -> Oversize {
        self.splitter.oversize()
    }
}

impl Decoder for LinesCodec {
    type Item = String;

    /// Takes the next complete line off the front of `src`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when a line is longer than the decode bound (with
    ///   [`Oversize::Error`]), reported as soon as the buffered bytes without a newline prove it;
    ///   `len` is the line's length if its newline had arrived, otherwise the bytes seen so far.
    /// - [`CodecError::Discarded`] instead, once per over-long line, with [`Oversize::Discard`];
    ///   `len` as above. Not fatal: the next call goes on after the line.
    /// - [`CodecError::InvalidUtf8`] when a complete line is not UTF-8 (the line is consumed).
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<String>, CodecError> {
        match self.splitter.split(src)? {
            Some(line) => String::from_utf8(line)
                .map(Some)
                .map_err(|_| CodecError::InvalidUtf8),
            None => Ok(None),
        }
    }

    /// Returns a last complete line, or `Ok(None)` when the stream ended after a line ending.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when the stream ends inside a line (a last line without its
    /// newline is not handed out). The rest of a line being discarded ends quietly: it was
    /// reported already. Otherwise as [`decode`](Decoder::decode).
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<String>, CodecError> {
        match self.splitter.split_eof(src)? {
            Some(line) => String::from_utf8(line)
                .map(Some)
                .map_err(|_| CodecError::InvalidUtf8),
            None => Ok(None),
        }
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
    /// - [`CodecError::FrameTooLong`] when `item` is longer than the encode bound
    ///   ([`max_encode_length`](LinesCodec::max_encode_length)), which is the error's `max`.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: String, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        self.splitter.encode(item.as_bytes(), dst)
    }
}
