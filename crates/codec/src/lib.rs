//! Turbine's codecs: the bytes a connection receives become frames, and frames become bytes.
//!
//! A codec knows nothing of sockets or threads: the reactor hands it a [`ReadBuf`] of received
//! bytes and an output `Vec<u8>`, which is what makes the parsing logic easy to test byte by
//! byte. Every stock codec is bounded: a hostile peer cannot make it buffer more than its maximum
//! frame plus one read, and a length header is checked before anything is allocated. What a codec
//! writes has its own bound, which may be larger (replies are often longer than requests).
//!
//! # Layout
//!
//! - [`Decoder`] and [`Encoder`]: the traits, with their contracts.
//! - [`ReadBuf`]: received bytes, consumed from the front without copying.
//! - [`CodecError`]: what a codec reports on bad input.
//! - [`FrameLimits`]: the largest frame a codec decodes and the largest it encodes; a bare
//!   `usize` is both.
//! - Stock codecs; each that frames its input is bounded by [`FrameLimits`] but RESP, which has
//!   Redis's limits:
//!   - [`RawCodec`]: bytes as they arrive, no framing.
//!   - [`LinesCodec`]: `\n` or `\r\n`-terminated lines as `String`, invalid UTF-8 refused.
//!   - [`ByteLinesCodec`]: the same lines as bytes, not checked.
//!   - [`DelimiterCodec`]: frames ended by any byte sequence.
//!   - [`Oversize`]: whether those three fail on an over-long frame or skip it.
//!   - [`LengthDelimitedCodec`]: a length field in a head, 4-byte big-endian by default;
//!     [`LengthDelimitedBuilder`] sets field size, byte order, offset, adjustment and skip.
//!   - [`VarintLengthCodec`]: an unsigned LEB128 length, then the payload (protobuf streams).
//!   - [`RespCodec`]: Redis's RESP2, [`Command`]s in (multibulk and inline), [`Reply`]s out,
//!     bounded like Redis (bulk, array, inline and whole-command limits).
//!   - [`RespClientCodec`]: the client's side of RESP2, [`Command`]s out, [`Value`]s in (every
//!     RESP2 reply type, nested arrays included), bounded on bulk, array, depth, line and
//!     whole-reply size; [`Value::pubsub`] tells a subscribed connection's [`PubSub`] pushes
//!     apart.
//!   - [`HttpCodec`]: HTTP/1.1 for a server, [`Request`]s in (the head parsed by `httparse`,
//!     bounded in bytes and fields; a `Content-Length` body), [`Response`]s out; input that
//!     cannot be read safely (smuggling, oversize) comes out as an [`Incoming::Refused`] with
//!     the status to answer.
//!
//! Every stock decoder copies a frame once, from the [`ReadBuf`] into what it hands out (a
//! `Vec<u8>`, a `String`, a RESP [`Command`] or [`Value`]), with no intermediate buffer, and
//! never reserves memory on the word of a header.
//!
//! Each codec is tested against a simple reference decoder with its input split at every byte
//! and fed one byte at a time, by property tests, and on hostile input (`tests/`); the
//! repository's `fuzz/` directory holds a cargo-fuzz target per decoder (`fuzz/run.sh`).
//!
//! # Example
//!
//! ```
//! use turbine_codec::{Decoder, Encoder, LinesCodec, ReadBuf};
//!
//! let mut codec = LinesCodec::new(1024);
//! let mut input = ReadBuf::from(&b"hello\r\nwor"[..]);
//! assert_eq!(codec.decode(&mut input).unwrap(), Some("hello".to_string()));
//! assert_eq!(codec.decode(&mut input).unwrap(), None); // "wor" waits for its newline
//!
//! let mut output = Vec::new();
//! codec.encode("hi".to_string(), &mut output).unwrap();
//! assert_eq!(output, b"hi\n");
//! ```

mod byte_lines;
mod decoder;
mod delimiter;
mod encoder;
mod error;
mod frame_limits;
mod http;
mod length_delimited;
mod length_delimited_builder;
mod lines;
mod oversize;
mod raw;
mod read_buf;
mod resp;
mod splitter;
mod varint_length;

pub use byte_lines::ByteLinesCodec;
pub use decoder::Decoder;
pub use delimiter::DelimiterCodec;
pub use encoder::Encoder;
pub use error::CodecError;
pub use frame_limits::FrameLimits;
pub use http::{HttpCodec, Incoming, MAX_HEADERS, Refusal, Request, Response, Version};
pub use length_delimited::LengthDelimitedCodec;
pub use length_delimited_builder::LengthDelimitedBuilder;
pub use lines::LinesCodec;
pub use oversize::Oversize;
pub use raw::RawCodec;
pub use read_buf::ReadBuf;
pub use resp::{
    Command, Encoded, PubSub, Reply, RespClientCodec, RespCodec, Value, parse_resp_integer,
};
pub use varint_length::VarintLengthCodec;
