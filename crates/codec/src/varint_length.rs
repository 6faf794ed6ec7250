//! `VarintLengthCodec`: an unsigned LEB128 length, then the payload, as in protobuf streams.

use crate::{CodecError, Decoder, Encoder, FrameLimits, ReadBuf};

/// Most bytes an unsigned LEB128 encoding of a `u64` takes: 64 bits, 7 per byte.
const MAX_VARINT_LEN: usize = 10;

/// A codec for frames prefixed by their length as an unsigned LEB128 varint: the framing of
/// length-delimited protobuf streams (`writeDelimitedTo` / `parseDelimitedFrom`).
///
/// The length is written 7 bits per byte, least significant group first, with the high bit set
/// on every byte but the last, and counts the payload only. The decoder accepts any encoding of
/// up to 10 bytes (non-minimal ones included, as protobuf does) and refuses a longer one, or one
/// whose value does not fit a `u64`, as soon as its tenth byte arrives. A length over
/// [`max_frame`](VarintLengthCodec::max_frame), the decode bound, is refused as soon as the
/// varint is complete, before anything is allocated or any payload awaited. The encoder writes
/// the minimal encoding, and refuses a payload over
/// [`max_encode_frame`](VarintLengthCodec::max_encode_frame), the encode bound (see
/// [`FrameLimits`]).
///
/// The payload is copied once, from the read buffer into the vector handed out.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, Encoder, ReadBuf, VarintLengthCodec};
///
/// let mut codec = VarintLengthCodec::new(1 << 20);
/// let mut output = Vec::new();
/// codec.encode(vec![7; 300], &mut output).unwrap();
/// assert_eq!(output[..2], [0xAC, 0x02]); // 300 = 0b10_0101100
///
/// let mut input = ReadBuf::from(&output[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(vec![7; 300]));
/// assert_eq!(codec.decode(&mut input).unwrap(), None);
/// ```
#[derive(Debug, Clone)]
pub struct VarintLengthCodec {
    /// Most payload bytes a frame may have: `decode` for one received, `encode` for one written.
    limits: FrameLimits,
    /// Whether the decoder is waiting for a length or for the rest of a frame.
    state: DecodeState,
}

/// Where the decoder is within a frame.
#[derive(Debug, Clone, Copy)]
enum DecodeState {
    /// Waiting for the varint of the next frame.
    Head,
    /// The varint was read and checked (it is still buffered); waiting for the payload.
    Data {
        /// Bytes of the varint.
        head: usize,
        /// Bytes of the payload.
        len: usize,
    },
}

impl VarintLengthCodec {
    /// A varint-length codec that accepts payloads of at most `limits.decode` bytes and writes
    /// payloads of at most `limits.encode` bytes. A bare `usize` is both bounds.
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        VarintLengthCodec {
            limits: limits.into(),
            state: DecodeState::Head,
        }
    }

    /// Most payload bytes a frame received may have: the decode bound.
    pub const fn max_frame(&self) -> usize {
        self.limits.decode
    }

    /// Most payload bytes a frame to encode may have: the encode bound.
    pub const fn max_encode_frame(&self) -> usize {
        self.limits.encode
    }

    /// Both bounds: [`max_frame`](Self::max_frame) to decode,
    /// [`max_encode_frame`](Self::max_encode_frame) to encode.
    pub const fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// Reads the varint at the front of `src`: `Ok(None)` while it is incomplete, else its
    /// length in bytes and its value.
    fn read_varint(src: &[u8]) -> Result<Option<(usize, u64)>, CodecError> {
        let mut value: u64 = 0;
        for (i, &byte) in src.iter().take(MAX_VARINT_LEN).enumerate() {
            let bits = u64::from(byte & 0x7F);
            // The tenth byte holds bit 63 alone: anything more does not fit a u64.
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(CodecError::invalid(
                    "varint length is longer than 10 bytes or overflows u64",
                ));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(Some((i + 1, value)));
            }
        }
        Ok(None)
    }
}

impl Decoder for VarintLengthCodec {
    type Item = Vec<u8>;

    /// Takes the next complete frame's payload off the front of `src`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::Invalid`] when the varint runs past 10 bytes or overflows a `u64`.
    /// - [`CodecError::FrameTooLong`] when it announces more than the decode bound.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        let (head, len) = match self.state {
            DecodeState::Head => {
                let Some((head, value)) = Self::read_varint(src)? else {
                    return Ok(None);
                };
                let len = match usize::try_from(value) {
                    Ok(len) if len <= self.limits.decode => len,
                    _ => {
                        return Err(CodecError::FrameTooLong {
                            len: value,
                            max: self.limits.decode,
                        });
                    }
                };
                self.state = DecodeState::Data { head, len };
                (head, len)
            }
            DecodeState::Data { head, len } => (head, len),
        };
        // `head` is at most 10 and `len` at most the decode bound: the sum only overflows for a
        // bound within 10 of usize::MAX, and then the frame cannot be buffered anyway.
        let Some(end) = head.checked_add(len) else {
            return Err(CodecError::FrameTooLong {
                len: len as u64,
                max: self.limits.decode,
            });
        };
        if src.len() < end {
            return Ok(None);
        }
        self.state = DecodeState::Head;
        src.advance(head);
        Ok(Some(src.split_to(len)))
    }

    // `decode_eof` is the trait's default: the varint stays buffered until its frame is
    // complete, so any bytes left at end of stream are a truncated frame.
}

impl Encoder for VarintLengthCodec {
    type Item = Vec<u8>;

    /// Appends the minimal varint of `item`'s length, then `item`, to `dst`.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when `item` is longer than the encode bound
    /// ([`max_encode_frame`](VarintLengthCodec::max_encode_frame)), which is the error's `max`;
    /// `dst` is unchanged then.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        if item.len() > self.limits.encode {
            return Err(CodecError::FrameTooLong {
                len: item.len() as u64,
                max: self.limits.encode,
            });
        }
        dst.reserve(MAX_VARINT_LEN + item.len());
        let mut value = item.len() as u64;
        while value >= 0x80 {
            dst.push((value as u8) | 0x80);
            value >>= 7;
        }
        dst.push(value as u8);
        dst.extend_from_slice(&item);
        Ok(())
    }
}
