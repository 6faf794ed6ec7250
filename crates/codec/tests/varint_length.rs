//! `VarintLengthCodec` against a simple reference under every split.

mod util;

use turbine_codec::{CodecError, Decoder, Encoder, ReadBuf, VarintLengthCodec};
use util::{Fatal, Outcome, XorShift, check_all_splits, leb128, reference_varint};

const MAX: usize = 400;

/// Frames of lengths that need one, two and three varint bytes, empty ones included, decode like
/// the reference under every split; non-minimal varints are accepted.
#[test]
fn varint_match_reference_under_all_splits() {
    let mut rng = XorShift(3);
    let mut stream = Vec::new();
    let mut frames = Vec::new();
    for len in [0, 1, 127, 128, 0, 300, MAX, 5] {
        let frame = rng.bytes_from(b"\x00\x7f\x80\xff", len);
        stream.extend(leb128(len as u64));
        stream.extend_from_slice(&frame);
        frames.push(frame);
    }
    // 3 written in three bytes, as some encoders pad.
    stream.extend_from_slice(b"\x83\x80\x00xyz");
    frames.push(b"xyz".to_vec());
    let expected = reference_varint(&stream, MAX);
    assert_eq!(expected, Outcome::frames(frames));
    check_all_splits(|| VarintLengthCodec::new(MAX), &stream, &expected);

    // Then a length over the maximum: refused under every split.
    stream.extend(leb128(MAX as u64 + 1));
    let expected = reference_varint(&stream, MAX);
    assert_eq!(expected.fatal, Some(Fatal::TooLong));
    check_all_splits(|| VarintLengthCodec::new(MAX), &stream, &expected);
}

/// The encoder writes the minimal varint, which the reference reads back, and refuses a frame
/// over the maximum leaving `dst` as it was.
#[test]
fn varint_encode() {
    let mut codec = VarintLengthCodec::new(MAX);
    let mut dst = Vec::new();
    for len in [0, 1, 127, 128, 255, 300, MAX] {
        let start = dst.len();
        codec.encode(vec![1; len], &mut dst).unwrap();
        assert_eq!(
            dst[start..start + leb128(len as u64).len()],
            leb128(len as u64)
        );
    }
    let copy = dst.clone();
    assert_eq!(
        codec.encode(vec![0; MAX + 1], &mut dst),
        Err(CodecError::FrameTooLong {
            len: MAX as u64 + 1,
            max: MAX,
        })
    );
    assert_eq!(dst, copy);
    assert_eq!(codec.max_frame(), MAX);
}

/// End of stream inside a varint or a payload is `Truncated`, counting every buffered byte.
#[test]
fn varint_eof() {
    for (input, buffered) in [(&b"\x80"[..], 1), (b"\x05ab", 3), (b"\x80\x01", 2)] {
        let mut codec = VarintLengthCodec::new(MAX);
        let mut src = ReadBuf::from(input);
        assert_eq!(codec.decode(&mut src), Ok(None));
        assert_eq!(
            codec.decode_eof(&mut src),
            Err(CodecError::Truncated { buffered })
        );
    }
    let mut codec = VarintLengthCodec::new(MAX);
    let mut src = ReadBuf::from(&b"\x00"[..]);
    assert_eq!(codec.decode_eof(&mut src), Ok(Some(Vec::new())));
    assert_eq!(codec.decode_eof(&mut src), Ok(None));
}
