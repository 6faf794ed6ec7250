//! `LengthDelimitedCodec`: frames announced by a length field in a head.

use crate::{CodecError, Decoder, Encoder, FrameLimits, LengthDelimitedBuilder, ReadBuf};

/// A codec for length-prefixed frames.
///
/// [`new`](LengthDelimitedCodec::new) gives the common layout: a big-endian `u32` payload
/// length, then the payload. The length counts the payload only, not the header. Other layouts
/// (1, 2 or 8-byte fields, little endian, bytes before the field, a length that counts the head,
/// keeping the head in the frame) come from [`builder`](LengthDelimitedCodec::builder); see
/// [`LengthDelimitedBuilder`] for what each setting means.
///
/// The codec has two bounds, its [`FrameLimits`]: a frame received may have at most
/// [`max_frame`](LengthDelimitedCodec::max_frame) bytes (after the skipped bytes are dropped), an
/// item written at most [`max_encode_frame`](LengthDelimitedCodec::max_encode_frame).
///
/// Zero-length frames are valid. A head announcing more than
/// [`max_frame`](LengthDelimitedCodec::max_frame) bytes is refused as soon as it arrives, before
/// anything is allocated for the frame or any of it is awaited; all length arithmetic is checked,
/// so no head, however hostile, overflows or panics. The decoder never reserves memory on the
/// strength of a header: the frame is copied once, from the read buffer into the vector handed
/// out, when it has all arrived.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, Encoder, LengthDelimitedCodec, ReadBuf};
///
/// let mut codec = LengthDelimitedCodec::new(1024);
/// let mut input = ReadBuf::from(&b"\x00\x00\x00\x03abc\x00\x00"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"abc".to_vec()));
/// assert_eq!(codec.decode(&mut input).unwrap(), None); // half a header
///
/// let mut output = Vec::new();
/// codec.encode(b"hi".to_vec(), &mut output).unwrap();
/// assert_eq!(output, b"\x00\x00\x00\x02hi");
/// ```
#[derive(Debug, Clone)]
pub struct LengthDelimitedCodec {
    /// The head layout and the bounds.
    config: LengthDelimitedBuilder,
    /// Bytes in the head: the length field's offset plus its length.
    head_len: usize,
    /// Bytes dropped from the front of each frame.
    num_skip: usize,
    /// Whether the decoder is waiting for a head or for the rest of a frame.
    state: DecodeState,
}

/// Where the decoder is within a frame.
#[derive(Debug, Clone, Copy)]
enum DecodeState {
    /// Waiting for the head of the next frame.
    Head,
    /// The head was read and checked (it is still buffered); waiting until this many bytes, head
    /// included, are buffered.
    Data(usize),
}

impl LengthDelimitedCodec {
    /// A codec for a 4-byte big-endian payload length then the payload, accepting payloads of
    /// at most `limits.decode` bytes and writing payloads of at most `limits.encode` bytes. A
    /// bare `usize` is both bounds.
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        let mut config = LengthDelimitedBuilder::new();
        config.limits = limits.into();
        LengthDelimitedCodec {
            config,
            head_len: 4,
            num_skip: 4,
            state: DecodeState::Head,
        }
    }

    /// A builder for other head layouts, starting from the defaults of
    /// [`LengthDelimitedBuilder::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{Decoder, Encoder, LengthDelimitedCodec, ReadBuf};
    ///
    /// let mut codec = LengthDelimitedCodec::builder()
    ///     .length_field_length(2)
    ///     .little_endian()
    ///     .max_frame_length(512)
    ///     .new_codec();
    /// let mut output = Vec::new();
    /// codec.encode(b"abc".to_vec(), &mut output).unwrap();
    /// assert_eq!(output, b"\x03\x00abc");
    /// let mut input = ReadBuf::from(&output[..]);
    /// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"abc".to_vec()));
    /// ```
    pub const fn builder() -> LengthDelimitedBuilder {
        LengthDelimitedBuilder::new()
    }

    /// Builds the codec; see [`LengthDelimitedBuilder::new_codec`].
    pub(crate) fn from_builder(config: LengthDelimitedBuilder) -> Self {
        let head_len = config
            .field_offset
            .checked_add(config.field_len)
            .expect("length field offset plus length overflows usize");
        LengthDelimitedCodec {
            config,
            head_len,
            num_skip: config.num_skip.unwrap_or(head_len),
            state: DecodeState::Head,
        }
    }

    /// Most bytes a decoded frame may have, after the skipped bytes are dropped: the decode
    /// bound.
    pub const fn max_frame(&self) -> usize {
        self.config.limits.decode
    }

    /// Most bytes an item to encode may have: the encode bound.
    pub const fn max_encode_frame(&self) -> usize {
        self.config.limits.encode
    }

    /// Both bounds: [`max_frame`](Self::max_frame) to decode,
    /// [`max_encode_frame`](Self::max_encode_frame) to encode.
    pub const fn limits(&self) -> FrameLimits {
        self.config.limits
    }

    /// Reads the length field out of a whole head.
    fn field_value(&self, head: &[u8]) -> u64 {
        let field = &head[self.config.field_offset..self.head_len];
        let fold = |value: u64, &byte: &u8| (value << 8) | u64::from(byte);
        if self.config.big_endian {
            field.iter().fold(0, fold)
        } else {
            field.iter().rev().fold(0, fold)
        }
    }

    /// The length, head included, of the frame whose whole head starts `src`, checked against
    /// `max`, the bound on the frame after its skipped bytes.
    fn frame_end(&self, src: &[u8], max: usize) -> Result<usize, CodecError> {
        let value = self.field_value(src);
        // i128 holds every sum here exactly (each term is below 2^64 in size), so a hostile
        // value cannot overflow; what does not fit a `usize` is refused below.
        let whole = self.head_len as i128 + i128::from(value) + self.config.adjustment as i128;
        if whole < self.head_len as i128 {
            return Err(CodecError::invalid(format!(
                "length field {value} plus adjustment {} is negative",
                self.config.adjustment
            )));
        }
        let frame = whole - self.num_skip as i128;
        if frame < 0 {
            return Err(CodecError::invalid(format!(
                "frame of {whole} bytes is shorter than the {} bytes to skip",
                self.num_skip
            )));
        }
        let too_long = CodecError::FrameTooLong {
            len: u64::try_from(frame).unwrap_or(u64::MAX),
            max,
        };
        if frame > max as i128 {
            return Err(too_long);
        }
        usize::try_from(whole).map_err(|_| too_long)
    }

    /// Writes `value` into a length field of the configured size and byte order.
    fn put_field(&self, value: u64, dst: &mut Vec<u8>) {
        let len = self.config.field_len;
        if self.config.big_endian {
            dst.extend_from_slice(&value.to_be_bytes()[8 - len..]);
        } else {
            dst.extend_from_slice(&value.to_le_bytes()[..len]);
        }
    }

    /// Largest value the length field can hold.
    fn field_max(&self) -> u64 {
        u64::MAX >> (64 - 8 * self.config.field_len)
    }
}

impl Decoder for LengthDelimitedCodec {
    type Item = Vec<u8>;

    /// Takes the next complete frame off the front of `src`, less its first `num_skip` bytes.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when a head announces a frame over the decode bound, reported
    ///   as soon as the head is complete.
    /// - [`CodecError::Invalid`] when the length field plus the adjustment is negative, or the
    ///   frame is shorter than the bytes to skip.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        let end = match self.state {
            DecodeState::Head => {
                if src.len() < self.head_len {
                    return Ok(None);
                }
                let end = self.frame_end(src, self.config.limits.decode)?;
                self.state = DecodeState::Data(end);
                end
            }
            DecodeState::Data(end) => end,
        };
        if src.len() < end {
            return Ok(None);
        }
        self.state = DecodeState::Head;
        src.advance(self.num_skip);
        Ok(Some(src.split_to(end - self.num_skip)))
    }

    // `decode_eof` is the trait's default: the head stays buffered until its frame is complete,
    // so any bytes left at end of stream are a truncated frame, reported with all of them
    // (head included) as `buffered`.
}

impl Encoder for LengthDelimitedCodec {
    type Item = Vec<u8>;

    /// Appends `item` as one frame, so that [`decode`](Decoder::decode) reads back exactly
    /// `item`.
    ///
    /// - With `num_skip` at least the head's length (the default is equal): writes the
    ///   `length_field_offset` bytes before the field as zeros, the length field (the bytes that
    ///   follow the head, less the adjustment), `num_skip` minus the head's length zero bytes,
    ///   then `item`.
    /// - With `num_skip` 0 the frames carry their own head: `item` is checked to start with a
    ///   head announcing exactly its length and is written as it is.
    /// - Any other `num_skip` cuts through the head, which cannot be rebuilt: an error.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when `item` is longer than the encode bound
    ///   ([`max_encode_frame`](LengthDelimitedCodec::max_encode_frame)) or than the length field
    ///   can announce; `max` is the longest item it can write, the smaller of the two.
    /// - [`CodecError::Invalid`] when `item` is too short for the adjustment, its own head does
    ///   not match its length (`num_skip` 0), or `num_skip` cuts through the head.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let max = self.config.limits.encode;
        if item.len() > max {
            return Err(CodecError::FrameTooLong {
                len: item.len() as u64,
                max,
            });
        }
        if self.num_skip == 0 {
            if item.len() < self.head_len || self.frame_end(&item, max)? != item.len() {
                return Err(CodecError::invalid(
                    "frame's own head does not announce its length",
                ));
            }
            dst.extend_from_slice(&item);
            return Ok(());
        }
        let Some(gap) = self.num_skip.checked_sub(self.head_len) else {
            return Err(CodecError::invalid(
                "cannot encode: num_skip drops part of the head",
            ));
        };
        // As in decoding, i128 holds these sums exactly.
        let value = gap as i128 + item.len() as i128 - self.config.adjustment as i128;
        if value < 0 {
            return Err(CodecError::invalid(format!(
                "a {}-byte frame is too short for length adjustment {}",
                item.len(),
                self.config.adjustment
            )));
        }
        let Some(value) = u64::try_from(value).ok().filter(|&v| v <= self.field_max()) else {
            // The longest item the field can announce, for the error's `max`.
            let fits = i128::from(self.field_max()) + self.config.adjustment as i128 - gap as i128;
            return Err(CodecError::FrameTooLong {
                len: item.len() as u64,
                max: usize::try_from(fits.clamp(0, max as i128)).unwrap_or(max),
            });
        };
        let total = self
            .num_skip
            .checked_add(item.len())
            .ok_or(CodecError::FrameTooLong {
                len: item.len() as u64,
                max,
            })?;
        dst.reserve(total);
        dst.resize(dst.len() + self.config.field_offset, 0);
        self.put_field(value, dst);
        dst.resize(dst.len() + gap, 0);
        dst.extend_from_slice(&item);
        Ok(())
    }
}
