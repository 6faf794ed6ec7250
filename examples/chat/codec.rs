//! `ChatCodec`: lines of bytes in, bounded by `TURBINE_MAX_FRAME`; lines out, bounded by the
//! write limit alone.

use turbine::codec::ByteLinesCodec;
use turbine::{CodecError, Decoder, Encoder, ReadBuf};

/// One line of the protocol, without its `\n`, as it crosses the wire: not yet checked for UTF-8
/// on the way in (the handler answers `! invalid utf-8` and keeps the connection).
pub type Line = Vec<u8>;

/// `\n`-terminated lines as bytes, with different bounds on the two directions.
///
/// Input is split by a [`ByteLinesCodec`] with the configured maximum frame and its fail-fast
/// default: a line over the maximum is refused as soon as its bytes pass it, not when (if ever)
/// its `\n` arrives. Output is not held to that maximum, on purpose: the server's lines are a
/// client's line plus a prefix (`<nick> (private): `), or a list that grows with the server
/// (`/who` in a room of thousands), and neither may close the connection it is sent to. What
/// bounds output is the write limit (`CHAT_OUTBUF_LIMIT`).
#[derive(Debug, Clone)]
pub struct ChatCodec {
    /// Splits what the client sends, up to the maximum frame.
    input: ByteLinesCodec,
    /// Appends the `\n` to what the server sends; refuses a line holding a `\n`, which would
    /// forge a second line.
    output: ByteLinesCodec,
}

impl ChatCodec {
    /// A codec that accepts client lines of at most `max_line` bytes, line ending excluded.
    pub fn new(max_line: usize) -> Self {
        ChatCodec {
            input: ByteLinesCodec::new(max_line),
            output: ByteLinesCodec::new(usize::MAX),
        }
    }
}

impl Decoder for ChatCodec {
    type Item = Line;

    /// The next complete line, `\r\n` or `\n` removed.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] as soon as a line is known to be over the maximum.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Line>, CodecError> {
        self.input.decode(src)
    }

    /// A last complete line at end of stream.
    ///
    /// # Errors
    ///
    /// [`CodecError::Truncated`] when the stream ends inside a line.
    fn decode_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Line>, CodecError> {
        self.input.decode_eof(src)
    }
}

impl Encoder for ChatCodec {
    type Item = Line;

    /// Appends `line` and a `\n`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Invalid`] when `line` holds a `\n`; `dst` is unchanged.
    fn encode(&mut self, line: Line, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        self.output.encode(line, dst)
    }
}
