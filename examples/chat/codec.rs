//! The chat's codec: lines of bytes in, bounded by `TURBINE_MAX_FRAME`; lines out, bounded by
//! the write limit alone.

use turbine::{ByteLinesCodec, FrameLimits, Payload};

/// One line of the protocol, without its `\n`, as it crosses the wire: not yet checked for UTF-8
/// on the way in (the handler answers `! invalid utf-8` and keeps the connection).
pub(crate) type Line = Vec<u8>;

/// `\n`-terminated lines as bytes, with different bounds on the two directions.
///
/// Input is split with the configured maximum frame and the codec's fail-fast default: a line
/// over the maximum is refused as soon as its bytes pass it, not when (if ever) its `\n`
/// arrives. Output is not held to a maximum, on purpose: the server's lines are a client's line
/// plus a prefix (`<nick> (private): `), or a list that grows with the server (`/who` in a room
/// of thousands), and neither may close the connection it is sent to. What bounds output is the
/// write limit (`CHAT_OUTBUF_LIMIT`). The encoder refuses a line holding a `\n`, which would
/// forge a second line.
pub(crate) fn chat_codec(max_line: usize) -> ByteLinesCodec {
    ByteLinesCodec::new(FrameLimits::new(max_line, usize::MAX))
}

/// One line for the wire, assembled from `parts` and encoded once, to be shared by every member
/// it goes to. The parts are the server's words and a client's line, which the decoder split at
/// its `\n` (or an event from another instance, refused if it holds one), so the encoder never
/// refuses them; if it did, the line would go to nobody.
pub(crate) fn line(wire: &mut ByteLinesCodec, parts: &[&str]) -> Payload<Line> {
    let bytes: Line = parts.concat().into_bytes();
    Payload::encode(wire, bytes).unwrap_or_else(|e| {
        log::error!("chat line not encoded: {e}");
        Payload::from_encoded_bytes(Vec::new())
    })
}
