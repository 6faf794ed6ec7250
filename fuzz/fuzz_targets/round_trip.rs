//! Frames taken from the input, encoded by each codec, decoded in pieces: the frames the encoder
//! accepted come back unchanged, and a frame it refused left the output as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turbine_codec::{
    ByteLinesCodec, DelimiterCodec, LengthDelimitedCodec, LinesCodec, VarintLengthCodec,
};
use turbine_codec_fuzz::{frames, round_trip};

/// A line ending in `\r` is read back without it (documented); drop such `\r`s up front.
fn without_trailing_cr(mut line: Vec<u8>) -> Vec<u8> {
    while line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

fuzz_target!(|data: &[u8]| {
    let &[select, config, chunk, ref rest @ ..] = data else {
        return;
    };
    let chunk = usize::from(chunk) + 1;
    let items = frames(rest);
    let max = usize::from(config & 0x7F);
    match select % 5 {
        0 => {
            let lines = items
                .into_iter()
                .map(|i| String::from_utf8_lossy(&without_trailing_cr(i)).into_owned())
                .map(|s| s.trim_end_matches('\r').to_string())
                .collect();
            round_trip(|| LinesCodec::new(max), lines, chunk);
        }
        1 => {
            let lines = items.into_iter().map(without_trailing_cr).collect();
            round_trip(|| ByteLinesCodec::new(max), lines, chunk);
        }
        2 => {
            // A delimiter of 1 to 4 bytes over a small alphabet, and frames over the same one,
            // so that frames running into the delimiter are common.
            let alphabet = |b: &u8| b"ab\r\n"[usize::from(b & 3)];
            let len = usize::from(select >> 3 & 3) + 1;
            let delimiter: Vec<u8> = [select >> 5, config, select, config >> 2][..len]
                .iter()
                .map(alphabet)
                .collect();
            let items = items
                .into_iter()
                .map(|i| i.iter().map(alphabet).collect())
                .collect();
            round_trip(|| DelimiterCodec::new(delimiter.clone(), max), items, chunk);
        }
        3 => {
            let field_len = [1, 2, 4, 8][usize::from(select >> 3 & 3)];
            let offset = usize::from(select >> 5 & 3);
            let head_len = offset + field_len;
            let mut builder = LengthDelimitedCodec::builder();
            builder
                .length_field_length(field_len)
                .length_field_offset(offset)
                .length_adjustment(isize::from(config as i8 >> 4))
                .max_frame_length(max.max(usize::from(config & 0x0F) * 40));
            match config >> 2 & 3 {
                0 => {}
                1 => {
                    builder.num_skip(0);
                }
                _ => {
                    builder.num_skip(head_len + usize::from(config & 3));
                }
            }
            if select & 0x80 != 0 {
                builder.little_endian();
            }
            round_trip(|| builder.new_codec(), items, chunk);
        }
        _ => round_trip(|| VarintLengthCodec::new(max), items, chunk),
    }
});
