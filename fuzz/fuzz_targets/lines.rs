//! `LinesCodec` on arbitrary bytes in arbitrary pieces, failing or discarding on long lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{LinesCodec, Oversize};
use turbine_codec_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let Some((&config, data)) = data.split_first() else {
        return;
    };
    // Small maxima, so the limit is reached often.
    let max = usize::from(config & 0x3F);
    let oversize = if config & 0x40 == 0 {
        Oversize::Error
    } else {
        Oversize::Discard
    };
    // A line's content plus a `\r` that may start its ending.
    check(
        || LinesCodec::new(max).with_oversize(oversize),
        data,
        max + 1,
    );
});
