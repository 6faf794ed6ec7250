//! `DelimiterCodec`: frames ended by any byte sequence, with a maximum length each way.

use crate::splitter::Splitter;
use crate::{CodecError, Decoder, Encoder, FrameLimits, Oversize, ReadBuf};

/// A codec for frames ended by a delimiter of one or more bytes, such as `\0`, `\r\n` or
/// `\r\n\r\n`.
///
/// Each frame is the bytes before the next occurrence of the delimiter, which is consumed and
/// dropped; the delimiter is matched literally (unlike [`LinesCodec`](crate::LinesCodec), a
/// delimiter of `\n` does not also strip a `\r`). Encoding appends the delimiter.
///
/// The codec has two bounds, its [`FrameLimits`], on a frame's content (without its delimiter):
/// a frame received may have at most [`max_length`](DelimiterCodec::max_length) bytes, a frame
/// written at most [`max_encode_length`](DelimiterCodec::max_encode_length). The
/// decoder notices as soon as the buffered bytes prove a frame is longer (the last bytes of the
/// buffer that may be the start of the delimiter are not counted), and then fails or discards as
/// chosen with [`with_oversize`](DelimiterCodec::with_oversize). The search resumes where the
/// last call stopped (less the delimiter's length minus one, where a delimiter may straddle two
/// reads), so a frame arriving in pieces is scanned in linear time: `memchr` for a one-byte
/// delimiter, `memchr::memmem` for a longer one.
///
/// Each frame is copied once, from the read buffer into the vector handed out.
///
/// # Examples
///
/// ```
/// use turbine_codec::{DelimiterCodec, Decoder, Encoder, ReadBuf};
///
/// let mut codec = DelimiterCodec::new("\r\n\r\n", 1024);
/// let mut input = ReadBuf::from(&b"Host: a\r\n\r\nHost: b\r\n"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"Host: a".to_vec()));
/// assert_eq!(codec.decode(&mut input).unwrap(), None); // the second waits for its "\r\n\r\n"
///
/// let mut output = Vec::new();
/// codec.encode(b"bye".to_vec(), &mut output).unwrap();
/// assert_eq!(output, b"bye\r\n\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DelimiterCodec {
    /// Finds delimiters, enforces the bounds, skips over-long frames when told to.
    splitter: Splitter,
}

impl DelimiterCodec {
    /// A codec for frames ended by `delimiter`, accepting at most `limits.decode` content bytes
    /// and writing at most `limits.encode`, that treats a longer frame received as a fatal
    /// error. A bare `usize` is both bounds.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    pub fn new(delimiter: impl Into<Vec<u8>>, limits: impl Into<FrameLimits>) -> Self {
        DelimiterCodec {
            splitter: Splitter::delimited(delimiter.into(), limits.into()),
        }
    }

    /// Chooses what happens to a frame received over the decode bound: a fatal error (the
    /// default) or discarding it through its delimiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{CodecError, DelimiterCodec, Decoder, Oversize, ReadBuf};
    ///
    /// let mut codec = DelimiterCodec::new(*b"\0\0", 2).with_oversize(Oversize::Discard);
    /// let mut input = ReadBuf::from(&b"toolong\0\0ok\0\0"[..]);
    /// assert_eq!(codec.decode(&mut input), Err(CodecError::Discarded { len: 7, max: 2 }));
    /// assert_eq!(codec.decode(&mut input), Ok(Some(b"ok".to_vec())));
    /// ```
    #[must_use]
    pub fn with_oversize(mut self, oversize: Oversize) -> Self {
        self.splitter.set_oversize(oversize);
        self
    }

    /// Most content bytes a frame received may have, delimiter excluded: the decode bound.
    pub const fn max_length(&self) -> usize {
        self.splitter.max_length()
    }

    /// Most content bytes a frame to encode may have, delimiter excluded: the encode bound.
    pub const fn max_encode_length(&self) -> usize {
        self.splitter.max_encode_length()
    }

    /// Both bounds: [`max_length`](Self::max_length) to decode,
    /// [`max_encode_length`](Self::max_encode_length) to encode.
    pub const fn limits(&self) -> FrameLimits {
        self.splitter.limits()
    }

    /// What happens to a frame received over the decode bound.
    pub const fn oversize(&self) -> Oversize {
        self.splitter.oversize()
    }

    /// The bytes that end a frame.
    pub fn delimiter(&self) -> &[u8] {
        self.splitter.delimiter()
    }
}

impl Decoder for DelimiterCodec {
    type Item = Vec<u8>;

    /// Takes the next complete frame off the front of `src`, without its delimiter.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when a frame is longer than the decode bound (with
    ///   [`Oversize::Error`]), as soon as the buffered bytes prove it; `len` is the frame's
    ///   length if its delimiter had arrived, otherwise the content bytes seen so far.
    /// - [`CodecError::Discarded`] instead, once per over-long frame, with
    ///   [`Oversize::Discard`]; `len` as above. Not fatal: the next call goes on after the frame.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        self.splitter.split(src)
    }

    /// Returns a last complete frame, or `Ok(None)` when the stream ended after a delimiter.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when the stream ends inside a frame; the rest of a frame being
    /// discarded ends quietly. Otherwise as [`decode`](Decoder::decode).
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        self.splitter.split_eof(src)
    }
}

impl Encoder for DelimiterCodec {
    type Item = Vec<u8>;

    /// Appends `item` and the delimiter to `dst`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::Invalid`] when the decoder would not read `item` back: it contains the
    ///   delimiter, or its last bytes and the delimiter together contain an earlier delimiter
    ///   (with `aba` as the delimiter, `ab` would become `ababa`, read back as an empty frame).
    /// - [`CodecError::FrameTooLong`] when `item` is longer than the encode bound
    ///   ([`max_encode_length`](DelimiterCodec::max_encode_length)), which is the error's `max`.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        self.splitter.encode(&item, dst)
    }
}
