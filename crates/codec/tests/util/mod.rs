//! Helpers for the codec tests: a tiny random generator, a driver that feeds a decoder in
//! pieces, the every-split check, and simple reference decoders to compare against.
//!
//! Each test binary uses part of this module.
#![allow(dead_code)]

use std::fmt::Debug;
use std::time::{Duration, Instant};

use turbine_codec::{CodecError, Decoder, ReadBuf};

/// A tiny deterministic xorshift64 generator, so the split tests need no external crate.
pub(crate) struct XorShift(pub u64);

impl XorShift {
    /// The next 64 random bits.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` random bytes drawn from `alphabet`.
    pub(crate) fn bytes_from(&mut self, alphabet: &[u8], n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }
}

/// One thing a decoder produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<T> {
    /// A decoded frame.
    Frame(T),
    /// A frame reported as `CodecError::Discarded` and skipped.
    Discarded,
}

/// The kind of fatal error that ended a stream, without the byte counts inside it (those say how
/// much had arrived, which depends on the split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fatal {
    /// `CodecError::FrameTooLong`.
    TooLong,
    /// `CodecError::InvalidUtf8`.
    Utf8,
    /// `CodecError::Truncated`.
    Truncated,
    /// `CodecError::Invalid`.
    Invalid,
}

impl Fatal {
    /// The kind of `error`, which must be fatal.
    pub(crate) fn of(error: &CodecError) -> Fatal {
        match error {
            CodecError::FrameTooLong { .. } => Fatal::TooLong,
            CodecError::InvalidUtf8 => Fatal::Utf8,
            CodecError::Truncated { .. } => Fatal::Truncated,
            CodecError::Invalid(_) => Fatal::Invalid,
            other => panic!("not a fatal error: {other:?}"),
        }
    }
}

/// What decoding a whole stream produced: events, then possibly the fatal error that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome<T> {
    /// Frames and discards, in stream order.
    pub events: Vec<Event<T>>,
    /// The fatal error that ended decoding, if one did.
    pub fatal: Option<Fatal>,
}

impl<T> Outcome<T> {
    /// A stream that decoded to `frames` and ended cleanly.
    pub(crate) fn frames(frames: impl IntoIterator<Item = T>) -> Self {
        Outcome {
            events: frames.into_iter().map(Event::Frame).collect(),
            fatal: None,
        }
    }
}

/// Feeds `chunks` to `codec` in order, decoding everything after each, then signals end of
/// stream, as the reactor does: a `Discarded` is recorded and decoding goes on, a fatal error
/// ends it.
pub(crate) fn decode_chunks<'a, D: Decoder>(
    codec: &mut D,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome<D::Item> {
    let mut src = ReadBuf::new();
    let mut events = Vec::new();
    for chunk in chunks {
        src.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(frame)) => events.push(Event::Frame(frame)),
                Ok(None) => break,
                Err(CodecError::Discarded { .. }) => events.push(Event::Discarded),
                Err(e) => {
                    return Outcome {
                        events,
                        fatal: Some(Fatal::of(&e)),
                    };
                }
            }
        }
    }
    loop {
        match codec.decode_eof(&mut src) {
            Ok(Some(frame)) => events.push(Event::Frame(frame)),
            Ok(None) => {
                assert!(src.is_empty(), "decode_eof left {} bytes", src.len());
                return Outcome {
                    events,
                    fatal: None,
                };
            }
            Err(CodecError::Discarded { .. }) => events.push(Event::Discarded),
            Err(e) => {
                return Outcome {
                    events,
                    fatal: Some(Fatal::of(&e)),
                };
            }
        }
    }
}

/// Decodes `stream` split in two at every position, and one byte at a time, each with a fresh
/// codec, and checks each outcome against `expected`.
pub(crate) fn check_all_splits<D, F>(new_codec: F, stream: &[u8], expected: &Outcome<D::Item>)
where
    D: Decoder,
    D::Item: PartialEq + Debug,
    F: Fn() -> D,
{
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        let outcome = decode_chunks(&mut new_codec(), [a, b]);
        assert_eq!(&outcome, expected, "split at {at}");
    }
    let outcome = decode_chunks(&mut new_codec(), stream.chunks(1));
    assert_eq!(&outcome, expected, "one byte at a time");
    let outcome = decode_chunks(&mut new_codec(), [stream]);
    assert_eq!(&outcome, expected, "whole");
}

/// Maps the frames of an outcome, for comparing a `String` codec with a byte reference.
pub(crate) fn map_frames<T, U>(outcome: Outcome<T>, f: impl Fn(T) -> U) -> Outcome<U> {
    Outcome {
        events: outcome
            .events
            .into_iter()
            .map(|e| match e {
                Event::Frame(frame) => Event::Frame(f(frame)),
                Event::Discarded => Event::Discarded,
            })
            .collect(),
        fatal: outcome.fatal,
    }
}

/// Reference for every delimiter codec: searches the whole input naively for each delimiter.
///
/// `strip_cr` drops one `\r` before each delimiter (the line codecs); `discard` skips over-long
/// frames instead of failing. A trailing unterminated piece is a truncated frame, unless it is
/// already too long however it might have ended.
pub(crate) fn reference_delimited(
    stream: &[u8],
    delimiter: &[u8],
    strip_cr: bool,
    max: usize,
    discard: bool,
) -> Outcome<Vec<u8>> {
    let mut events = Vec::new();
    let too_long = |events: &mut Vec<Event<Vec<u8>>>| {
        if discard {
            events.push(Event::Discarded);
            None
        } else {
            Some(Fatal::TooLong)
        }
    };
    let mut rest = stream;
    loop {
        let found = (0..rest.len()).find(|&i| rest[i..].starts_with(delimiter));
        let Some(at) = found else {
            if rest.is_empty() {
                return Outcome {
                    events,
                    fatal: None,
                };
            }
            // The shortest content this piece could still have, if the rest of a delimiter (or
            // for lines a `\n` after a `\r`) came next.
            let shortest = (0..delimiter.len())
                .filter(|&k| rest.ends_with(&delimiter[..k]))
                .map(|k| rest.len() - k)
                .chain((strip_cr && rest.ends_with(b"\r")).then(|| rest.len() - 1))
                .min()
                .unwrap_or(rest.len());
            let fatal = if shortest > max {
                too_long(&mut events)
            } else {
                Some(Fatal::Truncated)
            };
            return Outcome { events, fatal };
        };
        let mut content = &rest[..at];
        if strip_cr {
            content = content.strip_suffix(b"\r").unwrap_or(content);
        }
        if content.len() > max {
            if let Some(fatal) = too_long(&mut events) {
                return Outcome {
                    events,
                    fatal: Some(fatal),
                };
            }
        } else {
            events.push(Event::Frame(content.to_vec()));
        }
        rest = &rest[at + delimiter.len()..];
    }
}

/// Reference for the `String` lines codec: the byte reference, then UTF-8, where the first line
/// that is not UTF-8 ends the stream.
pub(crate) fn reference_lines(stream: &[u8], max: usize, discard: bool) -> Outcome<String> {
    let bytes = reference_delimited(stream, b"\n", true, max, discard);
    let mut events = Vec::new();
    for event in bytes.events {
        match event {
            Event::Frame(line) => match String::from_utf8(line) {
                Ok(line) => events.push(Event::Frame(line)),
                Err(_) => {
                    return Outcome {
                        events,
                        fatal: Some(Fatal::Utf8),
                    };
                }
            },
            Event::Discarded => events.push(Event::Discarded),
        }
    }
    Outcome {
        events,
        fatal: bytes.fatal,
    }
}

/// A length-delimited head layout, for building both a codec and the reference.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    /// Length field bytes.
    pub field_len: usize,
    /// Bytes before the length field.
    pub offset: usize,
    /// Added to the field's value to get the bytes after the head.
    pub adjustment: isize,
    /// Bytes dropped from each frame; `None`: the head.
    pub num_skip: Option<usize>,
    /// Little-endian length field.
    pub little_endian: bool,
    /// Most bytes in a decoded frame.
    pub max: usize,
}

impl Layout {
    /// The default layout (4-byte big-endian payload length) with maximum `max`.
    pub(crate) const fn default_with_max(max: usize) -> Layout {
        Layout {
            field_len: 4,
            offset: 0,
            adjustment: 0,
            num_skip: None,
            little_endian: false,
            max,
        }
    }

    /// Bytes in the head.
    pub(crate) fn head_len(&self) -> usize {
        self.offset + self.field_len
    }

    /// Bytes dropped from each frame.
    pub(crate) fn skip(&self) -> usize {
        self.num_skip.unwrap_or(self.head_len())
    }

    /// A codec with this layout.
    pub(crate) fn codec(&self) -> turbine_codec::LengthDelimitedCodec {
        let mut builder = turbine_codec::LengthDelimitedCodec::builder();
        builder
            .length_field_length(self.field_len)
            .length_field_offset(self.offset)
            .length_adjustment(self.adjustment)
            .max_frame_length(self.max);
        if let Some(n) = self.num_skip {
            builder.num_skip(n);
        }
        if self.little_endian {
            builder.little_endian();
        }
        builder.new_codec()
    }

    /// The wire bytes of a frame with `after` bytes after the head (the head's other bytes
    /// random), or `None` if the field cannot announce that or it is shorter than `num_skip`.
    pub(crate) fn wire(&self, rng: &mut XorShift, after: usize) -> Option<Vec<u8>> {
        if self.head_len() + after < self.skip() {
            return None;
        }
        let value = u64::try_from(after as i128 - self.adjustment as i128).ok()?;
        if self.field_len < 8 && value >> (8 * self.field_len) != 0 {
            return None;
        }
        let mut wire: Vec<u8> = (0..self.offset).map(|_| rng.next() as u8).collect();
        if self.little_endian {
            wire.extend_from_slice(&value.to_le_bytes()[..self.field_len]);
        } else {
            wire.extend_from_slice(&value.to_be_bytes()[8 - self.field_len..]);
        }
        wire.extend((0..after).map(|_| rng.next() as u8));
        Some(wire)
    }

    /// Reference decoder: read a head, compute the frame from it, take it, repeat.
    pub(crate) fn reference(&self, stream: &[u8]) -> Outcome<Vec<u8>> {
        let mut events = Vec::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let head = self.head_len();
            if rest.len() < head {
                return Outcome {
                    events,
                    fatal: Some(Fatal::Truncated),
                };
            }
            let field = &rest[self.offset..head];
            let mut bytes = [0u8; 8];
            let value = if self.little_endian {
                bytes[..self.field_len].copy_from_slice(field);
                u64::from_le_bytes(bytes)
            } else {
                bytes[8 - self.field_len..].copy_from_slice(field);
                u64::from_be_bytes(bytes)
            };
            let whole = head as i128 + value as i128 + self.adjustment as i128;
            let fatal = if whole < head as i128 || whole < self.skip() as i128 {
                Some(Fatal::Invalid)
            } else if whole - self.skip() as i128 > self.max as i128 {
                Some(Fatal::TooLong)
            } else if (rest.len() as i128) < whole {
                Some(Fatal::Truncated)
            } else {
                None
            };
            if fatal.is_some() {
                return Outcome { events, fatal };
            }
            let whole = whole as usize;
            events.push(Event::Frame(rest[self.skip()..whole].to_vec()));
            rest = &rest[whole..];
        }
        Outcome {
            events,
            fatal: None,
        }
    }
}

/// Reference varint-length decoder: LEB128 read into a `u128`, then the payload.
pub(crate) fn reference_varint(stream: &[u8], max: usize) -> Outcome<Vec<u8>> {
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let mut value: u128 = 0;
        let mut head = None;
        for (i, &byte) in rest.iter().enumerate().take(10) {
            value |= u128::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                head = Some(i + 1);
                break;
            }
        }
        let fatal = match head {
            None if rest.len() >= 10 => Some(Fatal::Invalid),
            None => Some(Fatal::Truncated),
            Some(_) if value > u128::from(u64::MAX) => Some(Fatal::Invalid),
            Some(_) if value > max as u128 => Some(Fatal::TooLong),
            Some(head) if rest.len() < head + value as usize => Some(Fatal::Truncated),
            Some(_) => None,
        };
        if fatal.is_some() {
            return Outcome { events, fatal };
        }
        let head = head.unwrap_or_default();
        let end = head + value as usize;
        events.push(Event::Frame(rest[head..end].to_vec()));
        rest = &rest[end..];
    }
    Outcome {
        events,
        fatal: None,
    }
}

/// Writes `len` as an unsigned LEB128 varint, the simplest way.
pub(crate) fn leb128(mut len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (len & 0x7F) as u8;
        len >>= 7;
        if len == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Cuts `stream` into pieces of the given sizes, cycling through them.
pub(crate) fn chunks<'a>(mut stream: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    for &size in sizes.iter().cycle() {
        if stream.is_empty() {
            break;
        }
        let (piece, rest) = stream.split_at(size.min(stream.len()));
        pieces.push(piece);
        stream = rest;
    }
    pieces
}

/// The error text of a decode of `input` that must fail with `CodecError::Invalid`.
pub(crate) fn invalid_text<D: Decoder>(codec: &mut D, input: &[u8]) -> String {
    let mut src = ReadBuf::from(input);
    loop {
        match codec.decode(&mut src) {
            Ok(Some(_)) => {}
            Ok(None) => panic!("{input:?}: no error, waiting for more"),
            Err(CodecError::Invalid(text)) => return text,
            Err(other) => panic!("{input:?}: {other:?}"),
        }
    }
}

/// Feeds `wire` to `codec` one byte at a time, failing as soon as `limit` has passed (a
/// guard against a decoder that rescans its input with every byte, which would take hours
/// here, not a measurement of speed), and returns the items decoded.
pub(crate) fn byte_by_byte_within<D: Decoder>(
    codec: &mut D,
    wire: &[u8],
    limit: Duration,
) -> Vec<D::Item> {
    let started = Instant::now();
    let mut src = ReadBuf::new();
    let mut items = Vec::new();
    for (i, &byte) in wire.iter().enumerate() {
        src.extend_from_slice(&[byte]);
        while let Some(item) = codec.decode(&mut src).unwrap() {
            items.push(item);
        }
        if i % 4096 == 0 {
            let elapsed = started.elapsed();
            assert!(
                elapsed < limit,
                "{i} of {} bytes after {elapsed:?}",
                wire.len()
            );
        }
    }
    items
}
