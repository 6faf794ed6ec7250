//! `LengthDelimitedCodec` with a head layout taken from the input, on arbitrary bytes in
//! arbitrary pieces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::LengthDelimitedCodec;
use turbine_codec_fuzz::check;

fuzz_target!(|data: &[u8]| {
    let &[layout, adjust, limit, ref data @ ..] = data else {
        return;
    };
    let field_len = [1, 2, 4, 8][usize::from(layout & 0x03)];
    let offset = usize::from(layout >> 2 & 0x03);
    let head_len = offset + field_len;
    let num_skip = match layout >> 4 & 0x03 {
        0 => head_len,
        1 => 0,
        2 => head_len + 1,
        _ => usize::from(layout >> 6),
    };
    let adjustment = match adjust {
        0x80 => isize::MIN,
        0x7F => isize::MAX,
        a => isize::from(a as i8),
    };
    let max = match limit {
        0xFF => usize::MAX,
        m => usize::from(m),
    };
    let mut builder = LengthDelimitedCodec::builder();
    builder
        .length_field_length(field_len)
        .length_field_offset(offset)
        .length_adjustment(adjustment)
        .num_skip(num_skip)
        .max_frame_length(max);
    if layout & 0x80 != 0 {
        builder.little_endian();
    }
    let bound = max.saturating_add(num_skip).max(head_len);
    check(|| builder.new_codec(), data, bound);
});
