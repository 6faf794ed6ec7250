//! `Splitter`: the delimiter search shared by the line and delimiter codecs.
//!
//! [`LinesCodec`](crate::LinesCodec), [`ByteLinesCodec`](crate::ByteLinesCodec) and
//! [`DelimiterCodec`](crate::DelimiterCodec) differ only in their delimiter and in what they do
//! with a frame's bytes; finding frames, bounding them and skipping over-long ones lives here once.

use memchr::memmem::Finder;

use crate::{CodecError, FrameLimits, Oversize, ReadBuf};

/// What ends a frame.
#[derive(Debug, Clone)]
enum Delimiter {
    /// `\n`; one `\r` directly before it is dropped from the frame too.
    Line,
    /// A single byte, taken literally.
    Byte(u8),
    /// Two or more bytes, searched for as a sequence. The searcher is large (it holds
    /// precomputed tables); boxing it keeps the line codecs, one per connection, small.
    Bytes(Box<Finder<'static>>),
}

impl Delimiter {
    /// The delimiter's bytes.
    fn bytes(&self) -> &[u8] {
        match self {
            Delimiter::Line => b"\n",
            Delimiter::Byte(byte) => std::slice::from_ref(byte),
            Delimiter::Bytes(finder) => finder.needle(),
        }
    }

    /// Where the first delimiter in `haystack` starts.
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        match self {
            Delimiter::Line => memchr::memchr(b'\n', haystack),
            Delimiter::Byte(byte) => memchr::memchr(*byte, haystack),
            Delimiter::Bytes(finder) => finder.find(haystack),
        }
    }

    /// How many bytes at the end of a searched region could still begin a delimiter whose rest
    /// has not arrived, and so must be searched again: one less than the delimiter's length.
    fn overlap(&self) -> usize {
        self.bytes().len() - 1
    }

    /// How many bytes at the end of `buf` (which holds no whole delimiter) may turn out to belong
    /// to the frame's ending rather than to its content.
    fn partial_ending(&self, buf: &[u8]) -> usize {
        match self {
            // A trailing `\r` may be the first half of `\r\n`.
            Delimiter::Line => usize::from(buf.last() == Some(&b'\r')),
            Delimiter::Byte(_) => 0,
            Delimiter::Bytes(finder) => {
                let needle = finder.needle();
                // Longest proper prefix of the delimiter that `buf` ends with. Only reached when
                // `buf` is over the decode bound, at most a delimiter's length of times per frame.
                (1..needle.len().min(buf.len() + 1))
                    .rev()
                    .find(|&k| buf.ends_with(&needle[..k]))
                    .unwrap_or(0)
            }
        }
    }

    /// Where the content of a frame whose delimiter starts at `at` ends.
    fn content_end(&self, buf: &[u8], at: usize) -> usize {
        match self {
            Delimiter::Line if at > 0 && buf[at - 1] == b'\r' => at - 1,
            _ => at,
        }
    }
}

/// Where the splitter is in the stream.
#[derive(Debug, Clone, Copy)]
enum SplitState {
    /// Looking for the end of a frame; the first `searched` buffered bytes are known to hold no
    /// delimiter start, so a frame arriving in pieces is scanned once, in linear time.
    Scanning {
        /// Buffered bytes already searched.
        searched: usize,
    },
    /// Skipping the rest of an over-long frame, already reported, up to and including its
    /// delimiter; skipped bytes are consumed as they arrive.
    Discarding,
}

/// Splits a byte stream into frames ended by a delimiter, with a maximum content length for
/// frames decoded and another for frames encoded.
#[derive(Debug, Clone)]
pub(crate) struct Splitter {
    /// What ends a frame.
    delimiter: Delimiter,
    /// Most content bytes a frame may have, delimiter excluded: `decode` for a frame split off
    /// the input, `encode` for one written.
    limits: FrameLimits,
    /// Whether an over-long frame is an error or is skipped.
    oversize: Oversize,
    /// Scanning or discarding; changed by every decode.
    state: SplitState,
}

impl Splitter {
    /// A splitter for `\n`-terminated lines, accepting `\r\n` too.
    pub(crate) const fn lines(limits: FrameLimits) -> Self {
        Splitter::with_delimiter(Delimiter::Line, limits)
    }

    /// A splitter on `delimiter`, taken literally.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    pub(crate) fn delimited(delimiter: Vec<u8>, limits: FrameLimits) -> Self {
        let delimiter = match delimiter[..] {
            [] => panic!("a frame delimiter must have at least one byte"),
            [byte] => Delimiter::Byte(byte),
            _ => Delimiter::Bytes(Box::new(Finder::new(&delimiter).into_owned())),
        };
        Splitter::with_delimiter(delimiter, limits)
    }

    /// A splitter on `delimiter` that fails on an over-long frame.
    const fn with_delimiter(delimiter: Delimiter, limits: FrameLimits) -> Self {
        Splitter {
            delimiter,
            limits,
            oversize: Oversize::Error,
            state: SplitState::Scanning { searched: 0 },
        }
    }

    /// Most content bytes a frame split off the input may have, delimiter excluded.
    pub(crate) const fn max_length(&self) -> usize {
        self.limits.decode
    }

    /// Most content bytes a frame to encode may have, delimiter excluded.
    pub(crate) const fn max_encode_length(&self) -> usize {
        self.limits.encode
    }

    /// Both bounds.
    pub(crate) const fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// What happens to an over-long frame.
    pub(crate) const fn oversize(&self) -> Oversize {
        self.oversize
    }

    /// Chooses what happens to an over-long frame.
    pub(crate) fn set_oversize(&mut self, oversize: Oversize) {
        self.oversize = oversize;
    }

    /// The delimiter's bytes.
    pub(crate) fn delimiter(&self) -> &[u8] {
        self.delimiter.bytes()
    }

    /// Takes the next frame's content off the front of `src`, consuming its delimiter too.
    ///
    /// The content is copied once, straight from `src` into the returned vector.
    pub(crate) fn split(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        if let SplitState::Discarding = self.state {
            let Some(at) = self.delimiter.find(src) else {
                // Keep only what may be the start of the delimiter: memory stays bounded by
                // one read however long the skipped frame is.
                let keep = self.delimiter.overlap().min(src.len());
                src.advance(src.len() - keep);
                return Ok(None);
            };
            src.advance(at + self.delimiter.bytes().len());
            self.state = SplitState::Scanning { searched: 0 };
        }
        let SplitState::Scanning { searched } = self.state else {
            return Ok(None);
        };
        let start = searched.min(src.len());
        let Some(offset) = self.delimiter.find(&src[start..]) else {
            let searched = src
                .len()
                .saturating_sub(self.delimiter.overlap())
                .max(start);
            self.state = SplitState::Scanning { searched };
            // Fail fast: a frame whose content is already over the decode bound is refused now,
            // not when (if ever) its delimiter arrives.
            if src.len() > self.limits.decode {
                let content = src.len() - self.delimiter.partial_ending(src);
                if content > self.limits.decode {
                    return Err(self.too_long(src, content, None));
                }
            }
            return Ok(None);
        };
        let at = start + offset;
        let end = self.delimiter.content_end(src, at);
        let next = at + self.delimiter.bytes().len();
        self.state = SplitState::Scanning { searched: 0 };
        // A long frame can still arrive whole, delimiter included, in one read.
        if end > self.limits.decode {
            return Err(self.too_long(src, end, Some(next)));
        }
        let frame = src.split_to(end);
        src.advance(next - end);
        Ok(Some(frame))
    }

    /// Like [`split`](Splitter::split), at end of stream.
    ///
    /// The unterminated rest of a frame being discarded is dropped without another error (the
    /// frame was reported when it was found too long); any other leftover bytes are a truncated
    /// frame.
    pub(crate) fn split_eof(&mut self, src: &mut ReadBuf) -> Result<Option<Vec<u8>>, CodecError> {
        if let Some(frame) = self.split(src)? {
            return Ok(Some(frame));
        }
        if let SplitState::Discarding = self.state {
            src.clear();
            self.state = SplitState::Scanning { searched: 0 };
            return Ok(None);
        }
        if src.is_empty() {
            Ok(None)
        } else {
            Err(CodecError::Truncated {
                buffered: src.len(),
            })
        }
    }

    /// The error for a frame with `len` content bytes, over the decode bound; when discarding, also
    /// consumes its bytes (through its delimiter at `next`, if that has arrived).
    fn too_long(&mut self, src: &mut ReadBuf, len: usize, next: Option<usize>) -> CodecError {
        let len = len as u64;
        let max = self.limits.decode;
        match self.oversize {
            Oversize::Error => CodecError::FrameTooLong { len, max },
            Oversize::Discard => {
                match next {
                    Some(next) => src.advance(next),
                    None => {
                        let keep = self.delimiter.overlap().min(src.len());
                        src.advance(src.len() - keep);
                        self.state = SplitState::Discarding;
                    }
                }
                CodecError::Discarded { len, max }
            }
        }
    }

    /// Appends `item` and the delimiter to `dst`.
    ///
    /// Refuses a frame the decoder would not read back as it was: one containing the delimiter,
    /// or ending in bytes that run into the delimiter to form an earlier one (with `aba` as the
    /// delimiter, `ab` would be written `ababa` and read back as an empty frame); and one over
    /// the encode bound. `dst` is unchanged on error.
    pub(crate) fn encode(&self, item: &[u8], dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let delimiter = self.delimiter.bytes();
        if self.delimiter.find(item).is_some() {
            return Err(match self.delimiter {
                Delimiter::Line => CodecError::invalid("line contains a newline"),
                _ => CodecError::invalid("frame contains its delimiter"),
            });
        }
        let overlap = self.delimiter.overlap().min(item.len());
        if overlap > 0 {
            let mut junction = item[item.len() - overlap..].to_vec();
            junction.extend_from_slice(delimiter);
            if self.delimiter.find(&junction) != Some(overlap) {
                return Err(CodecError::invalid(
                    "frame ends with bytes that run into its delimiter",
                ));
            }
        }
        if item.len() > self.limits.encode {
            return Err(CodecError::FrameTooLong {
                len: item.len() as u64,
                max: self.limits.encode,
            });
        }
        dst.reserve(item.len() + delimiter.len());
        dst.extend_from_slice(item);
        dst.extend_from_slice(delimiter);
        Ok(())
    }
}
