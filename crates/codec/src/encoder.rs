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
/// - `Err(e)`: the frame cannot be encoded (for example it is over the codec's maximum); `dst`
///   must be left as it was. The reactor logs the error and closes the connection, since the
///   peer would otherwise see a gap in the stream.
///
/// An encoder must not panic on any item, and should refuse an item its decoder would not read
/// back as it was (a line containing a newline, a frame longer than the decoder's maximum or
/// than its length field can announce): what one side's encoder writes, the other side's
/// decoder with the same settings decodes to the same frames, under any split. The stock codecs
/// do, with one documented exception (a line ending in `\r` loses it), and their property tests
/// check it.
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
