//! `LengthDelimitedCodec`, default and built, against a simple reference under every split.

mod util;

use turbine_codec::{CodecError, Decoder, Encoder, LengthDelimitedCodec, ReadBuf};
use util::{Fatal, Layout, Outcome, XorShift, check_all_splits};

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
    let expected = Layout::default_with_max(FRAME_MAX).reference(&stream);
    assert_eq!(expected, Outcome::frames(payloads));
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

/// Layouts covering every builder setting: field sizes 1, 2, 4 and 8, both byte orders, an
/// offset, negative and positive adjustments, keeping the head, skipping past it.
const LAYOUTS: [Layout; 8] = [
    Layout {
        field_len: 1,
        offset: 0,
        adjustment: 0,
        num_skip: None,
        little_endian: false,
        max: 200,
    },
    Layout {
        field_len: 2,
        offset: 0,
        adjustment: 0,
        num_skip: None,
        little_endian: true,
        max: FRAME_MAX,
    },
    Layout {
        field_len: 8,
        offset: 0,
        adjustment: 0,
        num_skip: None,
        little_endian: false,
        max: FRAME_MAX,
    },
    // The value counts the whole frame, head included, and the handler gets it all.
    Layout {
        field_len: 2,
        offset: 0,
        adjustment: -2,
        num_skip: Some(0),
        little_endian: false,
        max: FRAME_MAX,
    },
    // A one-byte type, then the length; the handler gets type, length and payload.
    Layout {
        field_len: 4,
        offset: 1,
        adjustment: 0,
        num_skip: Some(0),
        little_endian: true,
        max: FRAME_MAX,
    },
    // tokio-util's example 5: hdr1, length, hdr2 (not counted); the handler gets hdr2 and
    // payload.
    Layout {
        field_len: 2,
        offset: 1,
        adjustment: 1,
        num_skip: Some(3),
        little_endian: false,
        max: FRAME_MAX,
    },
    // tokio-util's example 6: as 5 but the value counts the whole frame.
    Layout {
        field_len: 2,
        offset: 1,
        adjustment: -3,
        num_skip: Some(3),
        little_endian: false,
        max: FRAME_MAX,
    },
    // Two head bytes before an 8-byte little-endian field, and one byte after the head skipped.
    Layout {
        field_len: 8,
        offset: 2,
        adjustment: 0,
        num_skip: Some(11),
        little_endian: true,
        max: FRAME_MAX,
    },
];

/// Every layout decodes a stream of frames of many lengths (empty ones included) like the
/// reference under every split, and a frame over the maximum ends it with `FrameTooLong`.
#[test]
fn length_delimited_layouts_match_reference_under_all_splits() {
    let mut rng = XorShift(0x5EED);
    for layout in LAYOUTS {
        let mut stream = Vec::new();
        let mut frames = 0;
        for after in [0, 1, 2, 3, 5, 8, 13, 40, 200, 0, 77] {
            if let Some(wire) = layout.wire(&mut rng, after) {
                stream.extend(wire);
                frames += 1;
            }
        }
        let expected = layout.reference(&stream);
        assert_eq!(expected.fatal, None, "{layout:?}");
        assert!(expected.events.len() >= frames - 2, "{layout:?}");
        check_all_splits(|| layout.codec(), &stream, &expected);

        // One over the maximum: refused, whatever the split.
        let after = (layout.max as isize + layout.skip() as isize + 1 - layout.head_len() as isize)
            as usize;
        if let Some(wire) = layout.wire(&mut rng, after) {
            stream.extend(wire);
            let expected = layout.reference(&stream);
            assert_eq!(expected.fatal, Some(Fatal::TooLong), "{layout:?}");
            check_all_splits(|| layout.codec(), &stream, &expected);
        }
    }
}

/// The encoder writes the head the decoder expects for every layout it can encode: offset bytes
/// as zeros, the adjusted length, skipped bytes after the head as zeros, then the payload.
#[test]
fn length_delimited_builder_encodes_heads() {
    let encode = |layout: Layout, item: &[u8]| {
        let mut dst = Vec::new();
        layout.codec().encode(item.to_vec(), &mut dst).map(|()| dst)
    };
    assert_eq!(encode(LAYOUTS[0], b"ab"), Ok(b"\x02ab".to_vec()));
    assert_eq!(encode(LAYOUTS[1], b"ab"), Ok(b"\x02\x00ab".to_vec()));
    assert_eq!(
        encode(LAYOUTS[2], b"ab"),
        Ok(b"\0\0\0\0\0\0\0\x02ab".to_vec())
    );
    // hdr2 is part of the item; the adjustment of 1 means the value does not count it.
    assert_eq!(encode(LAYOUTS[5], b"Hab"), Ok(b"\0\x00\x02Hab".to_vec()));
    assert_eq!(encode(LAYOUTS[6], b"Hab"), Ok(b"\0\x00\x06Hab".to_vec()));
    assert_eq!(
        encode(LAYOUTS[7], b"ab"),
        Ok(b"\0\0\x03\0\0\0\0\0\0\0\0ab".to_vec())
    );
    // Frames that carry their own head are checked and written as they are.
    assert_eq!(
        encode(LAYOUTS[3], b"\x00\x04ab"),
        Ok(b"\x00\x04ab".to_vec())
    );
    assert!(matches!(
        encode(LAYOUTS[3], b"\x00\x05ab"),
        Err(CodecError::Invalid(_))
    ));
    assert!(matches!(
        encode(LAYOUTS[3], b"\x00"),
        Err(CodecError::Invalid(_))
    ));
}

/// Every encodable layout round-trips random frames through its own decoder.
#[test]
fn length_delimited_builder_round_trips() {
    let mut rng = XorShift(77);
    for layout in LAYOUTS.into_iter().filter(|l| l.num_skip != Some(0)) {
        let mut codec = layout.codec();
        let mut stream = Vec::new();
        let mut frames = Vec::new();
        for len in [0, 1, 2, 7, 199, 200] {
            let frame = rng.bytes_from(b"\x00\x01\xff", len);
            let before = stream.len();
            match codec.encode(frame.clone(), &mut stream) {
                Ok(()) => frames.push(frame),
                Err(_) => assert_eq!(stream.len(), before),
            }
        }
        assert!(frames.len() >= 4, "{layout:?}");
        check_all_splits(|| layout.codec(), &stream, &Outcome::frames(frames));
    }
}

/// The encoder refuses what the field cannot announce, an item too short for a positive
/// adjustment, and a `num_skip` that cuts through the head, leaving `dst` as it was.
#[test]
fn length_delimited_encode_refusals() {
    let mut dst = b"keep".to_vec();
    let mut one_byte = LengthDelimitedCodec::builder()
        .length_field_length(1)
        .max_frame_length(1000)
        .new_codec();
    assert_eq!(
        one_byte.encode(vec![0; 256], &mut dst),
        Err(CodecError::FrameTooLong { len: 256, max: 255 })
    );
    let mut adjusted = LengthDelimitedCodec::builder()
        .length_adjustment(2)
        .new_codec();
    assert!(matches!(
        adjusted.encode(vec![0; 1], &mut dst),
        Err(CodecError::Invalid(_))
    ));
    let mut cut = LengthDelimitedCodec::builder().num_skip(2).new_codec();
    assert!(matches!(
        cut.encode(vec![0; 1], &mut dst),
        Err(CodecError::Invalid(_))
    ));
    assert_eq!(dst, b"keep");
}

/// The builder refuses a length field that is not 1, 2, 4 or 8 bytes.
#[test]
#[should_panic(expected = "a length field has 1, 2, 4 or 8 bytes, not 3")]
fn length_delimited_builder_rejects_field_of_3() {
    let _ = LengthDelimitedCodec::builder().length_field_length(3);
}

/// The builder refuses a head whose length overflows `usize`.
#[test]
#[should_panic(expected = "overflows usize")]
fn length_delimited_builder_rejects_overflowing_head() {
    let _ = LengthDelimitedCodec::builder()
        .length_field_offset(usize::MAX)
        .new_codec();
}

/// `new(max)` is the builder's default layout with that maximum, and the builder's default
/// maximum is 8 MiB.
#[test]
fn length_delimited_new_is_builder_default() {
    let mut built = LengthDelimitedCodec::builder()
        .max_frame_length(FRAME_MAX)
        .new_codec();
    let mut plain = LengthDelimitedCodec::new(FRAME_MAX);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    built.encode(b"xyz".to_vec(), &mut a).unwrap();
    plain.encode(b"xyz".to_vec(), &mut b).unwrap();
    assert_eq!(a, b);
    assert_eq!(built.max_frame(), plain.max_frame());
    assert_eq!(
        LengthDelimitedCodec::builder().new_codec().max_frame(),
        8 << 20
    );
    let mut src = ReadBuf::from(&a[..]);
    assert_eq!(built.decode(&mut src), Ok(Some(b"xyz".to_vec())));
}
