//! `RespClientCodec`: Redis's protocol (RESP2) from the client's side, commands out, replies
//! in.

use super::reply::bulk_array_len;
use super::reply_parser::{Limits, ReplyParser};
use super::{Command, Value};
use crate::{CodecError, Decoder, Encoder, FrameLimits, ReadBuf};

/// A client-side codec for RESP2, the protocol of Redis: [`Command`]s out, replies in as
/// [`Value`]s. For a handler that talks to a Redis server over an outbound connection: a
/// gateway sending `HGETALL` or `LRANGE`, a chat instance subscribed to channels.
/// [`RespCodec`](crate::RespCodec) is the other side.
///
/// # Encoding
///
/// A command is written as an array of bulk strings, the form every Redis client sends:
/// `*<n>\r\n` then each argument as `$<len>\r\n<bytes>\r\n` ([`Command::encode`]). An empty
/// command is refused: Redis skips it without a reply, which would pair every later reply with
/// the wrong request.
///
/// # Decoding
///
/// A reply is any RESP2 value, decoded into a [`Value`]: a simple string (`+OK\r\n`), an error
/// (`-ERR ...\r\n`), an integer (`:1\r\n`), a bulk string (`$5\r\nhello\r\n`), the null bulk
/// string (`$-1\r\n`), an array of any of these, nested, and the null array (`*-1\r\n`). A
/// subscribed connection receives pushes, which are arrays too: [`Value::pubsub`] tells them
/// apart, see [`PubSub`](crate::PubSub).
///
/// The decoder is resumable and linear: it keeps its place across calls (which element it is
/// in, how far it has searched for a line end, the arrays it is inside), and turns each element
/// into a [`Value`] once, when its last byte arrives. A reply with 100,000 elements arriving one
/// byte at a time is scanned once. Nesting is kept in a stack of its own, not by recursion. The
/// bytes of an unfinished reply stay in the [`ReadBuf`] until the whole reply is there, so a
/// server that stops mid-reply is seen by the reactor's frame timeout and a stream that ends
/// mid-reply is reported as [`CodecError::Truncated`]. Each string is copied once, from the
/// [`ReadBuf`] into its [`Value`].
///
/// # Limits
///
/// Each limit is checked before anything is buffered or allocated for what a header announces:
///
/// | limit | default | on excess |
/// |---|---|---|
/// | [`max_frame_length`](RespClientCodec::max_frame_length): bytes of one reply on the wire | the constructor's decode bound | [`CodecError::FrameTooLong`] |
/// | [`max_bulk`](RespClientCodec::max_bulk): bytes of one bulk string (Redis's `proto-max-bulk-len`) | the decode bound, at most [`DEFAULT_MAX_BULK`](RespClientCodec::DEFAULT_MAX_BULK) (512 MiB) | `Bulk string length out of range` |
/// | [`max_array`](RespClientCodec::max_array): elements of one array | [`DEFAULT_MAX_ARRAY`](RespClientCodec::DEFAULT_MAX_ARRAY) (2<sup>32</sup> - 1, hiredis's) | `Multi-bulk length out of range` |
/// | [`max_depth`](RespClientCodec::max_depth): arrays one inside another | [`DEFAULT_MAX_DEPTH`](RespClientCodec::DEFAULT_MAX_DEPTH) (64) | `Max nesting depth exceeded` |
/// | [`max_line`](RespClientCodec::max_line): bytes of a `+`, `-` or `:` line, or of a `$`/`*` header | [`DEFAULT_MAX_LINE`](RespClientCodec::DEFAULT_MAX_LINE) (64 KiB) | `Line too long` |
/// | [`max_encode_frame_length`](RespClientCodec::max_encode_frame_length): bytes of one command on the wire | the constructor's encode bound | [`CodecError::FrameTooLong`] |
///
/// A line is measured from its type byte to its `\n`, the `\r` included; a reply or command
/// includes its headers and line endings.
///
/// The frame bound is what bounds memory: nothing is reserved on the word of an array's count
/// (only for elements whose bytes have arrived), so the array limit is a sanity check, as
/// generous by default as hiredis's, and large replies (`LRANGE 0 -1` of a long list) pass as
/// long as they fit the frame. Redis's replies nest a few levels at most (`XREAD`, `COMMAND
/// DOCS`); the depth limit stops a hostile `*1\r\n*1\r\n...` and keeps the recursion of
/// dropping, comparing or printing a [`Value`] shallow.
///
/// # Errors
///
/// Malformed input is a fatal [`CodecError::Invalid`] worded as hiredis, Redis's C client,
/// words it: `Protocol error, got "x" as reply type byte`, `Bad integer value` (not a number,
/// or past `i64`), `Bad simple string value` (a `\r` inside), `Bad bulk string length`, `Bad
/// multi-bulk length`, the `out of range` ones above (for a count or length over its limit or
/// negative but for `-1`), and, where hiredis does not check, `Bad bulk string value: no CRLF
/// after its bytes`. A line must end in `\r\n`: a line ended by a bare `\n` is malformed, with
/// the error of its type. Numbers are parsed as strictly as Redis writes them (no `+`, no
/// leading zeros, no spaces).
///
/// # Examples
///
/// ```
/// use turbine_codec::{Command, Decoder, Encoder, ReadBuf, RespClientCodec, Value};
///
/// let mut codec = RespClientCodec::new(1 << 20);
/// let mut output = Vec::new();
/// codec.encode(Command::from(["HGETALL", "user:1"]), &mut output).unwrap();
/// assert_eq!(output, b"*2\r\n$7\r\nHGETALL\r\n$6\r\nuser:1\r\n");
///
/// let mut input = ReadBuf::from(&b"*2\r\n$4\r\nname\r\n$3\r\nAnn\r\n+OK\r\n:4"[..]);
/// assert_eq!(
///     codec.decode(&mut input).unwrap(),
///     Some(Value::Array(vec![Value::bulk("name"), Value::bulk("Ann")]))
/// );
/// assert_eq!(codec.decode(&mut input).unwrap(), Some(Value::simple("OK")));
/// assert_eq!(codec.decode(&mut input).unwrap(), None); // ":4" waits for its line end
/// ```
#[derive(Debug, Clone)]
pub struct RespClientCodec {
    /// Where the decoder is in the current reply, and the decode-side limits; changed by every
    /// decode.
    parser: ReplyParser,
    /// Most bytes one command may take on the wire; set at construction.
    max_encode: usize,
}

impl RespClientCodec {
    /// Redis's default `proto-max-bulk-len`: 512 MiB.
    pub const DEFAULT_MAX_BULK: usize = 512 << 20;
    /// Most elements in one array by default: 4,294,967,295, hiredis's default.
    pub const DEFAULT_MAX_ARRAY: usize = u32::MAX as usize;
    /// Most arrays one inside another by default: 64.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Longest line by default: 64 KiB, the longest inline request Redis accepts.
    pub const DEFAULT_MAX_LINE: usize = 64 << 10;

    /// A codec for replies of at most `limits.decode` bytes on the wire and commands of at most
    /// `limits.encode` bytes (a bare `usize` is both), with bulk strings of at most
    /// `limits.decode` or 512 MiB, whichever is smaller, and the default array, depth and line
    /// limits.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_codec::{FrameLimits, RespClientCodec};
    ///
    /// // Short commands, replies up to 64 MiB.
    /// let codec = RespClientCodec::new(FrameLimits::new(64 << 20, 64 << 10));
    /// assert_eq!(codec.max_frame_length(), 64 << 20);
    /// assert_eq!(codec.max_encode_frame_length(), 64 << 10);
    /// assert_eq!(codec.max_bulk(), 64 << 20);
    /// assert_eq!(codec.max_depth(), 64);
    /// ```
    pub fn new(limits: impl Into<FrameLimits>) -> Self {
        let limits = limits.into();
        RespClientCodec {
            parser: ReplyParser::new(Limits {
                frame: limits.decode,
                bulk: limits.decode.min(Self::DEFAULT_MAX_BULK),
                array: Self::DEFAULT_MAX_ARRAY,
                line: Self::DEFAULT_MAX_LINE,
                depth: Self::DEFAULT_MAX_DEPTH,
            }),
            max_encode: limits.encode,
        }
    }

    /// Sets the most bytes one bulk string may have.
    #[must_use]
    pub fn with_max_bulk(mut self, max_bulk: usize) -> Self {
        self.parser.limits.bulk = max_bulk;
        self
    }

    /// Sets the most elements one array may have.
    #[must_use]
    pub fn with_max_array(mut self, max_array: usize) -> Self {
        self.parser.limits.array = max_array;
        self
    }

    /// Sets the most arrays a reply may have one inside another: 1 allows arrays of anything
    /// but arrays, 0 no array at all (the null array is always accepted).
    ///
    /// Dropping, cloning, comparing and printing a [`Value`] recurse through its arrays, so a
    /// depth of many thousands lets a server send a reply that overflows the stack of the
    /// thread that drops it; keep it to what replies need.
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.parser.limits.depth = max_depth;
        self
    }

    /// Sets the most bytes a line (a `+`, `-` or `:` element, or a `$`/`*` header) may have
    /// before its `\n`, its type byte and `\r` included.
    #[must_use]
    pub fn with_max_line(mut self, max_line: usize) -> Self {
        self.parser.limits.line = max_line;
        self
    }

    /// Most bytes one reply may take on the wire, headers and line endings included: the
    /// decode bound.
    pub const fn max_frame_length(&self) -> usize {
        self.parser.limits.frame
    }

    /// Most bytes one command may take on the wire: the encode bound.
    pub const fn max_encode_frame_length(&self) -> usize {
        self.max_encode
    }

    /// Both bounds: [`max_frame_length`](Self::max_frame_length) to decode,
    /// [`max_encode_frame_length`](Self::max_encode_frame_length) to encode.
    pub const fn limits(&self) -> FrameLimits {
        FrameLimits::new(self.parser.limits.frame, self.max_encode)
    }

    /// Most bytes one bulk string may have.
    pub const fn max_bulk(&self) -> usize {
        self.parser.limits.bulk
    }

    /// Most elements one array may have.
    pub const fn max_array(&self) -> usize {
        self.parser.limits.array
    }

    /// Most arrays one inside another.
    pub const fn max_depth(&self) -> usize {
        self.parser.limits.depth
    }

    /// Most bytes a line may have before its `\n`.
    pub const fn max_line(&self) -> usize {
        self.parser.limits.line
    }
}

impl Decoder for RespClientCodec {
    type Item = Value;

    /// Takes the next complete reply off the front of `src`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when the reply is longer than
    ///   [`max_frame_length`](RespClientCodec::max_frame_length), reported as soon as a bulk
    ///   string's header or the buffered bytes prove it.
    /// - [`CodecError::Invalid`] for malformed input or a length, count, depth or line over
    ///   its limit; see the type's docs.
    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<Value>, CodecError> {
        self.parser.parse(src)
    }
}

impl Encoder for RespClientCodec {
    type Item = Command;

    /// Appends `item` as an array of bulk strings to `dst`.
    ///
    /// # Errors
    ///
    /// - [`CodecError::FrameTooLong`] when the encoded command would be longer than
    ///   [`max_encode_frame_length`](RespClientCodec::max_encode_frame_length), which is the
    ///   error's `max`; `len` is its length.
    /// - [`CodecError::Invalid`] for an empty command, which Redis would never answer.
    ///
    /// `dst` is unchanged on error.
    fn encode(&mut self, item: Command, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        if item.is_empty() {
            return Err(CodecError::invalid(
                "an empty command gets no reply from Redis",
            ));
        }
        let len = bulk_array_len(item.args());
        if len > self.max_encode as u64 {
            return Err(CodecError::FrameTooLong {
                len,
                max: self.max_encode,
            });
        }
        // Within the encode bound, so within `usize`.
        dst.reserve(len as usize);
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The computed length is the written length, across digit-count boundaries.
    #[test]
    fn bulk_array_len_matches_encoding() {
        for sizes in [&[0][..], &[1, 9, 10], &[99, 100, 999, 1000], &[12_345]] {
            let command = Command::new(sizes.iter().map(|&n| vec![b'x'; n]));
            let mut wire = Vec::new();
            command.encode(&mut wire);
            assert_eq!(
                bulk_array_len(command.args()),
                wire.len() as u64,
                "{sizes:?}"
            );
        }
        let many = Command::new(vec![b"a"; 10]);
        let mut wire = Vec::new();
        many.encode(&mut wire);
        assert_eq!(bulk_array_len(many.args()), wire.len() as u64);
    }
}
