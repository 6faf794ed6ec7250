//! `LengthDelimitedCodec`: a 4-byte big-endian length, then that many payload bytes.

use crate::{CodecError, Decoder, Encoder, ReadBuf};

/// Bytes in a frame header.
const HEAD_LEN: usize = 4;

/// A codec for length-prefixed frames: a big-endian `u32` payload length, then the payload.
///
/// The length counts the payload only, not the header. Zero-length frames are valid. A header
/// announcing more than [`max_frame`](LengthDelimitedCodec::max_frame) bytes is refused as soon as
/// it arrives, before anything is allocated for the payload or any of it is awaited.
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
    /// Most payload bytes a frame may have.
    max_frame: usize,
    /// Whether the decoder is waiting for a header or for a payload.
    state: DecodeState,
}

/// Where the decoder is within a frame.
#[derive(Debug, Clone, Copy)]
enum DecodeState {
    /// Waiting for the header of the next frame.
    Head,
    /// The header was consumed; waiting for this many payload bytes.
    Data(usize),
}

impl LengthDelimitedCodec {
    /// A length-delimited codec that accepts payloads of at most `max_frame` bytes.
    pub const fn new(max_frame: usize) -> Self {
        LengthDelimitedCodec {
            max_frame,
            state: DecodeState::Head,
        }
    }

    /// Most payload bytes a frame may have.
    pub const fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Consumes a header if a whole one is buffered and returns the payload length it announces.
    fn decode_head(&self, src: &mut ReadBuf) -> Result<Option<usize>, CodecError> {
        if src.len() < HEAD_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        match usize::try_from(len) {
            Ok(n) if n <= self.max_frame => {
                src.advance(HEAD_LEN);
                Ok(Some(n))
            }
            _ => Err(CodecError::FrameTooLong {
                len: u64::from(len),
                max: self.max_frame,
            }),
        }
    }
}

impl Decoder for LengthDelimitedCodec {
    type Item = Vec<u8>;

    /// Takes the next complete frame's payload off the front of `src`.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when a header announces more than the maximum.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        let len = match self.state {
            DecodeState::Head => match self.decode_head(src)? {
                Some(len) => {
                    self.state = DecodeState::Data(len);
                    len
                }
                None => return Ok(None),
            },
            DecodeState::Data(len) => len,
        };
        if src.len() < len {
            return Ok(None);
        }
        self.state = DecodeState::Head;
        Ok(Some(src.split_to(len)))
    }

    /// Returns a last complete frame, or `Ok(None)` when the stream ended between frames.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when part of a frame remains; `buffered` counts its header
    /// bytes too. [`CodecError::FrameTooLong`] as for [`decode`](Decoder::decode).
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        if let Some(frame) = self.decode(src)? {
            return Ok(Some(frame));
        }
        // The header of a frame in progress is already consumed, so `src` alone can be empty.
        let buffered = match self.state {
            DecodeState::Head => src.len(),
            DecodeState::Data(_) => HEAD_LEN + src.len(),
        };
        if buffered == 0 {
            Ok(None)
        } else {
            Err(CodecError::Truncated { buffered })
        }
    }
}

impl Encoder for LengthDelimitedCodec {
    type Item = Vec<u8>;

    /// Appends a header and then `item` to `dst`.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when `item` is longer than the maximum or than `u32::MAX`;
    /// `dst` is unchanged then.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let len = match u32::try_from(item.len()) {
            Ok(len) if item.len() <= self.max_frame => len,
            _ => {
                return Err(CodecError::FrameTooLong {
                    len: item.len() as u64,
                    max: self.max_frame,
                });
            }
        };
        dst.reserve(HEAD_LEN + item.len());
        dst.extend_from_slice(&len.to_be_bytes());
        dst.extend_from_slice(&item);
        Ok(())
    }
}
