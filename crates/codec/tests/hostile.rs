//! Hostile input: huge length headers, endless lines, zero-length frames, invalid UTF-8,
//! over-long varints. Every codec must answer with an error (or a valid frame), never a panic,
//! and never hold more than its maximum plus one read.

use turbine_codec::{
    ByteLinesCodec, CodecError, Decoder, DelimiterCodec, LengthDelimitedCodec, LinesCodec,
    Oversize, ReadBuf, VarintLengthCodec,
};

const MAX: usize = 64 * 1024;
const CHUNK: usize = 4096;

/// A 4-byte header of 0xFFFFFFFF followed by silence is refused as soon as it is complete, and
/// nothing is allocated for it: the buffer's capacity does not move.
#[test]
fn huge_length_header_refused_without_allocating() {
    let mut codec = LengthDelimitedCodec::new(MAX);
    let mut src = ReadBuf::with_capacity(16);
    src.extend_from_slice(&[0xFF; 4]);
    let capacity = src.capacity();
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: u64::from(u32::MAX),
            max: MAX,
        })
    );
    assert_eq!(src.capacity(), capacity);
    assert_eq!(src.len(), 4, "the refused header is left as it was");
}

/// A header under a very large maximum is accepted, and even then the decoder reserves nothing
/// on its word: memory grows only as payload bytes actually arrive.
#[test]
fn accepted_huge_header_reserves_nothing() {
    let mut codec = LengthDelimitedCodec::new(usize::MAX);
    let mut src = ReadBuf::with_capacity(16);
    src.extend_from_slice(&[0xFF; 4]);
    src.extend_from_slice(b"abc");
    let capacity = src.capacity();
    for _ in 0..3 {
        assert_eq!(codec.decode(&mut src), Ok(None));
    }
    assert_eq!(src.capacity(), capacity);
    assert_eq!(
        codec.decode_eof(&mut src),
        Err(CodecError::Truncated { buffered: 7 })
    );
}

/// An 8-byte length field of `u64::MAX` is refused, without a panic or an overflow, whatever the
/// adjustment and maximum; a negative adjusted length is refused as invalid.
#[test]
fn eight_byte_length_of_u64_max_refused() {
    for adjustment in [0, 1, isize::MAX, -1, isize::MIN] {
        for max in [0, MAX, usize::MAX] {
            for little_endian in [false, true] {
                let mut builder = LengthDelimitedCodec::builder();
                builder
                    .length_field_length(8)
                    .length_adjustment(adjustment)
                    .max_frame_length(max);
                if little_endian {
                    builder.little_endian();
                }
                let mut codec = builder.new_codec();
                let mut src = ReadBuf::from(&[0xFF; 8][..]);
                let result = codec.decode(&mut src);
                match result {
                    Err(CodecError::FrameTooLong { .. }) => {}
                    // Under a maximum of usize::MAX, an adjustment of isize::MIN brings the
                    // length down to about 2^63, which fits: it waits for its payload.
                    Ok(None) if max == usize::MAX => {}
                    other => panic!("adjustment {adjustment}, max {max}: {other:?}"),
                }
            }
        }
    }
    let mut codec = LengthDelimitedCodec::builder()
        .length_field_length(1)
        .length_adjustment(isize::MIN)
        .new_codec();
    let mut src = ReadBuf::from(&[0xFF, 0][..]);
    assert!(matches!(
        codec.decode(&mut src),
        Err(CodecError::Invalid(_))
    ));
    let mut codec = LengthDelimitedCodec::builder()
        .num_skip(usize::MAX)
        .max_frame_length(usize::MAX)
        .new_codec();
    let mut src = ReadBuf::from(&[0, 0, 0, 1, 0][..]);
    assert!(matches!(
        codec.decode(&mut src),
        Err(CodecError::Invalid(_))
    ));
}

/// A varint of ten continuation bytes (an eleventh would follow) is refused when the tenth
/// arrives; so is a tenth byte that overflows a `u64`; the largest `u64` is a length like any.
#[test]
fn varint_too_long_or_overflowing_refused() {
    let mut codec = VarintLengthCodec::new(MAX);
    let mut src = ReadBuf::new();
    for _ in 0..9 {
        src.extend_from_slice(&[0x80]);
        assert_eq!(codec.decode(&mut src), Ok(None));
    }
    src.extend_from_slice(&[0x80]);
    assert!(matches!(
        codec.decode(&mut src),
        Err(CodecError::Invalid(_))
    ));

    let mut src = ReadBuf::from(&[0xFF; 11][..]);
    assert!(matches!(
        VarintLengthCodec::new(MAX).decode(&mut src),
        Err(CodecError::Invalid(_))
    ));
    let mut overflow = vec![0xFF; 9];
    overflow.push(0x02);
    let mut src = ReadBuf::from(&overflow[..]);
    assert!(matches!(
        VarintLengthCodec::new(MAX).decode(&mut src),
        Err(CodecError::Invalid(_))
    ));
    let mut largest = vec![0xFF; 9];
    largest.push(0x01);
    let mut src = ReadBuf::from(&largest[..]);
    assert_eq!(
        VarintLengthCodec::new(MAX).decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: u64::MAX,
            max: MAX,
        })
    );
}

/// Feeds an endless line (no delimiter ever) in `CHUNK`-byte reads until the decoder errs;
/// returns the error and the buffered length at that point, checking after every `Ok(None)`
/// that at most the maximum plus `slack` bytes are held.
fn feed_endless<D: Decoder>(codec: &mut D, slack: usize) -> (CodecError, usize) {
    let chunk = [b'a'; CHUNK];
    let mut src = ReadBuf::new();
    for _ in 0..(4 * MAX / CHUNK) {
        src.extend_from_slice(&chunk);
        match codec.decode(&mut src) {
            Ok(None) => assert!(src.len() <= MAX + slack, "{} buffered", src.len()),
            Ok(Some(_)) => panic!("a frame out of an endless line"),
            Err(e) => return (e, src.len()),
        }
    }
    panic!("never failed");
}

/// An endless line fails once the limit is passed, holding at most the limit plus one read, for
/// the `String` and byte line codecs and for one-byte and multi-byte delimiters.
#[test]
fn endless_line_fails_with_bounded_memory() {
    let cases = [
        (feed_endless(&mut LinesCodec::new(MAX), 1), 1),
        (feed_endless(&mut ByteLinesCodec::new(MAX), 1), 1),
        (feed_endless(&mut DelimiterCodec::new("\0", MAX), 0), 0),
        (feed_endless(&mut DelimiterCodec::new("ab", MAX), 1), 1),
    ];
    for ((error, buffered), slack) in cases {
        assert!(buffered > MAX && buffered <= MAX + slack + CHUNK);
        // `len` counts the content seen, less any trailing bytes that may start the delimiter.
        let CodecError::FrameTooLong { len, max } = error else {
            panic!("{error:?}");
        };
        assert_eq!(max, MAX);
        assert!(
            len > MAX as u64 && len <= buffered as u64 && len + slack as u64 >= buffered as u64
        );
    }
}

/// In discard mode an endless line is reported once; the buffer never holds more than one
/// read (skipped bytes are consumed as they arrive, never accumulated), and decoding resumes
/// after the newline when it finally comes.
#[test]
fn endless_line_discard_bounded_and_resumes() {
    let mut codec = LinesCodec::new(MAX).with_oversize(Oversize::Discard);
    let chunk = [b'a'; CHUNK];
    let mut src = ReadBuf::new();
    let mut reports = 0;
    for _ in 0..(64 * MAX / CHUNK) {
        src.extend_from_slice(&chunk);
        assert!(src.len() <= MAX + 1 + CHUNK);
        match codec.decode(&mut src) {
            Ok(None) => {}
            Err(CodecError::Discarded { len, max }) => {
                reports += 1;
                assert!(len > MAX as u64 && max == MAX);
            }
            other => panic!("{other:?}"),
        }
        if reports > 0 {
            assert!(src.is_empty(), "{} bytes held while discarding", src.len());
        }
    }
    assert_eq!(reports, 1);
    let capacity = src.capacity();
    assert!(capacity <= MAX + 1 + CHUNK, "capacity {capacity}");
    src.extend_from_slice(b"tail\r\nnext line\n");
    assert_eq!(codec.decode(&mut src), Ok(Some("next line".to_string())));
    assert_eq!(codec.decode(&mut src), Ok(None));
}

/// The same with a multi-byte delimiter: while discarding, only the bytes that may begin the
/// delimiter are held.
#[test]
fn endless_frame_discard_multibyte_bounded() {
    let mut codec = DelimiterCodec::new("\r\n\r\n", MAX).with_oversize(Oversize::Discard);
    let chunk = [b'\r'; CHUNK];
    let mut src = ReadBuf::new();
    let mut reports = 0;
    for _ in 0..(8 * MAX / CHUNK) {
        src.extend_from_slice(&chunk);
        match codec.decode(&mut src) {
            Ok(None) => {}
            Err(CodecError::Discarded { .. }) => reports += 1,
            other => panic!("{other:?}"),
        }
        if reports > 0 {
            assert!(src.len() <= 3, "{} bytes held while discarding", src.len());
        }
    }
    assert_eq!(reports, 1);
    // The held `\r\r\r` and this `\n\r\n` complete the delimiter that ends the skipped frame.
    src.extend_from_slice(b"\n\r\nok\r\n\r\n");
    assert_eq!(codec.decode(&mut src), Ok(Some(b"ok".to_vec())));
    assert!(src.is_empty());
}

/// Zero-length frames are valid in every codec that can express them.
#[test]
fn zero_length_frames_are_valid() {
    let mut src = ReadBuf::from(&b"\n\r\n"[..]);
    let mut lines = LinesCodec::new(0);
    assert_eq!(lines.decode(&mut src), Ok(Some(String::new())));
    assert_eq!(lines.decode(&mut src), Ok(Some(String::new())));

    let mut src = ReadBuf::from(&b"\0\0"[..]);
    let mut delimited = DelimiterCodec::new("\0", 0);
    assert_eq!(delimited.decode(&mut src), Ok(Some(Vec::new())));
    assert_eq!(delimited.decode(&mut src), Ok(Some(Vec::new())));

    let mut src = ReadBuf::from(&b"\0\0\0\0"[..]);
    let mut length = LengthDelimitedCodec::new(0);
    assert_eq!(length.decode(&mut src), Ok(Some(Vec::new())));

    let mut src = ReadBuf::from(&b"\0\0"[..]);
    let mut varint = VarintLengthCodec::new(0);
    assert_eq!(varint.decode(&mut src), Ok(Some(Vec::new())));
    assert_eq!(varint.decode(&mut src), Ok(Some(Vec::new())));
    assert_eq!(varint.decode_eof(&mut src), Ok(None));
}

/// Invalid UTF-8 is an error for the `String` lines codec, in discard mode too (it is not an
/// over-long line), and a frame like any other for the byte codec.
#[test]
fn invalid_utf8() {
    for oversize in [Oversize::Error, Oversize::Discard] {
        let mut codec = LinesCodec::new(MAX).with_oversize(oversize);
        let mut src = ReadBuf::from(&b"ok\n\xc3\x28\n"[..]);
        assert_eq!(codec.decode(&mut src), Ok(Some("ok".to_string())));
        assert_eq!(codec.decode(&mut src), Err(CodecError::InvalidUtf8));
    }
    let mut codec = ByteLinesCodec::new(MAX);
    let mut src = ReadBuf::from(&b"\xc3\x28\n"[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some(b"\xc3\x28".to_vec())));
}
