//! `Oversize`: what a delimiter-based codec does with a frame received over its maximum.

/// What a delimiter-based codec ([`LinesCodec`](crate::LinesCodec),
/// [`ByteLinesCodec`](crate::ByteLinesCodec), [`DelimiterCodec`](crate::DelimiterCodec)) does
/// when a frame it decodes is longer than its decode bound
/// ([`FrameLimits::decode`](crate::FrameLimits::decode)). The encoder always refuses a frame over
/// its encode bound.
///
/// Either way the decoder notices as soon as the buffered bytes prove the frame too long, without
/// waiting for its delimiter, so a peer that never sends one cannot make it buffer more than the
/// decode bound plus one read.
///
/// # Examples
///
/// ```
/// use turbine_codec::{CodecError, Decoder, LinesCodec, Oversize, ReadBuf};
///
/// let mut codec = LinesCodec::new(4).with_oversize(Oversize::Discard);
/// let mut input = ReadBuf::from(&b"much too long\nok\n"[..]);
/// assert_eq!(
///     codec.decode(&mut input),
///     Err(CodecError::Discarded { len: 13, max: 4 })
/// );
/// assert_eq!(codec.decode(&mut input), Ok(Some("ok".to_string())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Report [`CodecError::FrameTooLong`](crate::CodecError::FrameTooLong), a fatal error: the
    /// reactor tells the handler and closes the connection. The default.
    #[default]
    Error,
    /// Report [`CodecError::Discarded`](crate::CodecError::Discarded) once for the frame, then
    /// skip its bytes up to and including the next delimiter, consuming them as they arrive, and
    /// go on decoding after it.
    Discard,
}
