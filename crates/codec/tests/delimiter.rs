//! `DelimiterCodec` with one-byte and multi-byte delimiters against a naive reference under
//! every split, in both `Oversize` modes.

mod util;

use turbine_codec::{CodecError, Decoder, DelimiterCodec, Encoder, Oversize, ReadBuf};
use util::{Event, Fatal, Outcome, XorShift, check_all_splits, reference_delimited};

const MAX: usize = 12;

/// Delimiters worth testing: one byte; two bytes; one that overlaps itself (`aba`, whose end
/// is its start); one of repeated bytes (`aa`); a long one.
const DELIMITERS: [&[u8]; 6] = [b"\0", b"\r\n", b"aba", b"aa", b"abab", b"\r\n\r\n"];

/// A random stream over an alphabet made of the delimiter's own bytes (and one other), so that
/// partial, overlapping and straddling delimiters are everywhere.
fn stream_for(delimiter: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed);
    let mut alphabet = delimiter.to_vec();
    alphabet.push(b'x');
    let mut stream = Vec::new();
    for _ in 0..40 {
        let len = rng.below(MAX + 6);
        stream.extend(rng.bytes_from(&alphabet, len));
        stream.extend_from_slice(delimiter);
    }
    // At least one frame certainly over the maximum, then one more ordinary frame.
    stream.extend(vec![b'x'; MAX + 3]);
    stream.extend_from_slice(delimiter);
    stream.extend_from_slice(b"x");
    stream.extend_from_slice(delimiter);
    stream
}

/// Each delimiter, in each mode, splits a stream full of near-delimiters exactly like the naive
/// reference, under every split.
#[test]
fn delimiter_match_reference_under_all_splits() {
    for (i, delimiter) in DELIMITERS.into_iter().enumerate() {
        let stream = stream_for(delimiter, 100 + i as u64);
        for discard in [false, true] {
            let oversize = if discard {
                Oversize::Discard
            } else {
                Oversize::Error
            };
            let expected = reference_delimited(&stream, delimiter, false, MAX, discard);
            if discard {
                assert!(expected.events.contains(&Event::Discarded), "{delimiter:?}");
            }
            check_all_splits(
                || DelimiterCodec::new(delimiter, MAX).with_oversize(oversize),
                &stream,
                &expected,
            );
        }
    }
}

/// Frames of exactly the maximum, with the delimiter split across reads at every point, are
/// accepted; a frame one longer is not.
#[test]
fn delimiter_exactly_at_limit() {
    for delimiter in DELIMITERS {
        let frame = vec![b'x'; MAX];
        let mut stream = frame.clone();
        stream.extend_from_slice(delimiter);
        check_all_splits(
            || DelimiterCodec::new(delimiter, MAX),
            &stream,
            &Outcome::frames([frame]),
        );
        let mut stream = vec![b'x'; MAX + 1];
        stream.extend_from_slice(delimiter);
        let expected = Outcome {
            events: Vec::new(),
            fatal: Some(Fatal::TooLong),
        };
        check_all_splits(|| DelimiterCodec::new(delimiter, MAX), &stream, &expected);
    }
}

/// Bytes that may be the start of the delimiter are not counted against the maximum until they
/// turn out not to be.
#[test]
fn delimiter_partial_suffix_waits() {
    let mut codec = DelimiterCodec::new("\r\n\r\n", 4);
    let mut src = ReadBuf::from(&b"abcd\r\n\r"[..]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(b"\n");
    assert_eq!(codec.decode(&mut src), Ok(Some(b"abcd".to_vec())));

    let mut src = ReadBuf::from(&b"abcd\r\n\r"[..]);
    src.extend_from_slice(b"x");
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong { len: 8, max: 4 })
    );
}

/// A long frame fed one byte at a time is found by a search that resumes where it stopped: this
/// finishes quickly only if the scan is linear.
#[test]
fn delimiter_long_frame_bytewise_is_linear() {
    for delimiter in [&b"\0"[..], b"<END>"] {
        let frame = vec![b'E'; 1 << 19];
        let mut codec = DelimiterCodec::new(delimiter, 1 << 20);
        let mut src = ReadBuf::new();
        for byte in &frame {
            src.extend_from_slice(std::slice::from_ref(byte));
            assert_eq!(codec.decode(&mut src), Ok(None));
        }
        src.extend_from_slice(delimiter);
        assert_eq!(codec.decode(&mut src), Ok(Some(frame)));
        assert!(src.is_empty());
    }
}

/// The encoder appends the delimiter, and refuses a frame containing it, a frame whose end runs
/// into it, or one over the maximum, leaving `dst` as it was.
#[test]
fn delimiter_encode() {
    let mut codec = DelimiterCodec::new("aba", MAX);
    assert_eq!(codec.delimiter(), b"aba");
    let mut dst = Vec::new();
    codec.encode(b"xb".to_vec(), &mut dst).unwrap();
    assert_eq!(dst, b"xbaba");
    for refused in [&b"xabax"[..], b"ab", b"xxab", b"b"] {
        let result = codec.encode(refused.to_vec(), &mut dst);
        // "b" + "aba" = "baba": first "aba" at 1, fine; the others run into or contain it.
        if refused == b"b" {
            assert_eq!(result, Ok(()));
            dst.truncate(5);
        } else {
            assert!(matches!(result, Err(CodecError::Invalid(_))), "{refused:?}");
        }
    }
    assert_eq!(
        codec.encode(vec![b'x'; MAX + 1], &mut dst),
        Err(CodecError::FrameTooLong {
            len: MAX as u64 + 1,
            max: MAX,
        })
    );
    assert_eq!(dst, b"xbaba");
    let mut src = ReadBuf::from(&dst[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some(b"xb".to_vec())));
}

/// A one-byte `\n` delimiter is taken literally: unlike the line codecs, it keeps a `\r`.
#[test]
fn delimiter_newline_keeps_cr() {
    let mut codec = DelimiterCodec::new("\n", MAX);
    let mut src = ReadBuf::from(&b"a\r\n"[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some(b"a\r".to_vec())));
}

/// An empty delimiter is refused when the codec is made.
#[test]
#[should_panic(expected = "at least one byte")]
fn delimiter_empty_panics() {
    let _ = DelimiterCodec::new(Vec::new(), MAX);
}

/// Discarding with a multi-byte delimiter keeps only the bytes that may start it, finds a
/// delimiter that straddles two reads, and resumes after it.
#[test]
fn delimiter_discard_straddling() {
    let mut codec = DelimiterCodec::new("<END>", 3).with_oversize(Oversize::Discard);
    let mut src = ReadBuf::from(&b"toolong<E"[..]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::Discarded { len: 7, max: 3 })
    );
    assert!(src.len() <= 4, "kept {} bytes", src.len());
    src.extend_from_slice(b"ND>ok<END>");
    assert_eq!(codec.decode(&mut src), Ok(Some(b"ok".to_vec())));
    assert_eq!(codec.oversize(), Oversize::Discard);
    assert_eq!(codec.max_length(), 3);
}
