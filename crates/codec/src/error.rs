//! The one error type every codec reports.

use std::fmt;

/// Why a codec refused its input or a frame.
///
/// A decode error means the byte stream can no longer be trusted (the decoder may have lost its
/// place), so the reactor reports it to the handler and then closes the connection. An encode
/// error refuses one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame is, or is announced to be, longer than the codec's maximum.
    FrameTooLong {
        /// The frame's length when known (a length header), or the bytes seen so far.
        len: u64,
        /// The maximum the codec accepts.
        max: usize,
    },
    /// A frame that must be UTF-8 is not.
    InvalidUtf8,
    /// The stream ended in the middle of a frame.
    Truncated {
        /// How many bytes of the unfinished frame had arrived.
        buffered: usize,
    },
    /// Any other malformed input, described for a log line or a protocol error reply.
    Invalid(String),
}

impl CodecError {
    /// A malformed-input error with a description, for codecs written by users.
    pub fn invalid(why: impl Into<String>) -> Self {
        CodecError::Invalid(why.into())
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::FrameTooLong { len, max } => {
                write!(f, "frame too long: {len} bytes, the maximum is {max}")
            }
            CodecError::InvalidUtf8 => f.write_str("frame is not valid UTF-8"),
            CodecError::Truncated { buffered } => {
                write!(f, "stream ended inside a frame ({buffered} bytes buffered)")
            }
            CodecError::Invalid(why) => write!(f, "invalid input: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}
