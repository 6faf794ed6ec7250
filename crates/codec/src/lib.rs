//! Turbine's codecs: the bytes a connection receives become frames, and frames become bytes.
//!
//! A codec knows nothing of sockets or threads: the reactor hands it a [`ReadBuf`] of received
//! bytes and an output `Vec<u8>`, which is what makes the parsing logic easy to test byte by
//! byte. Every stock codec is bounded: a hostile peer cannot make it buffer more than its maximum
//! frame, and a length header is checked before anything is allocated.
//!
//! # Layout
//!
//! - [`Decoder`] and [`Encoder`]: the traits, with their contracts.
//! - [`ReadBuf`]: received bytes, consumed from the front without copying.
//! - [`CodecError`]: what a codec reports on bad input.
//! - Stock codecs: [`RawCodec`] (bytes as they arrive), [`LinesCodec`] (`\n`-terminated UTF-8
//!   lines) and [`LengthDelimitedCodec`] (a 4-byte big-endian length, then the payload).
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

mod decoder;
mod encoder;
mod error;
mod length_delimited;
mod lines;
mod raw;
mod read_buf;

pub use decoder::Decoder;
pub use encoder::Encoder;
pub use error::CodecError;
pub use length_delimited::LengthDelimitedCodec;
pub use lines::LinesCodec;
pub use raw::RawCodec;
pub use read_buf::ReadBuf;
