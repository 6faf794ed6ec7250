//! Property tests: random frames, encoded, cut into random chunks, decoded, equal the input,
//! for every codec; and in discard mode random over-long lines are skipped like the reference.

mod util;

use proptest::collection::vec;
use proptest::prelude::*;
use turbine_codec::{
    ByteLinesCodec, DelimiterCodec, Encoder, LinesCodec, Oversize, RawCodec, VarintLengthCodec,
};
use util::{Event, Layout, Outcome, chunks, decode_chunks, reference_delimited, reference_lines};

/// Encodes every item, keeping those the encoder accepts; checks that a refused one left the
/// output as it was and was refused for a reason `must_refuse` agrees with.
fn encode_all<C: Encoder>(
    codec: &mut C,
    items: Vec<C::Item>,
    must_refuse: impl Fn(&C::Item) -> bool,
) -> (Vec<u8>, Vec<C::Item>)
where
    C::Item: Clone + std::fmt::Debug,
{
    let mut wire = Vec::new();
    let mut accepted = Vec::new();
    for item in items {
        let before = wire.len();
        let refused = codec.encode(item.clone(), &mut wire).is_err();
        assert_eq!(refused, must_refuse(&item), "{item:?}");
        if refused {
            assert_eq!(wire.len(), before);
        } else {
            accepted.push(item);
        }
    }
    (wire, accepted)
}

/// Strategy for chunk sizes.
fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..64, 1..8)
}

/// Strategy for a length-delimited layout the encoder can write: any field size and byte order,
/// an offset, a small adjustment, `num_skip` at or past the head.
fn layouts() -> impl Strategy<Value = Layout> {
    (
        prop::sample::select(vec![1usize, 2, 4, 8]),
        0usize..3,
        -4isize..5,
        prop::option::of(0usize..3),
        any::<bool>(),
    )
        .prop_map(
            |(field_len, offset, adjustment, gap, little_endian)| Layout {
                field_len,
                offset,
                adjustment,
                num_skip: gap.map(|g| offset + field_len + g),
                little_endian,
                max: 300,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// `LinesCodec`: random UTF-8 lines (any characters but `\n`, no trailing `\r`) round-trip
    /// under random chunking, in either oversize mode.
    #[test]
    fn lines_round_trip(
        lines in vec("[^\n]{0,30}", 0..20),
        sizes in sizes(),
        discard in any::<bool>(),
    ) {
        let lines: Vec<String> =
            lines.into_iter().map(|l| l.trim_end_matches('\r').to_string()).collect();
        let oversize = if discard { Oversize::Discard } else { Oversize::Error };
        let new_codec = || LinesCodec::new(120).with_oversize(oversize);
        let (wire, lines) = encode_all(&mut new_codec(), lines, |l: &String| l.len() > 120);
        let outcome = decode_chunks(&mut new_codec(), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(lines));
    }

    /// `ByteLinesCodec`: random byte lines round-trip under random chunking; lines over the
    /// maximum are refused by the encoder.
    #[test]
    fn byte_lines_round_trip(
        lines in vec(vec(any::<u8>(), 0..40), 0..20),
        sizes in sizes(),
    ) {
        let lines: Vec<Vec<u8>> = lines
            .into_iter()
            .map(|l| {
                let mut l: Vec<u8> = l.into_iter().filter(|&b| b != b'\n').collect();
                while l.last() == Some(&b'\r') {
                    l.pop();
                }
                l
            })
            .collect();
        let (wire, lines) =
            encode_all(&mut ByteLinesCodec::new(30), lines, |l: &Vec<u8>| l.len() > 30);
        let outcome = decode_chunks(&mut ByteLinesCodec::new(30), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(lines));
    }

    /// Discard mode: random lines, some over the maximum, written raw and chunked at random,
    /// decode like the reference: every long line reported once and skipped.
    #[test]
    fn lines_discard_match_reference(
        lines in vec((0usize..30, prop::sample::select(vec!["\n", "\r\n"])), 0..30),
        sizes in sizes(),
    ) {
        let mut wire = Vec::new();
        for (len, ending) in &lines {
            wire.extend(std::iter::repeat_n(b'z', *len));
            wire.extend_from_slice(ending.as_bytes());
        }
        let outcome = decode_chunks(
            &mut LinesCodec::new(10).with_oversize(Oversize::Discard),
            chunks(&wire, &sizes),
        );
        let expected = reference_lines(&wire, 10, true);
        let discarded = lines.iter().filter(|(len, _)| *len > 10).count();
        prop_assert_eq!(
            expected.events.iter().filter(|e| **e == Event::Discarded).count(),
            discarded
        );
        prop_assert_eq!(outcome, expected);
    }

    /// `DelimiterCodec`: a random delimiter and random frames over the same small alphabet
    /// round-trip under random chunking; the encoder refuses exactly the frames the decoder
    /// would not read back (containing the delimiter or running into it).
    #[test]
    fn delimiter_round_trip(
        delimiter in vec(prop::sample::select(b"ab\0".to_vec()), 1..5),
        frames in vec(vec(prop::sample::select(b"ab\0x".to_vec()), 0..12), 0..20),
        sizes in sizes(),
        discard in any::<bool>(),
    ) {
        let oversize = if discard { Oversize::Discard } else { Oversize::Error };
        let new_codec = || DelimiterCodec::new(delimiter.clone(), 10).with_oversize(oversize);
        // The decoder reads `frame + delimiter` back as `frame` exactly when the first
        // delimiter in it starts where the appended one does.
        let must_refuse = |frame: &Vec<u8>| {
            let mut written = frame.clone();
            written.extend_from_slice(&delimiter);
            let first = (0..written.len()).find(|&i| written[i..].starts_with(&delimiter));
            first != Some(frame.len()) || frame.len() > 10
        };
        let (wire, frames) = encode_all(&mut new_codec(), frames, must_refuse);
        let outcome = decode_chunks(&mut new_codec(), chunks(&wire, &sizes));
        prop_assert_eq!(&outcome, &Outcome::frames(frames));
        prop_assert_eq!(outcome, reference_delimited(&wire, &delimiter, false, 10, discard));
    }

    /// `LengthDelimitedCodec`: a random layout and random frames round-trip under random
    /// chunking; the encoder refuses exactly what the field cannot announce.
    #[test]
    fn length_delimited_round_trip(
        layout in layouts(),
        frames in vec(vec(any::<u8>(), 0..300), 0..10),
        sizes in sizes(),
    ) {
        let gap = layout.skip() - layout.head_len();
        let must_refuse = |frame: &Vec<u8>| {
            let value = gap as i128 + frame.len() as i128 - layout.adjustment as i128;
            let field_max = u64::MAX >> (64 - 8 * layout.field_len);
            value < 0 || value > i128::from(field_max) || frame.len() > layout.max
        };
        let (wire, frames) = encode_all(&mut layout.codec(), frames, must_refuse);
        let outcome = decode_chunks(&mut layout.codec(), chunks(&wire, &sizes));
        prop_assert_eq!(&outcome, &Outcome::frames(frames));
        prop_assert_eq!(outcome, layout.reference(&wire));
    }

    /// `VarintLengthCodec`: random frames (lengths needing one or two varint bytes) round-trip
    /// under random chunking.
    #[test]
    fn varint_round_trip(
        frames in vec(vec(any::<u8>(), 0..400), 0..10),
        sizes in sizes(),
    ) {
        let (wire, frames) =
            encode_all(&mut VarintLengthCodec::new(350), frames, |f: &Vec<u8>| f.len() > 350);
        let outcome = decode_chunks(&mut VarintLengthCodec::new(350), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(frames));
    }

    /// `RawCodec`: whatever the chunking, the frames concatenate to the encoded bytes.
    #[test]
    fn raw_round_trip(frames in vec(vec(any::<u8>(), 0..100), 0..10), sizes in sizes()) {
        let mut codec = RawCodec::new();
        let mut wire = Vec::new();
        for frame in &frames {
            codec.encode(frame.clone(), &mut wire).unwrap();
        }
        prop_assert_eq!(&wire, &frames.concat());
        let outcome = decode_chunks(&mut RawCodec::new(), chunks(&wire, &sizes));
        let mut bytes = Vec::new();
        for event in outcome.events {
            let Event::Frame(frame) = event else { panic!("raw never discards") };
            prop_assert!(!frame.is_empty());
            bytes.extend(frame);
        }
        prop_assert_eq!(bytes, wire);
        prop_assert_eq!(outcome.fatal, None);
    }
}
