//! Tests of the stock codecs against simple reference decoders, under every way of splitting input.

use turbine_codec::{
    CodecError, Decoder, Encoder, LengthDelimitedCodec, LinesCodec, RawCodec, ReadBuf,
};

/// A tiny deterministic xorshift64 generator, so the tests need no external crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Feeds `chunks` to `codec` in order, decoding everything after each, then signals end of stream.
fn decode_chunks<'a, D: Decoder>(
    codec: &mut D,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<D::Item>, CodecError> {
    let mut src = ReadBuf::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        src.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut src)? {
            frames.push(frame);
        }
    }
    while let Some(frame) = codec.decode_eof(&mut src)? {
        frames.push(frame);
    }
    Ok(frames)
}

/// Decodes `stream` split in two at every position, and one byte at a time, and checks each
/// result against `expected`.
fn check_all_splits<D, F>(new_codec: F, stream: &[u8], expected: &[D::Item])
where
    D: Decoder,
    D::Item: PartialEq + std::fmt::Debug,
    F: Fn() -> D,
{
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        let frames = decode_chunks(&mut new_codec(), [a, b]).expect("split decode failed");
        assert_eq!(frames, expected, "split at {at}");
    }
    let frames = decode_chunks(&mut new_codec(), stream.chunks(1)).expect("bytewise decode failed");
    assert_eq!(frames, expected, "one byte at a time");
}

/// Reference line decoder: split the whole input on `\n`, drop one `\r` before each.
fn reference_lines(stream: &[u8]) -> Vec<String> {
    let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
    assert_eq!(
        pieces.pop(),
        Some(&b""[..]),
        "reference input must end with a newline"
    );
    pieces
        .into_iter()
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8(line.to_vec()).expect("reference input must be UTF-8")
        })
        .collect()
}

/// Reference length-delimited decoder: read header, take payload, repeat.
fn reference_length_delimited(mut stream: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while !stream.is_empty() {
        let (head, rest) = stream.split_at(4);
        let len = u32::from_be_bytes(head.try_into().unwrap()) as usize;
        let (payload, rest) = rest.split_at(len);
        frames.push(payload.to_vec());
        stream = rest;
    }
    frames
}

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
    let expected = reference_lines(&stream);
    assert_eq!(expected, lines);
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
    assert_eq!(reference_lines(&stream), lines);
    check_all_splits(|| LinesCodec::new(LINE_MAX), &stream, &lines);
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
            std::slice::from_ref(&line),
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

const FRAME_MAX: usize = 300;

/// Length-delimited frames of many sizes, empty included, decode like the reference under every
/// split, and encode to the same stream.
#[test]
fn length_delimited_match_reference_under_all_splits() {
    let mut rng = XorShift(7);
    let sizes = [
        0,
        0,
        1,
        2,
        3,
        4,
        5,
        8,
        255,
        256,
        257,
        FRAME_MAX,
        0,
        FRAME_MAX - 1,
        17,
    ];
    let payloads: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| (0..n).map(|_| rng.next() as u8).collect())
        .collect();
    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut stream = Vec::new();
    for payload in &payloads {
        let before = stream.len();
        codec.encode(payload.clone(), &mut stream).unwrap();
        assert_eq!(
            stream[before..before + 4],
            (payload.len() as u32).to_be_bytes()
        );
    }
    let expected = reference_length_delimited(&stream);
    assert_eq!(expected, payloads);
    check_all_splits(|| LengthDelimitedCodec::new(FRAME_MAX), &stream, &expected);
}

/// A header of 0xFFFFFFFF is refused the moment its fourth byte arrives.
#[test]
fn length_delimited_huge_header_fails_at_once() {
    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut src = ReadBuf::new();
    for _ in 0..3 {
        src.extend_from_slice(&[0xFF]);
        assert_eq!(codec.decode(&mut src), Ok(None));
    }
    src.extend_from_slice(&[0xFF]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: u64::from(u32::MAX),
            max: FRAME_MAX,
        })
    );
}

/// A header one over the maximum is refused; one at the maximum waits for its payload.
#[test]
fn length_delimited_header_at_limit() {
    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut src = ReadBuf::from(&(FRAME_MAX as u32 + 1).to_be_bytes()[..]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: FRAME_MAX as u64 + 1,
            max: FRAME_MAX,
        })
    );

    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut src = ReadBuf::from(&(FRAME_MAX as u32).to_be_bytes()[..]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(&[9; FRAME_MAX]);
    assert_eq!(codec.decode(&mut src), Ok(Some(vec![9; FRAME_MAX])));
    assert_eq!(codec.max_frame(), FRAME_MAX);
}

/// A zero-length frame decodes to an empty payload and the next frame follows it.
#[test]
fn length_delimited_zero_length_frame() {
    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut src = ReadBuf::from(&b"\0\0\0\0\0\0\0\x01z"[..]);
    assert_eq!(codec.decode(&mut src), Ok(Some(Vec::new())));
    assert_eq!(codec.decode(&mut src), Ok(Some(b"z".to_vec())));
    assert_eq!(codec.decode(&mut src), Ok(None));
}

/// Encoding a payload over the maximum fails and leaves `dst` as it was.
#[test]
fn length_delimited_encode_over_max_leaves_dst() {
    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut dst = b"prefix".to_vec();
    assert_eq!(
        codec.encode(vec![0; FRAME_MAX + 1], &mut dst),
        Err(CodecError::FrameTooLong {
            len: FRAME_MAX as u64 + 1,
            max: FRAME_MAX,
        })
    );
    assert_eq!(dst, b"prefix");
}

/// End of stream in a header or a payload is `Truncated`; between frames it is `Ok(None)`.
#[test]
fn length_delimited_eof() {
    let cases: [(&[u8], usize); 3] = [(b"\0\0", 2), (b"\0\0\0\x0a", 4), (b"\0\0\0\x0aabc", 7)];
    for (input, buffered) in cases {
        let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
        let mut src = ReadBuf::from(input);
        assert_eq!(codec.decode(&mut src), Ok(None));
        assert_eq!(
            codec.decode_eof(&mut src),
            Err(CodecError::Truncated { buffered }),
            "input {input:?}"
        );
    }

    let mut codec = LengthDelimitedCodec::new(FRAME_MAX);
    let mut src = ReadBuf::from(&b"\0\0\0\x01a"[..]);
    assert_eq!(codec.decode_eof(&mut src), Ok(Some(b"a".to_vec())));
    assert_eq!(codec.decode_eof(&mut src), Ok(None));
}

/// The raw codec passes every byte through, in order, under every split, and never yields an
/// empty frame.
#[test]
fn raw_passes_bytes_under_all_splits() {
    let mut rng = XorShift(99);
    let stream: Vec<u8> = (0..200).map(|_| rng.next() as u8).collect();
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        let frames = decode_chunks(&mut RawCodec::new(), [a, b]).unwrap();
        assert!(frames.iter().all(|f| !f.is_empty()));
        assert_eq!(frames.concat(), stream);
    }
    let frames = decode_chunks(&mut RawCodec::new(), stream.chunks(1)).unwrap();
    assert_eq!(frames.len(), stream.len());
    assert_eq!(frames.concat(), stream);

    let mut dst = b"a".to_vec();
    RawCodec.encode(b"bc".to_vec(), &mut dst).unwrap();
    assert_eq!(dst, b"abc");
    assert_eq!(RawCodec.decode_eof(&mut ReadBuf::new()), Ok(None));
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
        let frames = decode_chunks(&mut LinesCodec::new(LINE_MAX), chunks).unwrap();
        assert_eq!(frames, reference_lines(&stream));
    }
}
