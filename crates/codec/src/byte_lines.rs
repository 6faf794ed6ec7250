//! `ByteLinesCodec`: `\n`-terminated lines as bytes, with no UTF-8 check.

use crate::splitter::Splitter;
use crate::{CodecError, Decoder, Encoder, FrameLimits, Oversize, ReadBuf};

/// A codec for lines of arbitrary bytes: each frame is the bytes before a `\n`.
///
/// It splits exactly like [`LinesCodec`](crate::LinesCodec) (the same code does it): `\n` and
/// `\r\n` endings, the same two bounds ([`FrameLimits`]), fail-fast and [`Oversize`] choice. The
/// difference is the frame: a `Vec<u8>`, never checked for UTF-8, for protocols that are mostly
/// text but may carry other bytes, or that check the encoding themselves.
///
/// Each line is copied once, from the read buffer into the vector handed out.
///
/// # Examples
///
/// ```
/// use turbine_codec::{ByteLinesCodec, Decoder, Encoder, ReadBuf};
///
/// let mut codec = ByteLinesCodec::new(64);
/// let mut input = ReadBuf::from(&b"caf\xe9\r\nnext"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"caf\xe9".to_vec())); // Latin-1, kept
/// assert_eq!(codec.decode(&mut input).unwrap(), None);
///
/// let mut output = Vec::new();
/// codec.encode(b"\xff".to_vec(), &mut output).unwrap();
/// assert_eq!(output, b"\xff\n");
/// ```
#[derive(Debug, Clone)]
pub struct ByteLinesCodec {
    /// Finds line endings, enforces the bounds, skips over-long lines when told to.
    splitter: Splitter,
}

impl ByteLinesCodec {
    /// A byte-lines codec that accepts lines of at most `limits.decode` bytes and writes lines
    /// of at most `limits.encode` bytes, line ending excluded, and treats a longer line received
    /// as a fatal error. A bare `usize` is both bounds.
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        ByteLinesCodec {
            splitter: Splitter::lines(limits.into()),
        }
    }

    /// Chooses what happens to a line received over the decode bound: a fatal error (the
    /// default) or discarding it.
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

impl Decoder for ByteLinesCodec {
    type Item = Vec<u8>;

    /// Takes the next complete line off the front of `src`.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] or [`CodecError::Discarded`] for a line over the decode bound,
    /// as for [`LinesCodec`](crate::LinesCodec).
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        self.splitter.split(src)
    }

    /// Returns a last complete line, or `Ok(None)` when the stream ended after a line ending.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when the stream ends inside a line; the rest of a line being
    /// discarded ends quietly. Otherwise as [`decode`](Decoder::decode).
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        self.splitter.split_eof(src)
    }
}

impl Encoder for ByteLinesCodec {
    type Item = Vec<u8>;

    /// Appends `item` and a `\n` to `dst`.
    ///
    /// A line ending in `\r` is written as it is, and the decoder would read it back without
    /// that `\r`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::Invalid`] when `item` contains a `\n`.
    /// - [`CodecError::FrameTooLong`] when `item` is longer than the encode bound
    ///   ([`max_encode_length`](ByteLinesCodec::max_encode_length)), which is the error's `max`.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        self.splitter.encode(&item, dst)
    }
}
