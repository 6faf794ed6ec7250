//! `VarintLengthCodec` on arbitrary bytes in arbitrary pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::VarintLengthCodec;
use turbine_codec_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, data)) = data.split_first() else {
        return;
    };
    let max = match limit {
        0xFF => usize::MAX,
        m => usize::from(m),
    };
    // A frame's payload plus a varint of at most 10 bytes.
    check(|| VarintLengthCodec::new(max), data, max.saturating_add(10));
});
