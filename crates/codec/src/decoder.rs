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
///   should leave the unfinished frame's bytes in `src` (a decoder skipping a discarded frame
///   consumes those bytes as they arrive instead). The reactor reads more and calls again.
/// - `Err(e)` with [`e.is_fatal()`](CodecError::is_fatal): the input is malformed or over a
///   limit. The reactor hands `e` to the handler and closes the connection after flushing what
///   the handler sent; `decode` is not called again.
/// - `Err(CodecError::Discarded { .. })`: an over-long frame was (or is being) skipped, and the
///   decoder stays in step with the stream. The reactor hands it to the handler (which may
///   answer with a protocol error) and calls `decode` again. A decoder set to discard returns it
///   once per skipped frame, as soon as the frame is known to be too long.
///
/// A decoder must bound what it lets accumulate: once `src` holds more than its maximum frame
/// (plus any header or delimiter bytes) without a complete frame, it returns
/// [`CodecError::FrameTooLong`] (or, set to discard, [`CodecError::Discarded`]) rather than
/// waiting. It
/// must check a length header against its maximum before it allocates anything for the frame.
/// As a second line of defence the reactor closes a connection whose unconsumed input passes
/// the configured maximum frame plus one read.
///
/// Any split of the same bytes into calls must produce the same frames, and the same errors at
/// the same places in the stream (only the byte counts inside an error, which say how much had
/// arrived, may differ): the tests of the stock codecs feed them one byte at a time and split at
/// every position.
///
/// A decoder must not panic, whatever the bytes: a hostile header, a length that overflows or
/// a frame that never ends is an `Err`, which the handler hears about.
///
/// # End of stream
///
/// When the peer closes its side, the reactor calls [`decode_eof`](Decoder::decode_eof) instead
/// of `decode`, repeatedly, until it returns `Ok(None)` or a fatal error:
///
/// - `Ok(Some(frame))`: a frame the stream still held; it is delivered like any other.
/// - `Ok(None)`: the stream ended cleanly, between frames (or inside a frame already reported
///   as [`Discarded`](CodecError::Discarded)).
/// - `Err(_)`: the stream ended inside a frame, reported as [`CodecError::Truncated`] (or the
///   leftover bytes are malformed). A truncated frame is never dropped silently and never a
///   panic: the handler learns of it (its `on_decode_error`) before the connection closes.
///
/// # Copies
///
/// Each stock decoder copies a frame once, from `src` into the frame it returns
/// ([`ReadBuf::split_to`]), with no intermediate buffer; consuming from the front of a
/// [`ReadBuf`] moves nothing.
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
    /// after each frame it returns (or [`Discarded`](CodecError::Discarded)), until it returns
    /// `Ok(None)` or a fatal error.
    ///
    /// Returns a last frame the stream still holds, `Ok(None)` when it ended cleanly between
    /// frames, or an error; see the trait docs. The default calls `decode` and treats any
    /// leftover bytes as a truncated frame, which suits every decoder that leaves an unfinished
    /// frame's bytes (its header included) in `src`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when bytes of an unfinished frame remain; whatever `decode`
    /// returns.
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
