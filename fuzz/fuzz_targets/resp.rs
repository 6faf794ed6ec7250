//! `RespCodec` on arbitrary bytes in arbitrary pieces: no panic, input bounded by the command
//! limit, and the same commands (and error kind) whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{Decoder, ReadBuf, RespCodec};
use turbine_codec_fuzz::chunked;

/// The whole-command limit the target uses: small, so limits are hit often.
const MAX: usize = 4096;

/// Decodes `input` fed `chunk` bytes at a time; returns the commands' arguments and whether a
/// fatal error ended the stream.
fn decode(input: &[u8], chunk: usize) -> (Vec<Vec<Vec<u8>>>, bool) {
    let mut codec = RespCodec::new(MAX).with_max_inline(1024);
    let mut src = ReadBuf::new();
    let mut commands = Vec::new();
    for piece in input.chunks(chunk) {
        src.extend_from_slice(piece);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(command)) => commands.push(command.into_args()),
                Ok(None) => break,
                Err(e) if e.is_fatal() => return (commands, true),
                Err(_) => {}
            }
        }
        // Unconsumed input never outgrows one command plus its framing.
        assert!(src.len() <= MAX + 64, "{} bytes buffered", src.len());
    }
    (commands, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((chunk, input)) = chunked(data) else {
        return;
    };
    let whole = decode(input, input.len().max(1));
    let pieces = decode(input, chunk);
    assert_eq!(whole, pieces, "chunking changed the result");
});
