//! The one error type every codec reports.

use std::fmt;

/// Why a codec refused its input or a frame.
///
/// A fatal decode error (all but [`CodecError::Discarded`], see [`CodecError::is_fatal`]) means
/// the byte stream can no longer be trusted (the decoder may have lost its place), so the reactor
/// reports it to the handler and then closes the connection. A discarded frame is reported and
/// decoding goes on. An encode error refuses one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame is, or is announced to be, longer than the codec's maximum: a frame received
    /// over its decode bound, or a frame to send over its encode bound (see
    /// [`FrameLimits`](crate::FrameLimits)).
    FrameTooLong {
        /// The frame's length when known (a length header, a frame to encode), or the bytes seen
        /// so far.
        len: u64,
        /// The bound the frame broke: the decode bound when decoding, the encode bound when
        /// encoding.
        max: usize,
    },
    /// A frame that must be UTF-8 is not.
    InvalidUtf8,
    /// The stream ended in the middle of a frame.
    Truncated {
        /// How many bytes of the unfinished frame had arrived.
        buffered: usize,
    },
    /// A frame received longer than the decode bound was skipped (a codec set to discard
    /// over-long frames):
    /// the stream is still in step and decoding goes on. The only error that is not fatal.
    Discarded {
        /// The frame's length, delimiter excluded, as far as it was known when it was found too
        /// long: its whole length if its delimiter had arrived, otherwise the bytes seen so far
        /// (at least `max + 1`). The rest of the frame is skipped without another report.
        len: u64,
        /// The codec's decode bound.
        max: usize,
    },
    /// Any other malformed input, described for a log line or a protocol error reply.
    Invalid(String),
}

impl CodecError {
    /// A malformed-input error with a description, for codecs written by users.
    pub fn invalid(why: impl Into<String>) -> Self {
        CodecError::Invalid(why.into())
    }

    /// Whether the stream can no longer be decoded after this error, so the connection must
    /// close. Only [`CodecError::Discarded`] is not fatal.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, CodecError::Discarded { .. })
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
            CodecError::Discarded { len, max } => {
                write!(
                    f,
                    "frame too long: skipped {len} bytes, the maximum is {max}"
                )
            }
            CodecError::Invalid(why) => write!(f, "invalid input: {why}"),
        }
    }
}

impl std::error::Error for CodecError {}
