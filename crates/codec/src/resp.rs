//! `RespCodec`: Redis's protocol (RESP2), commands in, replies out; and the client's side,
//! `RespClientCodec` (`resp/client.rs`), commands out, replies in.

mod client;
mod command;
mod inline;
mod parser;
mod pubsub;
mod reply;
mod reply_parser;
mod value;

pub use client::RespClientCodec;
pub use command::Command;
pub use parser::parse_i64 as parse_resp_integer;
pub use pubsub::PubSub;
pub use reply::{Encoded, Reply};
pub use value::Value;

use crate::{CodecError, Decoder, Encoder, ReadBuf};
use parser::{Limits, Parser};

/// A server-side codec for RESP2, the protocol of Redis: [`Command`]s in, [`Reply`]s out.
/// [`RespClientCodec`] is the other side.
///
/// # Decoding
///
/// A command arrives in either of Redis's two forms:
///
/// - **multibulk**, what client libraries send: `*<n>\r\n` then `n` bulk strings
///   `$<len>\r\n<len bytes>\r\n`, e.g. `*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n`;
/// - **inline**, what a person types into `nc` or `telnet`: one line of arguments separated
///   by spaces, ended by `\n` (a `\r` before it is dropped), e.g. `GET key\r\n`. As in Redis,
///   double quotes allow spaces and the escapes `\n`, `\r`, `\t`, `\b`, `\a`, `\\`, `\"` and
///   `\xHH`; single quotes allow spaces and `\'`; a quote must be closed and followed by a
///   space or the end of the line. A NUL byte ends the line's parsing, as Redis's C string
///   handling does.
///
/// The first byte of a command decides: `*` starts a multibulk, anything else an inline line.
/// As in Redis, an empty (or all-blank) inline line and a multibulk of `*0` or a negative count
/// are skipped without a frame.
///
/// The decoder is resumable and linear: it keeps its place across calls (which argument it is
/// in, how far it has searched for a line end), so a command with a thousand arguments that
/// arrives one byte at a time is scanned once. The bytes of an unfinished command stay in the
/// [`ReadBuf`] until the whole command is there, so a peer that stops mid-command is seen by
/// the reactor's frame timeout and a stream that ends mid-command is reported as
/// [`CodecError::Truncated`]. A complete command is copied once, in one piece, into the
/// [`Command`] handed out: two allocations, whatever its number of arguments.
///
/// # Limits
///
/// Each limit is checked before anything is buffered or allocated for what a header announces:
///
/// | limit | default | on excess |
/// |---|---|---|
/// | [`max_frame_length`](RespCodec::max_frame_length): bytes of one command on the wire | the constructor's argument | [`CodecError::FrameTooLong`] |
/// | [`max_bulk`](RespCodec::max_bulk): bytes of one argument (Redis's `proto-max-bulk-len`) | the constructor's argument, at most [`DEFAULT_MAX_BULK`](RespCodec::DEFAULT_MAX_BULK) (512 MiB) | `Protocol error: invalid bulk length` |
/// | [`max_array`](RespCodec::max_array): arguments of one multibulk | [`DEFAULT_MAX_ARRAY`](RespCodec::DEFAULT_MAX_ARRAY) (1,048,576) | `Protocol error: invalid multibulk length` |
/// | [`max_inline`](RespCodec::max_inline): bytes of an inline line, or of a `*`/`$` header line | [`DEFAULT_MAX_INLINE`](RespCodec::DEFAULT_MAX_INLINE) (64 KiB, Redis's `PROTO_INLINE_MAX_SIZE`) | `Protocol error: too big inline request` (`too big mbulk count string`, `too big bulk count string`) |
///
/// A line is measured before its `\n`, a `\r` included; a command includes its headers and
/// line endings.
///
/// # Errors
///
/// Malformed input is a fatal [`CodecError::Invalid`] whose text is Redis's own reply, ready to
/// be sent as `-ERR <text>` before the connection closes: `Protocol error: invalid multibulk
/// length`, `Protocol error: invalid bulk length`, `Protocol error: expected '$', got 'x'`,
/// `Protocol error: unbalanced quotes in request` and the `too big` ones above. Numbers in
/// headers are parsed as strictly as Redis does (no sign but `-`, no leading zeros, no
/// spaces). Unlike Redis, the decoder also checks the `\r\n` after each bulk string and that a
/// header line ends in `\r\n` (`Protocol error: expected CRLF`), so a stream that has lost its
/// place is refused instead of being read as garbage commands.
///
/// # Encoding
///
/// [`Reply`] covers RESP2's types: simple strings, errors, integers, bulk strings, arrays, and
/// the null bulk string and null array. A simple string or error containing `\r` or `\n` is
/// refused (it would end the line early); see [`Reply`].
///
/// # Examples
///
/// ```
/// use turbine_codec::{Command, Decoder, Encoder, ReadBuf, Reply, RespCodec};
///
/// let mut codec = RespCodec::new(1 << 20);
/// let mut input = ReadBuf::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\nSET a"[..]);
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Command::from(["GET", "key"])));
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Command::from(["PING"])));
/// assert_eq!(codec.decode(&mut input).unwrap(), None); // "SET a" waits for its newline
///
/// let mut output = Vec::new();
/// codec.encode(Reply::Bulk(b"value".to_vec()), &mut output).unwrap();
/// codec.encode(Reply::Null, &mut output).unwrap();
/// codec.encode(Reply::Array(vec![Reply::Integer(1), Reply::simple("OK")]), &mut output).unwrap();
/// assert_eq!(output, b"$5\r\nvalue\r\n$-1\r\n*2\r\n:1\r\n+OK\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct RespCodec {
    /// Where the decoder is in the current command; changed by every decode.
    parser: Parser,
}

impl RespCodec {
    /// Redis's default `proto-max-bulk-len`: 512 MiB.
    pub const DEFAULT_MAX_BULK: usize = 512 << 20;
    /// Most arguments in one multibulk command by default: 1,048,576.
    pub const DEFAULT_MAX_ARRAY: usize = 1 << 20;
    /// Longest inline command (or header line) by default: 64 KiB, Redis's
    /// `PROTO_INLINE_MAX_SIZE`.
    pub const DEFAULT_MAX_INLINE: usize = 64 << 10;

    /// A codec for commands of at most `max_frame_length` bytes on the wire (headers included),
    /// with arguments of at most `max_frame_length` or 512 MiB, whichever is smaller, and the
    /// default array and inline limits.
    ///
    /// A server passes its configured maximum frame (`config.max_frame`); for Redis's own
    /// limits (a 512 MiB argument, a 1 GiB query buffer) that is 1 GiB.
    pub const fn new(max_frame_length: usize) -> Self {
        let max_bulk = if max_frame_length < Self::DEFAULT_MAX_BULK {
            max_frame_length
        } else {
            Self::DEFAULT_MAX_BULK
        };
        RespCodec {
            parser: Parser::new(Limits {
                frame: max_frame_length,
                bulk: max_bulk,
                array: Self::DEFAULT_MAX_ARRAY,
                inline: Self::DEFAULT_MAX_INLINE,
            }),
        }
    }

    /// Sets the most bytes one argument may have (Redis's `proto-max-bulk-len`).
    #[must_use]
    pub fn with_max_bulk(mut self, max_bulk: usize) -> Self {
        self.parser.limits.bulk = max_bulk;
        self
    }

    /// Sets the most arguments one multibulk command may have.
    #[must_use]
    pub fn with_max_array(mut self, max_array: usize) -> Self {
        self.parser.limits.array = max_array;
        self
    }

    /// Sets the most bytes an inline command, or a `*`/`$` header line, may have before its
    /// `\n`.
    #[must_use]
    pub fn with_max_inline(mut self, max_inline: usize) -> Self {
        self.parser.limits.inline = max_inline;
        self
    }

    /// Most bytes one command may take on the wire, headers and line endings included.
    pub const fn max_frame_length(&self) -> usize {
        self.parser.limits.frame
    }

    /// Most bytes one argument may have.
    pub const fn max_bulk(&self) -> usize {
        self.parser.limits.bulk
    }

    /// Most arguments one multibulk command may have.
    pub const fn max_array(&self) -> usize {
        self.parser.limits.array
    }

    /// Most bytes an inline line or a header line may have before its `\n`.
    pub const fn max_inline(&self) -> usize {
        self.parser.limits.inline
    }
}

impl Decoder for RespCodec {
    type Item = Command;

    /// Takes the next complete command off the front of `src`, skipping empty inline lines and
    /// empty multibulks.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when the command is longer than
    ///   [`max_frame_length`](RespCodec::max_frame_length), reported as soon as a header or
    ///   the buffered bytes prove it.
    /// - [`CodecError::Invalid`] with Redis's protocol error text for malformed input or a
    ///   count, length or line over its limit; see the type's docs.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Command>, CodecError> {
        self.parser.parse(src)
    }
}

impl Encoder for RespCodec {
    type Item = Reply;

    /// Appends the RESP2 encoding of `item` to `dst`.
    ///
    /// # Errors
    ///
    /// [`CodecError::Invalid`] when a simple string or error, at any depth, contains `\r` or
    /// `\n`; `dst` is unchanged then.
    fn encode(&mut self, item: Reply, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        item.encode(dst)
    }
}
