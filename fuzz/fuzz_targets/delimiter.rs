//! `DelimiterCodec` with a delimiter of 1 to 4 bytes taken from the input, on arbitrary bytes in
//! arbitrary pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{DelimiterCodec, Oversize};
use turbine_codec_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let Some((&config, data)) = data.split_first() else {
        return;
    };
    let delimiter_len = usize::from(config & 0x03) + 1;
    if data.len() < delimiter_len {
        return;
    }
    let (delimiter, data) = data.split_at(delimiter_len);
    let max = usize::from(config >> 3 & 0x0F);
    let oversize = if config & 0x04 == 0 {
        Oversize::Error
    } else {
        Oversize::Discard
    };
    // Half the time, squeeze everything into a four-letter alphabet so that partial and
    // overlapping delimiters are common.
    let squeeze = |bytes: &[u8]| -> Vec<u8> {
        if config & 0x80 == 0 {
            bytes.to_vec()
        } else {
            bytes
                .iter()
                .map(|b| b"ab\r\n"[usize::from(b & 3)])
                .collect()
        }
    };
    let delimiter = squeeze(delimiter);
    let data = squeeze(data);
    check(
        || DelimiterCodec::new(delimiter.clone(), max).with_oversize(oversize),
        &data,
        max + delimiter_len - 1,
    );
});
