//! The line codecs, `LinesCodec` (`String`) and `ByteLinesCodec` (bytes), against a simple
//! reference under every split of their input, in both `Oversize` modes.

mod util;

use turbine_codec::{ByteLinesCodec, CodecError, Decoder, Encoder, LinesCodec, Oversize, ReadBuf};
use util::{
    Event, Fatal, Outcome, XorShift, check_all_splits, decode_chunks, map_frames,
    reference_delimited, reference_lines,
};

/// A line of `len` bytes drawn from ASCII and multi-byte characters; `\r` is allowed inside.
fn random_line(rng: &mut XorShift, len: usize) -> String {
    const PIECES: [&str; 6] = ["a", "Z", " ", "\r", "é", "日"];
    let mut line = String::new();
    loop {
        let piece = PIECES[rng.below(PIECES.len())];
        if line.len() + piece.len() > len {
            break;
        }
        line.push_str(piece);
    }
    while line.len() < len {
        line.push('x');
    }
    // A trailing `\r` would be read back as part of the line ending.
    if line.ends_with('\r') {
        line.pop();
        line.push('y');
    }
    line
}

const LINE_MAX: usize = 40;

/// The lines codec decodes a mixed `\n` / `\r\n` stream like the reference under every split.
#[test]
fn lines_match_reference_under_all_splits() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut lines: Vec<String> = vec![
        String::new(),
        String::new(),
        "\r".repeat(3) + "x",
        "a\rb".to_string(),
        "x".repeat(LINE_MAX),
        "y".repeat(LINE_MAX),
        "日".repeat(LINE_MAX / 3),
    ];
    for len in 0..=LINE_MAX {
        lines.push(random_line(&mut rng, len));
    }
    let mut stream = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        stream.extend_from_slice(line.as_bytes());
        stream.extend_from_slice(if i % 2 == 0 { b"\r\n" } else { b"\n" });
    }
    let expected = reference_lines(&stream, LINE_MAX, false);
    assert_eq!(expected, Outcome::frames(lines));
    check_all_splits(|| LinesCodec::new(LINE_MAX), &stream, &expected);
}

/// The lines encoder's output decodes back to the same lines under every split.
#[test]
fn lines_encode_round_trips() {
    let mut rng = XorShift(42);
    let lines: Vec<String> = (0..60)
        .map(|_| {
            let len = rng.below(LINE_MAX + 1);
            random_line(&mut rng, len)
        })
        .collect();
    let mut codec = LinesCodec::new(LINE_MAX);
    let mut stream = Vec::new();
    for line in &lines {
        codec.encode(line.clone(), &mut stream).unwrap();
    }
    let expected = Outcome::frames(lines);
    assert_eq!(reference_lines(&stream, LINE_MAX, false), expected);
    check_all_splits(|| LinesCodec::new(LINE_MAX), &stream, &expected);
}

/// A line of exactly the maximum is accepted with `\n` and with `\r\n`, whole or bytewise.
#[test]
fn lines_exactly_at_limit_accepted() {
    let line = "m".repeat(LINE_MAX);
    for ending in ["\n", "\r\n"] {
        let stream = format!("{line}{ending}");
        check_all_splits(
            || LinesCodec::new(LINE_MAX),
            stream.as_bytes(),
            &Outcome::frames([line.clone()]),
        );
    }
}

/// The maximum plus a `\r` waits for the next byte; anything but `\n` then is too long.
#[test]
fn lines_trailing_cr_at_limit_waits() {
    let mut codec = LinesCodec::new(LINE_MAX);
    let mut src = ReadBuf::from("m".repeat(LINE_MAX).as_bytes());
    src.extend_from_slice(b"\r");
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(b"x");
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: LINE_MAX as u64 + 2,
            max: LINE_MAX,
        })
    );

    let mut codec = LinesCodec::new(LINE_MAX);
    let mut src = ReadBuf::from("m".repeat(LINE_MAX + 1).as_bytes());
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: LINE_MAX as u64 + 1,
            max: LINE_MAX,
        })
    );
}

/// A line over the maximum that arrives whole, newline included, is refused too.
#[test]
fn lines_too_long_with_newline_refused() {
    for ending in ["\n", "\r\n"] {
        let mut codec = LinesCodec::new(LINE_MAX);
        let stream = format!("{}{ending}", "m".repeat(LINE_MAX + 1));
        let mut src = ReadBuf::from(stream.as_bytes());
        assert_eq!(
            codec.decode(&mut src),
            Err(CodecError::FrameTooLong {
                len: LINE_MAX as u64 + 1,
                max: LINE_MAX,
            })
        );
    }
}

/// A 10 MiB line with no newline fails as soon as it passes the maximum, not at its end.
#[test]
fn lines_fail_fast_on_endless_line() {
    const MAX: usize = 100_000;
    const CHUNK: usize = 4096;
    let chunk = [b'a'; CHUNK];
    let mut codec = LinesCodec::new(MAX);
    let mut src = ReadBuf::new();
    let mut fed = 0;
    while fed < 10 << 20 {
        src.extend_from_slice(&chunk);
        fed += CHUNK;
        match codec.decode(&mut src) {
            Ok(None) => assert!(src.len() <= MAX + 1, "{} bytes buffered", src.len()),
            Ok(Some(line)) => panic!("decoded a {}-byte line with no newline", line.len()),
            Err(err) => {
                assert!(src.len() > MAX, "failed at {} bytes", src.len());
                assert!(src.len() <= MAX + CHUNK, "failed late, at {}", src.len());
                assert_eq!(
                    err,
                    CodecError::FrameTooLong {
                        len: src.len() as u64,
                        max: MAX,
                    }
                );
                return;
            }
        }
    }
    panic!("never failed after {fed} bytes");
}

/// A 1 MiB line fed one byte at a time decodes; only a linear scan makes this finish quickly.
#[test]
fn lines_long_line_bytewise_is_linear() {
    let line = "q".repeat(1 << 20);
    let mut codec = LinesCodec::new(2 << 20);
    let mut src = ReadBuf::new();
    for byte in line.as_bytes() {
        src.extend_from_slice(std::slice::from_ref(byte));
        assert_eq!(codec.decode(&mut src), Ok(None));
    }
    src.extend_from_slice(b"\r\nnext\n");
    assert_eq!(codec.decode(&mut src), Ok(Some(line)));
    assert_eq!(codec.decode(&mut src), Ok(Some("next".to_string())));
    assert_eq!(codec.decode(&mut src), Ok(None));
}

/// A complete line that is not UTF-8 is an error; the lines before it still decode.
#[test]
fn lines_invalid_utf8() {
    let mut codec = LinesCodec::new(LINE_MAX);
    let mut src = ReadBuf::from(&b"ok\n\xff\xfe\r\n"[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some("ok".to_string())));
    assert_eq!(codec.decode(&mut src), Err(CodecError::InvalidUtf8));
}

/// End of stream inside a line is `Truncated`; between lines it is a clean `Ok(None)`.
#[test]
fn lines_eof() {
    let mut codec = LinesCodec::new(LINE_MAX);
    let mut src = ReadBuf::from(&b"done\npart"[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some("done".to_string())));
    assert_eq!(codec.decode(&mut src), Ok(None));
    assert_eq!(
        codec.decode_eof(&mut src),
        Err(CodecError::Truncated { buffered: 4 })
    );

    let mut codec = LinesCodec::new(LINE_MAX);
    let mut src = ReadBuf::from(&b"done\n"[..]);
    assert_eq!(codec.decode_eof(&mut src), Ok(Some("done".to_string())));
    assert_eq!(codec.decode_eof(&mut src), Ok(None));
}

/// The lines encoder refuses a newline inside or a line over the maximum, leaving `dst` as it was.
#[test]
fn lines_encode_errors_leave_dst() {
    let mut codec = LinesCodec::new(LINE_MAX);
    let mut dst = b"prefix".to_vec();
    assert!(matches!(
        codec.encode("two\nlines".to_string(), &mut dst),
        Err(CodecError::Invalid(_))
    ));
    assert_eq!(
        codec.encode("m".repeat(LINE_MAX + 1), &mut dst),
        Err(CodecError::FrameTooLong {
            len: LINE_MAX as u64 + 1,
            max: LINE_MAX,
        })
    );
    assert_eq!(dst, b"prefix");
    codec.encode("m".repeat(LINE_MAX), &mut dst).unwrap();
    assert_eq!(dst.len(), b"prefix".len() + LINE_MAX + 1);
    assert_eq!(codec.max_length(), LINE_MAX);
}

/// Random lines fed in random chunk sizes decode like the reference.
#[test]
fn lines_random_chunks() {
    let mut rng = XorShift(0xDEAD_BEEF);
    for _ in 0..50 {
        let mut stream = Vec::new();
        for _ in 0..rng.below(30) {
            let len = rng.below(LINE_MAX + 1);
            stream.extend_from_slice(random_line(&mut rng, len).as_bytes());
            stream.extend_from_slice(if rng.below(2) == 0 { b"\n" } else { b"\r\n" });
        }
        let mut chunks = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(1 + rng.below(rest.len().min(64)));
            chunks.push(chunk);
            rest = tail;
        }
        let outcome = decode_chunks(&mut LinesCodec::new(LINE_MAX), chunks);
        assert_eq!(outcome, reference_lines(&stream, LINE_MAX, false));
    }
}

/// A stream of lines of every length around the maximum, some over it, `\n` and `\r\n` endings,
/// `\r` inside, multi-byte characters; built deterministically.
fn mixed_stream(seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed);
    let mut stream = Vec::new();
    for len in (0..=LINE_MAX + 6).chain([0, 0, LINE_MAX, LINE_MAX + 1, 3 * LINE_MAX]) {
        stream.extend_from_slice(random_line(&mut rng, len).as_bytes());
        stream.extend_from_slice(if rng.below(2) == 0 { b"\n" } else { b"\r\n" });
    }
    stream
}

/// In discard mode, every over-long line is reported once and skipped, and the lines around it
/// decode like the reference, under every split.
#[test]
fn lines_discard_match_reference_under_all_splits() {
    let stream = mixed_stream(11);
    let expected = reference_lines(&stream, LINE_MAX, true);
    let discarded = expected
        .events
        .iter()
        .filter(|e| **e == Event::Discarded)
        .count();
    assert_eq!(discarded, 8, "the stream has eight over-long lines");
    check_all_splits(
        || LinesCodec::new(LINE_MAX).with_oversize(Oversize::Discard),
        &stream,
        &expected,
    );
}

/// In error mode, the same stream decodes up to the first over-long line, then fails, under
/// every split.
#[test]
fn lines_error_mode_stops_at_first_long_line_under_all_splits() {
    let stream = mixed_stream(11);
    let expected = reference_lines(&stream, LINE_MAX, false);
    assert_eq!(expected.fatal, Some(Fatal::TooLong));
    assert_eq!(expected.events.len(), LINE_MAX + 1);
    check_all_splits(|| LinesCodec::new(LINE_MAX), &stream, &expected);
}

/// The byte-lines codec splits like the lines codec, keeps bytes that are not UTF-8, and agrees
/// with the byte reference in both modes under every split.
#[test]
fn byte_lines_match_reference_under_all_splits() {
    let mut rng = XorShift(5);
    let mut stream = mixed_stream(23);
    for _ in 0..20 {
        let len = rng.below(LINE_MAX + 8);
        stream.extend(rng.bytes_from(b"\x00\xff\xfe\r\xc3a", len));
        stream.extend_from_slice(b"\n");
    }
    for discard in [false, true] {
        let oversize = if discard {
            Oversize::Discard
        } else {
            Oversize::Error
        };
        let expected = reference_delimited(&stream, b"\n", true, LINE_MAX, discard);
        check_all_splits(
            || ByteLinesCodec::new(LINE_MAX).with_oversize(oversize),
            &stream,
            &expected,
        );
    }
    // Where the bytes are UTF-8, both codecs give the same lines.
    let text = mixed_stream(31);
    let bytes = decode_chunks(
        &mut ByteLinesCodec::new(LINE_MAX).with_oversize(Oversize::Discard),
        [&text[..]],
    );
    let strings = decode_chunks(
        &mut LinesCodec::new(LINE_MAX).with_oversize(Oversize::Discard),
        [&text[..]],
    );
    assert_eq!(map_frames(strings, String::into_bytes), bytes);
}

/// Discard mode reports an over-long line once, with the bytes seen so far, consumes what it
/// skips as it arrives, and decodes the next line.
#[test]
fn lines_discard_reports_once_and_resumes() {
    let mut codec = LinesCodec::new(4).with_oversize(Oversize::Discard);
    let mut src = ReadBuf::from(&b"abcd"[..]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(b"\r");
    assert_eq!(
        codec.decode(&mut src),
        Ok(None),
        "`\\r` may start the ending"
    );
    src.extend_from_slice(b"x");
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::Discarded { len: 6, max: 4 })
    );
    assert!(src.is_empty());
    for _ in 0..3 {
        src.extend_from_slice(b"yyyy");
        assert_eq!(codec.decode(&mut src), Ok(None), "reported once only");
        assert!(src.is_empty());
    }
    src.extend_from_slice(b"z\r\nok\r\n");
    assert_eq!(codec.decode(&mut src), Ok(Some("ok".to_string())));
    assert_eq!(codec.decode(&mut src), Ok(None));
    assert_eq!(codec.oversize(), Oversize::Discard);
    assert_eq!(LinesCodec::new(4).oversize(), Oversize::Error);
}

/// A too-long line that arrives whole is discarded with its full length; the stream ending
/// inside a discarded line is a clean end, inside a short line a truncation.
#[test]
fn lines_discard_whole_line_and_eof() {
    let mut codec = ByteLinesCodec::new(2).with_oversize(Oversize::Discard);
    let mut src = ReadBuf::from(&b"abcdef\r\nab\nxyz"[..]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::Discarded { len: 6, max: 2 })
    );
    assert_eq!(codec.decode(&mut src), Ok(Some(b"ab".to_vec())));
    assert_eq!(
        codec.decode_eof(&mut src),
        Err(CodecError::Discarded { len: 3, max: 2 })
    );
    assert_eq!(codec.decode_eof(&mut src), Ok(None));
    assert!(src.is_empty());

    let mut src = ReadBuf::from(&b"x"[..]);
    assert_eq!(
        codec.decode_eof(&mut src),
        Err(CodecError::Truncated { buffered: 1 })
    );
}

/// The byte-lines encoder writes any bytes but a newline, and refuses a newline or an over-long
/// line leaving `dst` as it was.
#[test]
fn byte_lines_encode() {
    let mut codec = ByteLinesCodec::new(3);
    let mut dst = Vec::new();
    codec.encode(b"\xff\x00".to_vec(), &mut dst).unwrap();
    assert_eq!(dst, b"\xff\x00\n");
    assert!(matches!(
        codec.encode(b"a\nb".to_vec(), &mut dst),
        Err(CodecError::Invalid(_))
    ));
    assert_eq!(
        codec.encode(b"abcd".to_vec(), &mut dst),
        Err(CodecError::FrameTooLong { len: 4, max: 3 })
    );
    assert_eq!(dst, b"\xff\x00\n");
    assert_eq!(codec.max_length(), 3);
}
