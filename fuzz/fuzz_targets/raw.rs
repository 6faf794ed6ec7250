//! `RawCodec` on arbitrary bytes in arbitrary pieces: every byte comes out, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::RawCodec;
use turbine_codec_fuzz::{chunked, drive};

fuzz_target!(|data: &[u8]| {
    let Some((chunk, input)) = chunked(data) else {
        return;
    };
    let outcome = drive(&mut RawCodec::new(), input, chunk, 0);
    assert_eq!(outcome.error, None);
    let bytes: Vec<u8> = outcome.frames.into_iter().flatten().flatten().collect();
    assert_eq!(bytes, input);
});
