//! `FrameLimits`: every bounded stock codec decodes up to its decode bound and encodes up to its
//! encode bound, independently; a bare `usize` still sets both.

mod util;

use std::fmt::Debug;

use turbine_codec::{
    ByteLinesCodec, CodecError, Decoder, DelimiterCodec, Encoder, FrameLimits,
    LengthDelimitedCodec, LinesCodec, Oversize, ReadBuf, VarintLengthCodec,
};
use util::{Event, Fatal, Outcome, check_all_splits, reference_lines};

/// The decode bound of the asymmetric codecs below: what the peer may send.
const DEC: usize = 8;
/// Their encode bound, larger: what they may send.
const ENC: usize = 40;

/// What every bounded codec must do with limits `FrameLimits::new(dec, enc)`, `dec < enc`:
/// `new` builds the codec from its limits and `frame(n)` is a frame of `n` bytes.
///
/// - Frames up to `enc`, over `dec` included, encode, and a peer whose decode bound is `enc`
///   reads them back under every split.
/// - A frame over `enc` is refused with `FrameTooLong` naming `enc`, leaving `dst` as it was.
/// - The codec's decoder still refuses a frame over `dec`, with `FrameTooLong` naming `dec`,
///   under every split.
fn check_asymmetric<C, T>(
    dec: usize,
    enc: usize,
    new: impl Fn(FrameLimits) -> C,
    frame: impl Fn(usize) -> T,
) where
    C: Decoder<Item = T> + Encoder<Item = T>,
    T: Clone + PartialEq + Debug,
{
    assert!(dec < enc);
    let limits = FrameLimits::new(dec, enc);
    let frames: Vec<T> = [0, dec, dec + 1, (dec + enc) / 2, enc]
        .into_iter()
        .map(&frame)
        .collect();
    let mut server = new(limits);
    let mut wire = b"prefix".to_vec();
    for item in &frames {
        server.encode(item.clone(), &mut wire).unwrap();
    }
    let wire = wire.split_off(b"prefix".len());

    // The peer's decode bound is our encode bound (its own encode bound our decode bound).
    check_all_splits(
        || new(FrameLimits::new(enc, dec)),
        &wire,
        &Outcome::frames(frames.clone()),
    );

    let mut dst = wire.clone();
    assert_eq!(
        server.encode(frame(enc + 1), &mut dst),
        Err(CodecError::FrameTooLong {
            len: enc as u64 + 1,
            max: enc,
        })
    );
    assert_eq!(dst, wire, "a refused frame leaves dst as it was");

    // Our own decoder reads the frames up to `dec`, then refuses the next, whatever `enc` is.
    let expected = Outcome {
        events: vec![Event::Frame(frame(0)), Event::Frame(frame(dec))],
        fatal: Some(Fatal::TooLong),
    };
    check_all_splits(|| new(limits), &wire, &expected);
    let mut decoder = new(limits);
    let mut src = ReadBuf::from(&wire[..]);
    assert_eq!(decoder.decode(&mut src), Ok(Some(frame(0))));
    assert_eq!(decoder.decode(&mut src), Ok(Some(frame(dec))));
    assert_eq!(
        decoder.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: dec as u64 + 1,
            max: dec,
        })
    );
}

/// A frame of `n` bytes for the byte codecs.
fn bytes(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

/// The constructors and `From<usize>` give the bounds asked for; a `usize` is both.
#[test]
fn frame_limits_constructors() {
    let limits = FrameLimits::new(3, 7);
    assert_eq!((limits.decode, limits.encode), (3, 7));
    assert_eq!(
        FrameLimits::symmetric(5),
        FrameLimits {
            decode: 5,
            encode: 5
        }
    );
    assert_eq!(FrameLimits::from(5), FrameLimits::symmetric(5));
    let into: FrameLimits = 9.into();
    assert_eq!(into, FrameLimits::new(9, 9));
    const CONST: FrameLimits = FrameLimits::new(1, 2);
    assert_ne!(CONST, FrameLimits::symmetric(1));
}

/// Every bounded codec given a `usize` has it as both bounds, as before `FrameLimits`, and
/// reports each bound through its accessors.
#[test]
fn usize_sets_both_bounds() {
    let both = FrameLimits::symmetric(100);
    let lines = LinesCodec::new(100);
    assert_eq!(
        (
            lines.limits(),
            lines.max_length(),
            lines.max_encode_length()
        ),
        (both, 100, 100)
    );
    let byte_lines = ByteLinesCodec::new(100);
    assert_eq!(byte_lines.limits(), both);
    let delimiter = DelimiterCodec::new("\0", 100);
    assert_eq!(delimiter.limits(), both);
    let length = LengthDelimitedCodec::new(100);
    assert_eq!(
        (
            length.limits(),
            length.max_frame(),
            length.max_encode_frame()
        ),
        (both, 100, 100)
    );
    let varint = VarintLengthCodec::new(100);
    assert_eq!(
        (
            varint.limits(),
            varint.max_frame(),
            varint.max_encode_frame()
        ),
        (both, 100, 100)
    );
    assert_eq!(
        LengthDelimitedCodec::builder().new_codec().limits(),
        FrameLimits::symmetric(8 << 20)
    );
}

/// Each codec's accessors report the decode bound as before (`max_length`, `max_frame`) and the
/// encode bound separately.
#[test]
fn accessors_report_each_bound() {
    let limits = FrameLimits::new(DEC, ENC);
    let lines = LinesCodec::new(limits);
    assert_eq!((lines.max_length(), lines.max_encode_length()), (DEC, ENC));
    assert_eq!(lines.limits(), limits);
    let byte_lines = ByteLinesCodec::new(limits);
    assert_eq!(
        (byte_lines.max_length(), byte_lines.max_encode_length()),
        (DEC, ENC)
    );
    assert_eq!(byte_lines.limits(), limits);
    let delimiter = DelimiterCodec::new("\r\n", limits);
    assert_eq!(
        (delimiter.max_length(), delimiter.max_encode_length()),
        (DEC, ENC)
    );
    assert_eq!(delimiter.limits(), limits);
    let length = LengthDelimitedCodec::new(limits);
    assert_eq!((length.max_frame(), length.max_encode_frame()), (DEC, ENC));
    assert_eq!(length.limits(), limits);
    let varint = VarintLengthCodec::new(limits);
    assert_eq!((varint.max_frame(), varint.max_encode_frame()), (DEC, ENC));
    assert_eq!(varint.limits(), limits);
}

/// `LinesCodec` encodes up to its encode bound and decodes up to its decode bound.
#[test]
fn lines_asymmetric() {
    check_asymmetric(DEC, ENC, LinesCodec::new, |n| "x".repeat(n));
}

/// `ByteLinesCodec` encodes up to its encode bound and decodes up to its decode bound.
#[test]
fn byte_lines_asymmetric() {
    check_asymmetric(DEC, ENC, ByteLinesCodec::new, bytes);
}

/// `DelimiterCodec`, one-byte and multi-byte delimiters, encodes up to its encode bound and
/// decodes up to its decode bound.
#[test]
fn delimiter_asymmetric() {
    for delimiter in [&b"\0"[..], b"\r\n", b"<END>"] {
        check_asymmetric(
            DEC,
            ENC,
            |limits| DelimiterCodec::new(delimiter, limits),
            bytes,
        );
    }
}

/// `LengthDelimitedCodec::new` encodes up to its encode bound and decodes up to its decode
/// bound.
#[test]
fn length_delimited_asymmetric() {
    check_asymmetric(DEC, ENC, LengthDelimitedCodec::new, bytes);
}

/// The builder's `max_encode_length` after `max_frame_length` gives the same two bounds, for a
/// layout other than the default.
#[test]
fn length_delimited_builder_asymmetric() {
    let build = |limits: FrameLimits| {
        LengthDelimitedCodec::builder()
            .length_field_length(2)
            .little_endian()
            .length_field_offset(1)
            .max_frame_length(limits.decode)
            .max_encode_length(limits.encode)
            .new_codec()
    };
    check_asymmetric(DEC, ENC, build, bytes);
}

/// `VarintLengthCodec` encodes up to its encode bound and decodes up to its decode bound, with
/// one-byte and two-byte varints.
#[test]
fn varint_asymmetric() {
    check_asymmetric(DEC, ENC, VarintLengthCodec::new, bytes);
    check_asymmetric(100, 300, VarintLengthCodec::new, bytes);
}

/// In discard mode the line codec still encodes up to its encode bound, and decoding its own
/// output skips the lines over its decode bound, each reported with the decode bound.
#[test]
fn lines_discard_uses_decode_bound() {
    let new = || LinesCodec::new(FrameLimits::new(DEC, ENC)).with_oversize(Oversize::Discard);
    let lines: Vec<String> = [0, DEC + 1, DEC, ENC, 1].map(|n| "y".repeat(n)).to_vec();
    let mut wire = Vec::new();
    for line in &lines {
        new().encode(line.clone(), &mut wire).unwrap();
    }
    let expected = reference_lines(&wire, DEC, true);
    assert_eq!(
        expected.events,
        [
            Event::Frame(lines[0].clone()),
            Event::Discarded,
            Event::Frame(lines[2].clone()),
            Event::Discarded,
            Event::Frame(lines[4].clone()),
        ]
    );
    check_all_splits(new, &wire, &expected);
    let mut src = ReadBuf::from(&wire[..]);
    let mut codec = new();
    assert_eq!(codec.decode(&mut src), Ok(Some(String::new())));
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::Discarded {
            len: DEC as u64 + 1,
            max: DEC,
        })
    );
}

/// The builder's bounds depend on the order of the calls: `max_frame_length` sets both,
/// `max_encode_length` only the encode bound.
#[test]
fn length_delimited_builder_call_order() {
    let encode_then_frame = LengthDelimitedCodec::builder()
        .max_encode_length(ENC)
        .max_frame_length(DEC)
        .new_codec();
    assert_eq!(encode_then_frame.limits(), FrameLimits::symmetric(DEC));
    let frame_then_encode = LengthDelimitedCodec::builder()
        .max_frame_length(DEC)
        .max_encode_length(ENC)
        .new_codec();
    assert_eq!(frame_then_encode.limits(), FrameLimits::new(DEC, ENC));
    let encode_only = LengthDelimitedCodec::builder()
        .max_encode_length(ENC)
        .new_codec();
    assert_eq!(encode_only.limits(), FrameLimits::new(8 << 20, ENC));
    // A smaller encode bound than decode bound works too.
    let smaller = LengthDelimitedCodec::builder()
        .max_frame_length(ENC)
        .max_encode_length(DEC)
        .new_codec();
    assert_eq!(smaller.limits(), FrameLimits::new(ENC, DEC));
}

/// With `num_skip` 0 (items carry their own head), an item between the two bounds encodes: its
/// head is checked against the encode bound, not the decode bound.
#[test]
fn length_delimited_own_head_uses_encode_bound() {
    let build = |limits: FrameLimits| {
        LengthDelimitedCodec::builder()
            .length_field_length(2)
            .num_skip(0)
            .max_frame_length(limits.decode)
            .max_encode_length(limits.encode)
            .new_codec()
    };
    // A head announcing `n - 2` bytes, then those bytes: `n` bytes in all.
    let own_head = |n: usize| {
        let mut item = u16::try_from(n - 2).unwrap().to_be_bytes().to_vec();
        item.resize(n, b'z');
        item
    };
    let mut server = build(FrameLimits::new(DEC, ENC));
    let mut wire = Vec::new();
    let items = [DEC + 1, ENC].map(own_head);
    for item in &items {
        server.encode(item.clone(), &mut wire).unwrap();
    }
    assert_eq!(wire, items.concat(), "written as they are");
    check_all_splits(
        || build(FrameLimits::new(ENC, DEC)),
        &wire,
        &Outcome::frames(items.clone()),
    );
    let before = wire.clone();
    assert_eq!(
        server.encode(own_head(ENC + 1), &mut wire),
        Err(CodecError::FrameTooLong {
            len: ENC as u64 + 1,
            max: ENC,
        })
    );
    assert_eq!(wire, before);
    let mut src = ReadBuf::from(&wire[..]);
    assert_eq!(
        server.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: DEC as u64 + 1,
            max: DEC,
        })
    );
}

/// What the length field can announce still bounds the encoder when the encode bound is larger,
/// and the error names the longest item the field allows; the decode bound plays no part.
#[test]
fn length_delimited_field_capacity_with_encode_bound() {
    let mut codec = LengthDelimitedCodec::builder()
        .length_field_length(1)
        .max_frame_length(10)
        .max_encode_length(1000)
        .new_codec();
    let mut dst = Vec::new();
    codec.encode(bytes(255), &mut dst).unwrap();
    assert_eq!(dst.len(), 256);
    assert_eq!(
        codec.encode(bytes(256), &mut dst),
        Err(CodecError::FrameTooLong { len: 256, max: 255 })
    );
    assert_eq!(dst.len(), 256);
}
