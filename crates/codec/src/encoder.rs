//! The `Encoder` trait: frames in, bytes out.

use crate::CodecError;

/// Turns frames a handler sends into bytes for the wire.
///
/// The reactor calls [`encode`](Encoder::encode) on the connection's own thread, appending to
/// the connection's output; several frames sent in one turn end up in one buffer and leave in
/// one write.
///
/// # Contract
///
/// - `Ok(())`: the whole encoded frame was appended to `dst`.
/// - `Err(e)`: the frame cannot be encoded (for example it is over the codec's encode bound);
///   `dst` must be left as it was. The reactor logs the error and closes the connection, since
///   the peer would otherwise see a gap in the stream.
///
/// An encoder must not panic on any item, and should refuse an item a matching decoder would
/// not read back as it was (a line containing a newline, a frame longer than its length field
/// can announce): what one side's encoder writes, the other side's decoder with matching
/// settings decodes to the same frames, under any split.
///
/// The stock codecs also refuse a frame longer than their *encode* bound
/// ([`FrameLimits::encode`](crate::FrameLimits::encode)), with
/// [`CodecError::FrameTooLong`] whose `max` is that bound. By default it equals the decode bound
/// (a bare `usize` given to a constructor is both); a server sets it from its own setting for
/// the frames it writes, often larger than what it accepts. A round trip holds when the peer's
/// decode bound is at least this side's encode bound: then what a stock encoder writes, the
/// peer's decoder reads back as it was, with one documented exception (a line ending in `\r`
/// loses it), and their property tests check it.
pub trait Encoder {
    /// The frame type this encoder accepts.
    type Item;

    /// Appends the encoding of `item` to `dst`.
    ///
    /// # Errors
    ///
    /// The frame cannot be encoded; `dst` is unchanged.
    fn encode(&mut self, item: Self::Item, dst: &mut Vec<u8>) -> Result<(), CodecError>;
}
