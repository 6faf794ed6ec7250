//! The `Decoder` trait: bytes in, frames out.

use crate::{CodecError, ReadBuf};

/// Turns the bytes a connection receives into frames.
///
/// The reactor calls [`decode`](Decoder::decode) each time bytes arrive, repeatedly, until it
/// returns `Ok(None)`; a decoder never sees a socket. Bytes it does not consume stay in the
/// buffer and are offered again, with more appended, on the next call.
///
/// # Contract
///
/// - `Ok(Some(frame))`: one frame was removed from the front of `src` (the decoder advanced the
///   buffer past it). The reactor calls `decode` again at once.
/// - `Ok(None)`: `src` holds no complete frame yet. The decoder may keep state about what it has
///   already scanned (so a long frame arriving in pieces costs linear time, not quadratic), and
///   should leave the unfinished bytes in `src`. The reactor reads more and calls again.
/// - `Err(e)` with [`e.is_fatal()`](CodecError::is_fatal): the input is malformed or over a
///   limit. The reactor hands `e` to the handler and closes the connection after flushing what
///   the handler sent; `decode` is not called again.
/// - `Err(CodecError::Discarded { .. })`: an over-long frame was (or is being) skipped, and the
///   decoder stays in step with the stream. The reactor hands it to the handler (which may
///   answer with a protocol error) and calls `decode` again. A decoder set to discard returns it
///   once per skipped frame, as soon as the frame is known to be too long.
///
/// A decoder must bound what it lets accumulate: once `src` holds more than its maximum frame
/// without a complete frame, it returns [`CodecError::FrameTooLong`] rather than waiting. It
/// must check a length header against its maximum before it allocates anything for the frame.
/// As a second line of defence the reactor closes a connection whose unconsumed input passes
/// the configured maximum frame plus one read.
///
/// Any split of the same bytes into calls must produce the same frames: the tests of the stock
/// codecs feed them one byte at a time and split at every position.
pub trait Decoder {
    /// The frame type this decoder produces.
    type Item;

    /// Takes the next frame off the front of `src`, if a whole one is there.
    ///
    /// # Errors
    ///
    /// Malformed input or a frame over the limit; see the trait docs.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Self::Item>, CodecError>;

    /// Called when the peer has closed its side, after `decode` returned `Ok(None)`, and again
    /// after each frame it returns, until it returns `Ok(None)` or an error.
    ///
    /// Returns a last frame the stream still holds, `Ok(None)` when it ended cleanly between
    /// frames, or an error. The default treats leftover bytes as a truncated frame.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when bytes of an unfinished frame remain.
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Self::Item>, CodecError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}
