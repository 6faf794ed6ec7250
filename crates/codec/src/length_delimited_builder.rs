//! `LengthDelimitedBuilder`: the head layout of a [`LengthDelimitedCodec`].

use crate::{FrameLimits, LengthDelimitedCodec};

/// The maximum frame, both ways, of a builder that was not given one: 8 MiB.
pub(crate) const DEFAULT_MAX_FRAME: usize = 8 << 20;

/// Describes the head of a length-delimited protocol and builds a [`LengthDelimitedCodec`] for
/// it.
///
/// A frame on the wire is a head of [`length_field_offset`](Self::length_field_offset) +
/// [`length_field_length`](Self::length_field_length) bytes (the length field is its last part),
/// followed by *value* + [`length_adjustment`](Self::length_adjustment) more bytes, where *value*
/// is the length field read as an unsigned integer. The decoder hands out that whole frame less
/// its first [`num_skip`](Self::num_skip) bytes (by default the whole head, so the frame is what
/// follows it). This is the layout of tokio-util's `length_delimited` builder and of Netty's
/// `LengthFieldBasedFrameDecoder`, counted from the end of the head: tokio-util counts the
/// adjusted length from the end of the skipped bytes instead, which gives the same frames
/// whenever `num_skip` is left at its default.
///
/// | setting | default |
/// |---|---|
/// | [`length_field_length`](Self::length_field_length) | 4 |
/// | [`big_endian`](Self::big_endian) / [`little_endian`](Self::little_endian) | big endian |
/// | [`length_field_offset`](Self::length_field_offset) | 0 |
/// | [`length_adjustment`](Self::length_adjustment) | 0 |
/// | [`num_skip`](Self::num_skip) | offset + field length: the whole head |
/// | [`max_frame_length`](Self::max_frame_length) | 8 MiB |
/// | [`max_encode_length`](Self::max_encode_length) | the maximum frame length |
///
/// # Examples
///
/// A one-byte type, a 2-byte little-endian length that counts the whole frame, then the payload;
/// the handler gets the type byte and the payload:
///
/// ```
/// use turbine_codec::{Decoder, Encoder, LengthDelimitedCodec, ReadBuf};
///
/// let mut codec = LengthDelimitedCodec::builder()
///     .length_field_offset(1)
///     .length_field_length(2)
///     .little_endian()
///     .length_adjustment(-3) // the value counts the head too
///     .num_skip(0)
///     .max_frame_length(1024)
///     .new_codec();
/// let mut input = ReadBuf::from(&b"\x07\x05\x00hi"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"\x07\x05\x00hi".to_vec()));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LengthDelimitedBuilder {
    /// Bytes in the length field: 1, 2, 4 or 8.
    pub(crate) field_len: usize,
    /// Bytes of the head before the length field.
    pub(crate) field_offset: usize,
    /// Added to the length field's value to get the number of bytes after the head.
    pub(crate) adjustment: isize,
    /// Bytes dropped from the front of each frame; `None` for the whole head.
    pub(crate) num_skip: Option<usize>,
    /// Whether the length field is big-endian (network order) rather than little-endian.
    pub(crate) big_endian: bool,
    /// Most bytes a decoded frame (after skipping) may have, and most an encoded item may have.
    pub(crate) limits: FrameLimits,
}

impl LengthDelimitedBuilder {
    /// A builder with the defaults: a 4-byte big-endian length of the payload that follows it,
    /// a maximum frame of 8 MiB to decode and to encode.
    pub const fn new() -> Self {
        LengthDelimitedBuilder {
            field_len: 4,
            field_offset: 0,
            adjustment: 0,
            num_skip: None,
            big_endian: true,
            limits: FrameLimits::symmetric(DEFAULT_MAX_FRAME),
        }
    }

    /// Sets the size of the length field in bytes.
    ///
    /// # Panics
    ///
    /// If `bytes` is not 1, 2, 4 or 8.
    pub fn length_field_length(&mut self, bytes: usize) -> &mut Self {
        assert!(
            matches!(bytes, 1 | 2 | 4 | 8),
            "a length field has 1, 2, 4 or 8 bytes, not {bytes}"
        );
        self.field_len = bytes;
        self
    }

    /// Reads and writes the length field most significant byte first (the default).
    pub fn big_endian(&mut self) -> &mut Self {
        self.big_endian = true;
        self
    }

    /// Reads and writes the length field least significant byte first.
    pub fn little_endian(&mut self) -> &mut Self {
        self.big_endian = false;
        self
    }

    /// Sets how many bytes of the head come before the length field.
    ///
    /// The encoder writes them as zeros.
    pub fn length_field_offset(&mut self, bytes: usize) -> &mut Self {
        self.field_offset = bytes;
        self
    }

    /// Sets what is added to the length field's value to get the number of bytes that follow
    /// the head: negative when the value counts (part of) the head too, positive when bytes
    /// after the head are not counted.
    pub fn length_adjustment(&mut self, adjustment: isize) -> &mut Self {
        self.adjustment = adjustment;
        self
    }

    /// Sets how many bytes are dropped from the front of each decoded frame, counted from the
    /// start of the head: 0 hands out the head too, the default drops the whole head, more
    /// drops bytes after it as well.
    pub fn num_skip(&mut self, bytes: usize) -> &mut Self {
        self.num_skip = Some(bytes);
        self
    }

    /// Sets the most bytes a decoded frame may have (after the skipped bytes are dropped), and
    /// the most an item to encode may have: both of the codec's [`FrameLimits`].
    ///
    /// A head announcing a longer frame is refused as soon as it arrives, before anything is
    /// allocated or awaited, so at most this plus `num_skip` bytes of a frame are ever buffered.
    ///
    /// This sets the encode bound too, replacing what an earlier
    /// [`max_encode_length`](Self::max_encode_length) set: for a different encode bound, call
    /// that one after this.
    pub fn max_frame_length(&mut self, bytes: usize) -> &mut Self {
        self.limits = FrameLimits::symmetric(bytes);
        self
    }

    /// Sets the most bytes an item to encode may have, leaving the decode bound as it is; a
    /// longer item is refused with [`CodecError::FrameTooLong`](crate::CodecError::FrameTooLong)
    /// naming this bound. By default it equals the maximum frame length.
    ///
    /// The order of the calls matters: a later [`max_frame_length`](Self::max_frame_length)
    /// sets both bounds again.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{FrameLimits, LengthDelimitedCodec};
    ///
    /// let codec = LengthDelimitedCodec::builder()
    ///     .max_frame_length(1024) // requests
    ///     .max_encode_length(1 << 20) // replies
    ///     .new_codec();
    /// assert_eq!(codec.limits(), FrameLimits::new(1024, 1 << 20));
    ///
    /// // In the other order, max_frame_length sets both again.
    /// let codec = LengthDelimitedCodec::builder()
    ///     .max_encode_length(1 << 20)
    ///     .max_frame_length(1024)
    ///     .new_codec();
    /// assert_eq!(codec.max_encode_frame(), 1024);
    /// ```
    pub fn max_encode_length(&mut self, bytes: usize) -> &mut Self {
        self.limits.encode = bytes;
        self
    }

    /// A codec with this configuration.
    ///
    /// # Panics
    ///
    /// If the head's length, offset plus field length, overflows `usize`.
    pub fn new_codec(&self) -> LengthDelimitedCodec {
        LengthDelimitedCodec::from_builder(*self)
    }
}

impl Default for LengthDelimitedBuilder {
    fn default() -> Self {
        LengthDelimitedBuilder::new()
    }
}
