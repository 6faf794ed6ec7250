//! `RawCodec`: bytes pass through as they arrive, with no framing.

use crate::{CodecError, Decoder, Encoder, ReadBuf};

/// A codec with no framing: every decode takes all buffered bytes, every encode appends the bytes.
///
/// Where one frame ends and the next begins depends only on how the bytes happened to arrive,
/// so this suits protocols that are byte streams (a proxy, an echo server) rather than messages.
/// It never errors, and it buffers nothing beyond one read.
///
/// # Examples
///
/// ```
/// use turbine_codec::{Decoder, Encoder, RawCodec, ReadBuf};
///
/// let mut codec = RawCodec::new();
/// let mut input = ReadBuf::from(&b"any bytes"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(b"any bytes".to_vec()));
/// assert_eq!(codec.decode(&mut input).unwrap(), None);
///
/// let mut output = Vec::new();
/// codec.encode(b"reply".to_vec(), &mut output).unwrap();
/// assert_eq!(output, b"reply");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

impl RawCodec {
    /// A raw codec.
    pub const fn new() -> Self {
        RawCodec
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;

    /// Takes every buffered byte as one frame; `Ok(None)` when nothing is buffered.
    ///
    /// # Errors
    ///
    /// Never.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        if src.is_empty() {
            return Ok(None);
        }
        Ok(Some(src.split_to(src.len())))
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;

    /// Appends `item` to `dst` as it is.
    ///
    /// # Errors
    ///
    /// Never.
    fn encode(&mut self, item: Vec<u8>, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}
