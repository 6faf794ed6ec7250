//! `ByteLinesCodec` on arbitrary bytes in arbitrary pieces, failing or discarding on long lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{ByteLinesCodec, Oversize};
use turbine_codec_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let Some((&config, data)) = data.split_first() else {
        return;
    };
    let max = usize::from(config & 0x3F);
    let oversize = if config & 0x40 == 0 {
        Oversize::Error
    } else {
        Oversize::Discard
    };
    check(
        || ByteLinesCodec::new(max).with_oversize(oversize),
        data,
        max + 1,
    );
});
