//! Codec throughput: Turbine's `LinesCodec` and `LengthDelimitedCodec` against tokio-util's, on
//! the same bytes in the same run.
//!
//! Frames are 16, 64 and 1024 bytes on the wire, delimiter included:
//!
//! - lines: 15, 63 or 1023 letters and a `\n` (no `\r`);
//! - length-delimited: a 4-byte big-endian length, then 12, 60 or 1020 payload bytes.
//!
//! The input is 64 KiB of such frames (4096, 1024 or 64 of them, each different), what one full
//! read buffer holds. The codecs are configured alike: Turbine's `LinesCodec::new(64 * 1024)`
//! against tokio-util's `LinesCodec::new_with_max_length(64 * 1024)`, Turbine's
//! `LengthDelimitedCodec::new(64 * 1024)` against tokio-util's
//! `LengthDelimitedCodec::builder().max_frame_length(64 * 1024)` (its default header is the same
//! 4-byte big-endian length).
//!
//! Each (operation, codec, size) is a criterion group named like `decode/lines/64`, with
//! `turbine` and `tokio-util` as its two functions; `Throughput::Elements` is the frame count, so
//! criterion reports frames per second.
//!
//! - Decode: each iteration copies the input into a reused buffer (`ReadBuf::extend_from_slice`
//!   for Turbine, `BytesMut::extend_from_slice` for tokio-util), decodes until the codec returns
//!   `None`, passes each frame to `black_box` and drops it, and asserts the frame count. The copy
//!   is timed in both. Both buffers start with the same capacity, the input plus 4 KiB, so
//!   neither grows or reallocates in the loop. (Without headroom, tokio-util's length-delimited
//!   decoder would allocate a fresh buffer each iteration: after the last frame it reserves room
//!   for the next header while that frame still shares the buffer.) Each codec yields its own
//!   frame type: both lines codecs allocate a `String` per frame; Turbine's length-delimited
//!   codec copies each payload into a `Vec<u8>` while tokio-util's hands out a `BytesMut` view of
//!   the buffer (no copy, no allocation, two atomic reference-count updates). That difference is
//!   part of what is measured.
//! - Encode: each iteration clears a reused output buffer (`Vec<u8>` for Turbine, `BytesMut`
//!   for tokio-util, both grown to size beforehand) and encodes every frame of a pre-built list,
//!   then asserts the output length. Turbine's encoders take ownership (`String`, `Vec<u8>`), so
//!   each frame is cloned; tokio-util's get the same one allocation and copy per frame: a cloned
//!   `String` for `LinesCodec` and `Bytes::from` a cloned `Vec<u8>` (which takes the vector's
//!   allocation over without another) for `LengthDelimitedCodec`. Turbine's lines encoder also
//!   scans each line for a `\n`, which tokio-util's does not.
//!
//! Before measuring, both codecs decode the input to the same frames, and both encode those
//! frames back to exactly the input.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench codec
//! cargo bench --bench codec -- decode/length   # some groups only (a criterion filter)
//! ```
//!
//! The defaults (1 s warm-up, 2 s measurement, 20 samples per function, for 24 functions) keep
//! a full run near 85 seconds. Plots are off: drawing them with criterion's plotters backend
//! takes longer than the measurements themselves on a small machine. Criterion still prints
//! each estimate, saves it under `target/criterion`, and compares it with the previous run.

use std::fmt::Debug;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio_util::bytes::{Bytes, BytesMut};
use tokio_util::codec as tk;
use turbine::{Decoder, Encoder, LengthDelimitedCodec, LinesCodec, ReadBuf};

/// Bytes of input per iteration: one full read buffer.
const INPUT: usize = 64 * 1024;
/// Capacity both decode buffers start with: the input and some headroom.
const BUF_CAPACITY: usize = INPUT + 4096;
/// Maximum frame both codecs are configured with.
const MAX_FRAME: usize = 64 * 1024;
/// Frame sizes on the wire, delimiter or header included.
const SIZES: [usize; 3] = [16, 64, 1024];
/// Bytes of a length-delimited header.
const HEADER: usize = 4;

/// `count` different payloads of `len` letters each.
fn payloads(count: usize, len: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|f| (0..len).map(|i| b'a' + ((f * 7 + i) % 26) as u8).collect())
        .collect()
}

/// 64 KiB of `size`-byte lines, and the lines without their `\n`.
fn lines_input(size: usize) -> (Vec<u8>, Vec<String>) {
    let lines: Vec<String> = payloads(INPUT / size, size - 1)
        .into_iter()
        .map(|p| String::from_utf8(p).expect("letters are UTF-8"))
        .collect();
    let mut input = Vec::with_capacity(INPUT);
    for line in &lines {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    assert_eq!(input.len(), INPUT);
    (input, lines)
}

/// 64 KiB of `size`-byte length-delimited frames, and their payloads.
fn length_input(size: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
    let frames = payloads(INPUT / size, size - HEADER);
    let mut input = Vec::with_capacity(INPUT);
    for frame in &frames {
        let len = u32::try_from(frame.len()).expect("small frame");
        input.extend_from_slice(&len.to_be_bytes());
        input.extend_from_slice(frame);
    }
    assert_eq!(input.len(), INPUT);
    (input, frames)
}

/// Decodes every frame of `input` with a Turbine codec, after copying it into `buf`.
fn turbine_decode<D: Decoder>(codec: &mut D, buf: &mut ReadBuf, input: &[u8], frames: usize) {
    buf.clear();
    buf.extend_from_slice(input);
    let mut n = 0;
    while let Some(frame) = codec.decode(buf).expect("turbine decode") {
        black_box(frame);
        n += 1;
    }
    assert_eq!(n, frames);
}

/// Decodes every frame of `input` with a tokio-util codec, after copying it into `buf`.
fn tokio_decode<D>(codec: &mut D, buf: &mut BytesMut, input: &[u8], frames: usize)
where
    D: tk::Decoder,
    D::Error: Debug,
{
    buf.clear();
    buf.extend_from_slice(input);
    let mut n = 0;
    while let Some(frame) = codec.decode(buf).expect("tokio-util decode") {
        black_box(frame);
        n += 1;
    }
    assert_eq!(n, frames);
}

/// Encodes every frame with a Turbine codec into the cleared `out`.
fn turbine_encode<E>(codec: &mut E, frames: &[E::Item], out: &mut Vec<u8>, len: usize)
where
    E: Encoder<Item: Clone>,
{
    out.clear();
    for frame in frames {
        codec.encode(frame.clone(), out).expect("turbine encode");
    }
    assert_eq!(out.len(), len);
}

/// Encodes every frame with a tokio-util codec into the cleared `out`; `item` turns a pre-built
/// frame into the owned value the encoder takes.
fn tokio_encode<E, F, I>(
    codec: &mut E,
    frames: &[F],
    item: impl Fn(&F) -> I,
    out: &mut BytesMut,
    len: usize,
) where
    E: tk::Encoder<I>,
    E::Error: Debug,
{
    out.clear();
    for frame in frames {
        codec.encode(item(frame), out).expect("tokio-util encode");
    }
    assert_eq!(out.len(), len);
}

/// Every frame a Turbine decoder finds in `input`.
fn turbine_frames<D: Decoder>(mut codec: D, input: &[u8]) -> Vec<D::Item> {
    let mut buf = ReadBuf::from(input);
    std::iter::from_fn(|| codec.decode(&mut buf).expect("turbine decode")).collect()
}

/// Every frame a tokio-util decoder finds in `input`.
fn tokio_frames<D>(mut codec: D, input: &[u8]) -> Vec<D::Item>
where
    D: tk::Decoder,
    D::Error: Debug,
{
    let mut buf = BytesMut::from(input);
    std::iter::from_fn(|| codec.decode(&mut buf).expect("tokio-util decode")).collect()
}

/// tokio-util's lines codec, configured like Turbine's.
fn tokio_lines() -> tk::LinesCodec {
    tk::LinesCodec::new_with_max_length(MAX_FRAME)
}

/// tokio-util's length-delimited codec, configured like Turbine's.
fn tokio_length() -> tk::LengthDelimitedCodec {
    tk::LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// Lines decoded per second out of 64 KiB of input, Turbine and tokio-util on the same bytes.
fn decode_lines(c: &mut Criterion) {
    for size in SIZES {
        let (input, lines) = lines_input(size);
        let frames = lines.len();
        assert_eq!(turbine_frames(LinesCodec::new(MAX_FRAME), &input), lines);
        assert_eq!(tokio_frames(tokio_lines(), &input), lines);

        let mut group = c.benchmark_group(format!("decode/lines/{size}"));
        group.throughput(Throughput::Elements(frames as u64));
        let mut codec = LinesCodec::new(MAX_FRAME);
        let mut buf = ReadBuf::with_capacity(BUF_CAPACITY);
        group.bench_function("turbine", |b| {
            b.iter(|| turbine_decode(&mut codec, &mut buf, &input, frames));
        });
        let mut codec = tokio_lines();
        let mut buf = BytesMut::with_capacity(BUF_CAPACITY);
        group.bench_function("tokio-util", |b| {
            b.iter(|| tokio_decode(&mut codec, &mut buf, &input, frames));
        });
        group.finish();
    }
}

/// Length-delimited frames decoded per second out of 64 KiB of input, Turbine and tokio-util on
/// the same bytes.
fn decode_length(c: &mut Criterion) {
    for size in SIZES {
        let (input, payloads) = length_input(size);
        let frames = payloads.len();
        assert_eq!(
            turbine_frames(LengthDelimitedCodec::new(MAX_FRAME), &input),
            payloads
        );
        assert_eq!(tokio_frames(tokio_length(), &input), payloads);

        let mut group = c.benchmark_group(format!("decode/length/{size}"));
        group.throughput(Throughput::Elements(frames as u64));
        let mut codec = LengthDelimitedCodec::new(MAX_FRAME);
        let mut buf = ReadBuf::with_capacity(BUF_CAPACITY);
        group.bench_function("turbine", |b| {
            b.iter(|| turbine_decode(&mut codec, &mut buf, &input, frames));
        });
        let mut codec = tokio_length();
        let mut buf = BytesMut::with_capacity(BUF_CAPACITY);
        group.bench_function("tokio-util", |b| {
            b.iter(|| tokio_decode(&mut codec, &mut buf, &input, frames));
        });
        group.finish();
    }
}

/// Lines encoded per second (64 KiB of output), each a cloned `String`, Turbine and tokio-util.
fn encode_lines(c: &mut Criterion) {
    for size in SIZES {
        let (input, lines) = lines_input(size);
        let mut group = c.benchmark_group(format!("encode/lines/{size}"));
        group.throughput(Throughput::Elements(lines.len() as u64));

        let mut codec = LinesCodec::new(MAX_FRAME);
        let mut out = Vec::with_capacity(INPUT);
        turbine_encode(&mut codec, &lines, &mut out, INPUT);
        assert!(out == input, "Turbine's encoding differs from the input");
        group.bench_function("turbine", |b| {
            b.iter(|| turbine_encode(&mut codec, &lines, &mut out, INPUT));
        });

        let mut codec = tokio_lines();
        let mut out = BytesMut::with_capacity(INPUT);
        tokio_encode(&mut codec, &lines, String::clone, &mut out, INPUT);
        assert!(out == input, "tokio-util's encoding differs from the input");
        group.bench_function("tokio-util", |b| {
            b.iter(|| tokio_encode(&mut codec, &lines, String::clone, &mut out, INPUT));
        });
        group.finish();
    }
}

/// Length-delimited frames encoded per second (64 KiB of output), each payload a cloned
/// `Vec<u8>` (made `Bytes` for tokio-util), Turbine and tokio-util.
fn encode_length(c: &mut Criterion) {
    // The owned frame tokio-util's encoder takes: the same one allocation as Turbine's clone
    // (`Bytes::from` takes the exact-capacity vector's allocation over).
    let to_bytes = |payload: &Vec<u8>| Bytes::from(payload.clone());

    for size in SIZES {
        let (input, payloads) = length_input(size);
        let mut group = c.benchmark_group(format!("encode/length/{size}"));
        group.throughput(Throughput::Elements(payloads.len() as u64));

        let mut codec = LengthDelimitedCodec::new(MAX_FRAME);
        let mut out = Vec::with_capacity(INPUT);
        turbine_encode(&mut codec, &payloads, &mut out, INPUT);
        assert!(out == input, "Turbine's encoding differs from the input");
        group.bench_function("turbine", |b| {
            b.iter(|| turbine_encode(&mut codec, &payloads, &mut out, INPUT));
        });

        let mut codec = tokio_length();
        let mut out = BytesMut::with_capacity(INPUT);
        tokio_encode(&mut codec, &payloads, to_bytes, &mut out, INPUT);
        assert!(out == input, "tokio-util's encoding differs from the input");
        group.bench_function("tokio-util", |b| {
            b.iter(|| tokio_encode(&mut codec, &payloads, to_bytes, &mut out, INPUT));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .without_plots();
    targets = decode_lines, decode_length, encode_lines, encode_length
}
criterion_main!(benches);
