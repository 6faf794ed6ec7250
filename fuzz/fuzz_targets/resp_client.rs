//! `RespClientCodec` on arbitrary bytes in arbitrary pieces: no panic, input bounded by the
//! reply limit, each reply consuming exactly the bytes that encode it, and the same replies
//! (and error kind) whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{CodecError, Decoder, ReadBuf, RespClientCodec, Value};
use turbine_codec_fuzz::chunked;

/// The reply limit the target uses: small, so limits are hit often.
const MAX: usize = 4096;

/// What decoding a stream produced: the replies, then the kind of error that ended it.
type Outcome = (Vec<Value>, Option<&'static str>);

/// The variant of an error, without the byte counts that depend on the chunking.
fn kind(error: &CodecError) -> &'static str {
    match error {
        CodecError::FrameTooLong { .. } => "FrameTooLong",
        CodecError::Truncated { .. } => "Truncated",
        CodecError::Invalid(_) => "Invalid",
        other => panic!("unexpected error {other:?}"),
    }
}

/// The one wire form of `value`: the decoder accepts no other (numbers as Redis writes them,
/// `\r\n` everywhere), so a reply must have consumed exactly these bytes.
fn encode(value: &Value, wire: &mut Vec<u8>) {
    match value {
        Value::Simple(text) => {
            wire.push(b'+');
            wire.extend_from_slice(text);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Error(text) => {
            wire.push(b'-');
            wire.extend_from_slice(text);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Integer(n) => wire.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Bulk(bytes) => {
            wire.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
            wire.extend_from_slice(bytes);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Null => wire.extend_from_slice(b"$-1\r\n"),
        Value::Array(items) => {
            wire.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                encode(item, wire);
            }
        }
        Value::NullArray => wire.extend_from_slice(b"*-1\r\n"),
    }
}

/// Decodes `input` fed `chunk` bytes at a time, then signals end of stream, checking each
/// reply against the bytes it consumed and the bytes left buffered against the limit.
fn decode(input: &[u8], chunk: usize) -> Outcome {
    let mut codec = RespClientCodec::new(MAX)
        .with_max_bulk(2048)
        .with_max_array(256)
        .with_max_line(1024)
        .with_max_depth(16);
    let mut src = ReadBuf::new();
    let mut values = Vec::new();
    // Offset in `input` of the first byte still in `src`.
    let mut at = 0;
    let mut take = |value: Value, src: &ReadBuf, values: &mut Vec<Value>, fed: usize| {
        let end = fed - src.len();
        let mut wire = Vec::new();
        encode(&value, &mut wire);
        assert_eq!(
            wire,
            input[at..end],
            "a reply consumed other bytes than its own"
        );
        at = end;
        // Telling pushes apart must not panic either.
        let _ = value.pubsub();
        values.push(value);
    };
    let mut fed = 0;
    for piece in input.chunks(chunk) {
        src.extend_from_slice(piece);
        fed += piece.len();
        loop {
            match codec.decode(&mut src) {
                Ok(Some(value)) => take(value, &src, &mut values, fed),
                Ok(None) => break,
                Err(error) => return (values, Some(kind(&error))),
            }
        }
        // An unfinished reply never outgrows the limit.
        assert!(src.len() <= MAX, "{} bytes buffered", src.len());
    }
    loop {
        match codec.decode_eof(&mut src) {
            Ok(Some(value)) => take(value, &src, &mut values, fed),
            Ok(None) => {
                assert!(src.is_empty(), "{} bytes dropped at EOF", src.len());
                return (values, None);
            }
            Err(error) => return (values, Some(kind(&error))),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((chunk, input)) = chunked(data) else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, chunk);
    assert_eq!(whole, pieces, "chunking changed the result");
});
