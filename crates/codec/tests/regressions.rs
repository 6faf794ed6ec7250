//! Inputs found by the fuzz targets (`fuzz/`), kept as unit tests so the bugs they caught, or
//! would catch, stay fixed. Each names the target and the input it found.

use turbine_codec::{Decoder, DelimiterCodec, ReadBuf};

/// `delimiter` target, input `01 00 00 00 00 00` (delimiter `\0\0`, maximum 0, stream `\0\0`
/// one byte at a time): a delimiter straddling two reads must be found. The fuzzer found this
/// in seconds when the resume offset was deliberately set past the delimiter's first byte (a
/// mutation check of the harness); the real codec never failed it.
#[test]
fn fuzz_delimiter_straddling_two_reads_of_one_byte() {
    let mut codec = DelimiterCodec::new([0, 0], 0);
    let mut src = ReadBuf::new();
    src.extend_from_slice(&[0]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(&[0]);
    assert_eq!(codec.decode(&mut src), Ok(Some(Vec::new())));
    assert_eq!(codec.decode_eof(&mut src), Ok(None));
}
