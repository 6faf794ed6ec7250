//! `HttpCodec` under random chunking: arbitrary bytes and requests with random changes give the
//! same requests and refusals whatever the split, and never buffer past the head and body
//! bounds (what `fuzz/fuzz_targets/http.rs` checks, run here on every build).

use proptest::prelude::*;
use turbine_codec::{Decoder, HttpCodec, Incoming, ReadBuf};

/// Small bounds, so they are reached often.
const MAX_HEAD: usize = 256;
const MAX_BODY: usize = 32;

/// Decodes `input` `chunk` bytes at a time: the items, then how the stream ended.
fn decode(input: &[u8], chunk: usize) -> (Vec<Incoming>, Result<(), String>) {
    let mut codec = HttpCodec::new(MAX_HEAD).with_max_body(MAX_BODY);
    let mut src = ReadBuf::new();
    let mut items = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        src.extend_from_slice(piece);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Err(e.to_string())),
            }
        }
        assert!(
            src.len() <= MAX_HEAD + MAX_BODY,
            "{} bytes buffered",
            src.len()
        );
    }
    loop {
        match codec.decode_eof(&mut src) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, Ok(())),
            Err(e) => return (items, Err(e.to_string())),
        }
    }
}

/// Requests to start from: pipelined, with bodies, blank lines, and some that are refused.
const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyHEAD / HTTP/1.0\r\n\r\n",
    b"\r\n\r\nGET /?q HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nx",
];

/// An input: a seed with random bytes changed, inserted or cut, or random bytes.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            0..SEEDS.len(),
            prop::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 0..6)
        )
            .prop_map(|(seed, edits)| {
                let mut bytes = SEEDS[seed].to_vec();
                for (at, byte, kind) in edits {
                    let at = at % (bytes.len() + 1);
                    match kind {
                        0 if at < bytes.len() => bytes[at] = byte,
                        1 => bytes.insert(at, byte),
                        _ => bytes.truncate(at),
                    }
                }
                bytes
            }),
        prop::collection::vec(any::<u8>(), 0..600),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The split never changes what comes out.
    #[test]
    fn chunking_changes_nothing(input in input(), chunk in 1usize..64) {
        let whole = decode(&input, input.len());
        let pieces = decode(&input, chunk);
        prop_assert_eq!(whole, pieces);
    }
}
