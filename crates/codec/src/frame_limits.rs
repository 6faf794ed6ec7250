//! `FrameLimits`: the largest frame a codec decodes and the largest it encodes.

/// The largest frame a codec decodes (what the peer may send) and the largest it encodes (what we
/// may send).
///
/// Every bounded stock codec ([`LinesCodec`](crate::LinesCodec),
/// [`ByteLinesCodec`](crate::ByteLinesCodec), [`DelimiterCodec`](crate::DelimiterCodec),
/// [`LengthDelimitedCodec`](crate::LengthDelimitedCodec),
/// [`VarintLengthCodec`](crate::VarintLengthCodec)) takes its limits as
/// `impl Into<FrameLimits>`, so a plain `usize` still works and sets both bounds alike.
///
/// The two bounds are independent:
///
/// - [`decode`](FrameLimits::decode) protects this side: a frame received over it is refused
///   with [`CodecError::FrameTooLong`](crate::CodecError::FrameTooLong) (or skipped, for a
///   delimiter codec set to [`Oversize::Discard`](crate::Oversize::Discard)), and it bounds
///   what a hostile peer can make the decoder buffer.
/// - [`encode`](FrameLimits::encode) protects the peer: a frame over it is refused by the
///   encoder with `CodecError::FrameTooLong { max: encode, .. }`, leaving the output as it was.
///
/// A server's replies are often much longer than its requests (a request `GET k`, a reply of
/// 1 MiB), so a larger encode bound is common. What one side encodes, the other side decodes
/// back as long as the peer's decode bound is at least this side's encode bound.
///
/// What a frame's length counts is the codec's own: a line's content without its line ending,
/// a delimited frame without its delimiter, a length-delimited frame after its skipped bytes, a
/// varint-length frame's payload.
///
/// # Examples
///
/// ```
/// use turbine_codec::{CodecError, Decoder, Encoder, FrameLimits, LinesCodec, ReadBuf};
///
/// // Requests of at most 16 bytes, replies of at most 64.
/// let mut server = LinesCodec::new(FrameLimits::new(16, 64));
/// assert_eq!(server.limits(), FrameLimits { decode: 16, encode: 64 });
///
/// let mut input = ReadBuf::from(&b"GET k\n"[..]);
/// assert_eq!(server.decode(&mut input).unwrap(), Some("GET k".to_string()));
///
/// let mut output = Vec::new();
/// server.encode("v".repeat(40), &mut output).unwrap(); // over 16, within 64
/// assert_eq!(
///     server.encode("v".repeat(65), &mut output),
///     Err(CodecError::FrameTooLong { len: 65, max: 64 })
/// );
///
/// // A client reads the reply back with a decode bound at least the server's encode bound.
/// let mut client = LinesCodec::new(64);
/// let mut replies = ReadBuf::from(&output[..]);
/// assert_eq!(client.decode(&mut replies).unwrap(), Some("v".repeat(40)));
///
/// // A bare `usize` is both bounds.
/// assert_eq!(FrameLimits::from(1024), FrameLimits::symmetric(1024));
/// assert_eq!(LinesCodec::new(1024).limits(), FrameLimits::new(1024, 1024));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameLimits {
    /// Most bytes a frame received from the peer may have: a longer one is refused by the
    /// decoder.
    pub decode: usize,
    /// Most bytes a frame sent to the peer may have: a longer one is refused by the encoder.
    pub encode: usize,
}

impl FrameLimits {
    /// Limits of at most `decode` bytes per frame received and `encode` bytes per frame sent.
    pub const fn new(decode: usize, encode: usize) -> Self {
        FrameLimits { decode, encode }
    }

    /// The same limit, `max` bytes, for frames received and frames sent.
    pub const fn symmetric(max: usize) -> Self {
        FrameLimits::new(max, max)
    }
}

impl From<usize> for FrameLimits {
    /// Both bounds `max`: the same as [`FrameLimits::symmetric`].
    fn from(max: usize) -> Self {
        FrameLimits::symmetric(max)
    }
}
