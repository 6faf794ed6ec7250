//! `HttpCodec` on arbitrary bytes in arbitrary pieces: no panic, never more buffered than a
//! head and a body at their bounds, and the same requests and refusals whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{CodecError, Decoder, HttpCodec, Incoming, ReadBuf};
use turbine_codec_fuzz::chunked;

/// Small bounds, so they are reached often.
const MAX_HEAD: usize = 512;
const MAX_BODY: usize = 64;

/// The requests and refusals of a stream, then how it ended.
fn decode(input: &[u8], chunk: usize) -> (Vec<Incoming>, Option<&'static str>) {
    let mut codec = HttpCodec::new(MAX_HEAD).with_max_body(MAX_BODY);
    let mut src = ReadBuf::new();
    let mut items = Vec::new();
    for piece in input.chunks(chunk) {
        src.extend_from_slice(piece);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(_) => return (items, Some("error")),
            }
        }
        assert!(src.len() <= MAX_HEAD + MAX_BODY, "{} bytes buffered", src.len());
    }
    match codec.decode_eof(&mut src) {
        Ok(Some(item)) => items.push(item),
        Ok(None) => assert!(src.is_empty()),
        Err(CodecError::Truncated { .. }) => return (items, Some("truncated")),
        Err(_) => return (items, Some("error")),
    }
    (items, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((chunk, input)) = chunked(data) else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, chunk);
    assert_eq!(whole, pieces, "chunks of {chunk} differ from the whole stream");
});
