//! What every fuzz target does with a decoder: feed it arbitrary bytes in pieces and check the
//! `Decoder` contract's invariants, then compare with the same bytes fed whole.

use std::fmt::Debug;

use turbine_codec::{CodecError, Decoder, ReadBuf};

/// Most `decode_eof` calls one stream may need; more means a decoder that never finishes.
const MAX_EOF_CALLS: usize = 1 << 16;

/// What decoding a whole stream produced.
#[derive(Debug, PartialEq)]
pub struct Outcome<T> {
    /// Frames, with `None` for each frame reported as discarded.
    pub frames: Vec<Option<T>>,
    /// The fatal error that ended decoding, by variant only (the byte counts inside it depend
    /// on how the input was split).
    pub error: Option<&'static str>,
}

/// The variant of a fatal error.
fn kind(error: &CodecError) -> &'static str {
    match error {
        CodecError::FrameTooLong { .. } => "FrameTooLong",
        CodecError::InvalidUtf8 => "InvalidUtf8",
        CodecError::Truncated { .. } => "Truncated",
        CodecError::Discarded { .. } => "Discarded",
        CodecError::Invalid(_) => "Invalid",
        _ => "other",
    }
}

/// Splits the fuzzer's input: the first byte picks a chunk size (1 to 256), the rest is the
/// stream.
pub fn chunked(data: &[u8]) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((usize::from(first) + 1, rest))
}

/// Feeds `input` to `codec` `chunk` bytes at a time, decoding after each piece, then signals end
/// of stream, asserting the contract as it goes:
///
/// - nothing panics, and no call loops forever;
/// - a frame consumes at least one byte and at least its own length;
/// - after `Ok(None)` at most `bound` bytes stay buffered (the codec's maximum plus whatever
///   header or delimiter bytes it may hold back), so memory never passes `bound` plus a chunk;
/// - `decode_eof` ends with `Ok(None)` only when no byte is left.
pub fn drive<D>(codec: &mut D, input: &[u8], chunk: usize, bound: usize) -> Outcome<D::Item>
where
    D: Decoder,
    D::Item: AsRef<[u8]>,
{
    let mut src = ReadBuf::new();
    let mut frames = Vec::new();
    for piece in input.chunks(chunk) {
        src.extend_from_slice(piece);
        loop {
            let before = src.len();
            match codec.decode(&mut src) {
                Ok(Some(frame)) => {
                    let consumed = before - src.len();
                    assert!(
                        consumed >= frame.as_ref().len().max(1),
                        "frame consumed {consumed}"
                    );
                    frames.push(Some(frame));
                }
                Ok(None) => {
                    assert!(src.len() <= before, "Ok(None) grew the buffer");
                    assert!(
                        src.len() <= bound,
                        "{} bytes buffered, bound {bound}",
                        src.len()
                    );
                    break;
                }
                Err(CodecError::Discarded { .. }) => frames.push(None),
                Err(error) => {
                    assert!(error.is_fatal());
                    return Outcome {
                        frames,
                        error: Some(kind(&error)),
                    };
                }
            }
        }
    }
    for _ in 0..MAX_EOF_CALLS {
        match codec.decode_eof(&mut src) {
            Ok(Some(frame)) => frames.push(Some(frame)),
            Ok(None) => {
                assert!(
                    src.is_empty(),
                    "{} bytes dropped silently at EOF",
                    src.len()
                );
                return Outcome {
                    frames,
                    error: None,
                };
            }
            Err(CodecError::Discarded { .. }) => frames.push(None),
            Err(error) => {
                return Outcome {
                    frames,
                    error: Some(kind(&error)),
                };
            }
        }
    }
    panic!("decode_eof never finished");
}

/// Runs [`drive`] on the stream chunked as the input says and on the stream whole, with two
/// copies of a fresh codec, and checks that both give the same frames and the same error.
pub fn check<D>(new_codec: impl Fn() -> D, data: &[u8], bound: usize)
where
    D: Decoder,
    D::Item: AsRef<[u8]> + PartialEq + Debug,
{
    let Some((chunk, input)) = chunked(data) else {
        return;
    };
    let pieces = drive(&mut new_codec(), input, chunk, bound);
    let whole = drive(&mut new_codec(), input, input.len().max(1), bound);
    assert_eq!(
        pieces, whole,
        "chunks of {chunk} differ from the whole stream"
    );
}

/// Splits the fuzzer's input into frames: a length byte, then that many bytes, repeated.
pub fn frames(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while let Some((&len, rest)) = data.split_first() {
        let len = usize::from(len).min(rest.len());
        let (frame, rest) = rest.split_at(len);
        frames.push(frame.to_vec());
        data = rest;
    }
    frames
}

/// Encodes `items` with one codec (an item it refuses must leave the output as it was), decodes
/// the output in `chunk`-byte pieces with another, and checks that exactly the accepted items
/// come back, in order.
pub fn round_trip<C, T>(new_codec: impl Fn() -> C, items: Vec<T>, chunk: usize)
where
    C: Decoder<Item = T> + turbine_codec::Encoder<Item = T>,
    T: AsRef<[u8]> + Clone + PartialEq + Debug,
{
    let mut encoder = new_codec();
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for item in items {
        let before = wire.len();
        match encoder.encode(item.clone(), &mut wire) {
            Ok(()) => expected.push(Some(item)),
            Err(error) => {
                assert_eq!(wire.len(), before, "refused frame changed dst: {error}");
            }
        }
    }
    let outcome = drive(&mut new_codec(), &wire, chunk, usize::MAX);
    assert_eq!(
        outcome,
        Outcome {
            frames: expected,
            error: None
        }
    );
}
