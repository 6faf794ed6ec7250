//! `RawCodec`: bytes pass through in order, however they are split.

mod util;

use turbine_codec::{Decoder, Encoder, RawCodec, ReadBuf};
use util::{Event, Outcome, XorShift, decode_chunks};

/// The frames of a raw stream, which never fails.
fn raw_frames(outcome: Outcome<Vec<u8>>) -> Vec<Vec<u8>> {
    assert_eq!(outcome.fatal, None);
    outcome
        .events
        .into_iter()
        .map(|e| match e {
            Event::Frame(f) => f,
            Event::Discarded => panic!("raw never discards"),
        })
        .collect()
}

/// The raw codec passes every byte through, in order, under every split, and never yields an
/// empty frame.
#[test]
fn raw_passes_bytes_under_all_splits() {
    let mut rng = XorShift(99);
    let stream: Vec<u8> = (0..200).map(|_| rng.next() as u8).collect();
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        let frames = raw_frames(decode_chunks(&mut RawCodec::new(), [a, b]));
        assert!(frames.iter().all(|f| !f.is_empty()));
        assert_eq!(frames.concat(), stream);
    }
    let frames = raw_frames(decode_chunks(&mut RawCodec::new(), stream.chunks(1)));
    assert_eq!(frames.len(), stream.len());
    assert_eq!(frames.concat(), stream);

    let mut dst = b"a".to_vec();
    RawCodec.encode(b"bc".to_vec(), &mut dst).unwrap();
    assert_eq!(dst, b"abc");
    assert_eq!(RawCodec.decode_eof(&mut ReadBuf::new()), Ok(None));
}
