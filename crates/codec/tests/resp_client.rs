//! `RespClientCodec`: every reply type, nested arrays and pub/sub pushes; replies against a
//! simple reference decoder under every split of their input and byte by byte; random values
//! through a naive encoder under random chunking; hiredis's error wording; hostile lengths,
//! counts and nesting; commands encoded byte for byte and refused over the encode bound.

mod util;

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use turbine_codec::{
    CodecError, Command, Decoder, Encoder, FrameLimits, PubSub, ReadBuf, Reply, RespClientCodec,
    RespCodec, Value,
};
use util::{
    Event, Fatal, Outcome, XorShift, byte_by_byte_within, check_all_splits, chunks, decode_chunks,
    invalid_text,
};

/// The limits of a codec under test, for building it and the reference alike.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Bytes of one reply.
    frame: usize,
    /// Bytes of one bulk string.
    bulk: usize,
    /// Elements of one array.
    array: usize,
    /// Bytes of a line before its `\n`.
    line: usize,
    /// Arrays one inside another.
    depth: usize,
}

impl Limits {
    /// Roomy limits: nothing in the ordinary tests comes near them.
    const ROOMY: Limits = Limits {
        frame: 1 << 20,
        bulk: 1 << 16,
        array: 1 << 10,
        line: 1 << 12,
        depth: 8,
    };

    /// A codec with these limits.
    fn codec(&self) -> RespClientCodec {
        RespClientCodec::new(self.frame)
            .with_max_bulk(self.bulk)
            .with_max_array(self.array)
            .with_max_line(self.line)
            .with_max_depth(self.depth)
    }
}

// ----- the reference decoder and encoder -----------------------------------------------------

/// Reference decoder: reads the whole stream at once, one reply after another, each from
/// scratch, nested arrays by recursion.
fn reference(stream: &[u8], limits: Limits) -> Outcome<Value> {
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        match reference_element(rest, 0, 0, limits) {
            Ok((value, used)) => {
                events.push(Event::Frame(value));
                rest = &rest[used..];
            }
            Err(fatal) => {
                return Outcome {
                    events,
                    fatal: Some(fatal),
                };
            }
        }
    }
    Outcome {
        events,
        fatal: None,
    }
}

/// The element at `at` of the reply at the front of `s`, inside `depth` arrays, and the
/// offset just past it.
fn reference_element(
    s: &[u8],
    at: usize,
    depth: usize,
    limits: Limits,
) -> Result<(Value, usize), Fatal> {
    if at >= s.len() {
        return Err(Fatal::Truncated);
    }
    if at >= limits.frame {
        return Err(Fatal::TooLong);
    }
    let kind = s[at];
    if !b"+-:$*".contains(&kind) {
        return Err(Fatal::Invalid);
    }
    let nl = reference_line(s, at, limits)?;
    let text = s[at + 1..nl].strip_suffix(b"\r").ok_or(Fatal::Invalid)?;
    let next = nl + 1;
    match kind {
        b'+' | b'-' if text.contains(&b'\r') => Err(Fatal::Invalid),
        b'+' => Ok((Value::Simple(text.to_vec()), next)),
        b'-' => Ok((Value::Error(text.to_vec()), next)),
        b':' => Ok((Value::Integer(reference_number(text)?), next)),
        b'$' => {
            let len = reference_number(text)?;
            if len == -1 {
                return Ok((Value::Null, next));
            }
            if len < 0 || len as u64 > limits.bulk as u64 {
                return Err(Fatal::Invalid);
            }
            let end = next as u64 + len as u64 + 2;
            if end > limits.frame as u64 {
                return Err(Fatal::TooLong);
            }
            let end = end as usize;
            if s.len() < end {
                return Err(Fatal::Truncated);
            }
            if &s[end - 2..end] != b"\r\n" {
                return Err(Fatal::Invalid);
            }
            Ok((Value::Bulk(s[next..end - 2].to_vec()), end))
        }
        _ => {
            let count = reference_number(text)?;
            if count == -1 {
                return Ok((Value::NullArray, next));
            }
            if count < 0 || count as u64 > limits.array as u64 || depth >= limits.depth {
                return Err(Fatal::Invalid);
            }
            let mut at = next;
            let mut items = Vec::new();
            for _ in 0..count {
                let (item, end) = reference_element(s, at, depth + 1, limits)?;
                items.push(item);
                at = end;
            }
            Ok((Value::Array(items), at))
        }
    }
}

/// The `\n` ending the line at `start` of a reply at 0. A limit is broken at an offset (the
/// line's content reaching it, the reply reaching it); the earlier one the stream proves is
/// the error, the reply's on a tie.
fn reference_line(s: &[u8], start: usize, limits: Limits) -> Result<usize, Fatal> {
    let nl = s[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| start + i);
    let content_end = nl.unwrap_or(s.len());
    let reply_end = nl.map_or(s.len(), |n| n + 1);
    let line_break = start + limits.line;
    let frame_break = limits.frame;
    let line_broken = line_break < content_end;
    let frame_broken = frame_break < reply_end;
    if frame_broken && (!line_broken || frame_break <= line_break) {
        Err(Fatal::TooLong)
    } else if line_broken {
        Err(Fatal::Invalid)
    } else {
        nl.ok_or(Fatal::Truncated)
    }
}

/// A number as Redis writes it, by way of `str::parse` and a check that writing it back gives
/// the same text (which rules out `+`, leading zeros, `-0`).
fn reference_number(text: &[u8]) -> Result<i64, Fatal> {
    let text = std::str::from_utf8(text).map_err(|_| Fatal::Invalid)?;
    let n: i64 = text.parse().map_err(|_| Fatal::Invalid)?;
    if n.to_string() == text {
        Ok(n)
    } else {
        Err(Fatal::Invalid)
    }
}

/// The wire form of `value`, written out naively with `format!`.
fn encode(value: &Value, wire: &mut Vec<u8>) {
    match value {
        Value::Simple(text) => {
            wire.push(b'+');
            wire.extend_from_slice(text);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Error(text) => {
            wire.push(b'-');
            wire.extend_from_slice(text);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Integer(n) => wire.extend_from_slice(format!(":{n}\r\n").as_bytes()),
        Value::Bulk(bytes) => {
            wire.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
            wire.extend_from_slice(bytes);
            wire.extend_from_slice(b"\r\n");
        }
        Value::Null => wire.extend_from_slice(b"$-1\r\n"),
        Value::Array(items) => {
            wire.extend_from_slice(format!("*{}\r\n", items.len()).as_bytes());
            for item in items {
                encode(item, wire);
            }
        }
        Value::NullArray => wire.extend_from_slice(b"*-1\r\n"),
    }
}

/// The wire form of `values`, one after another.
fn wire_of(values: &[Value]) -> Vec<u8> {
    let mut wire = Vec::new();
    for value in values {
        encode(value, &mut wire);
    }
    wire
}

/// An array of bulk strings.
fn bulks(items: &[&[u8]]) -> Value {
    Value::Array(items.iter().map(|&b| Value::bulk(b)).collect())
}

/// Decodes `input` whole with `codec`, expecting exactly one reply and nothing left.
fn decode_one(codec: &mut RespClientCodec, input: &[u8]) -> Value {
    let mut src = ReadBuf::from(input);
    let value = codec.decode(&mut src).unwrap().expect("a whole reply");
    assert!(src.is_empty(), "{} bytes left", src.len());
    value
}

// ----- reply types ------------------------------------------------------------------------------

/// Each RESP2 type decodes to its `Value`, edge cases included: empty strings, the ends of
/// `i64`, line breaks and non-UTF-8 bytes in a bulk string, non-UTF-8 status and error text.
#[test]
fn every_reply_type_decodes() {
    let cases: [(&[u8], Value); 15] = [
        (b"+OK\r\n", Value::simple("OK")),
        (b"+\r\n", Value::simple("")),
        (
            b"+caf\xc3\xa9 \xff\r\n",
            Value::simple(&b"caf\xc3\xa9 \xff"[..]),
        ),
        (
            b"-WRONGTYPE Operation against a key\r\n",
            Value::error("WRONGTYPE Operation against a key"),
        ),
        (
            b"-ERR unknown command '\xfe'\r\n",
            Value::error(&b"ERR unknown command '\xfe'"[..]),
        ),
        (b":0\r\n", Value::Integer(0)),
        (b":-1\r\n", Value::Integer(-1)),
        (b":9223372036854775807\r\n", Value::Integer(i64::MAX)),
        (b":-9223372036854775808\r\n", Value::Integer(i64::MIN)),
        (b"$0\r\n\r\n", Value::bulk("")),
        (b"$6\r\na\r\nb\0\xff\r\n", Value::bulk(&b"a\r\nb\0\xff"[..])),
        (b"$-1\r\n", Value::Null),
        (b"*0\r\n", Value::Array(vec![])),
        (b"*-1\r\n", Value::NullArray),
        (
            b"*3\r\n:1\r\n$1\r\nx\r\n+y\r\n",
            Value::Array(vec![
                Value::Integer(1),
                Value::bulk("x"),
                Value::simple("y"),
            ]),
        ),
    ];
    for (wire, want) in cases {
        let mut codec = RespClientCodec::new(1024);
        assert_eq!(decode_one(&mut codec, wire), want, "{wire:?}");
    }
}

/// Nested arrays as Redis sends them (an `EXEC` with an error and nulls inside, an `XREAD`
/// four levels deep, empty and null arrays as elements) decode to the same tree.
#[test]
fn nested_arrays_decode() {
    let exec = Value::Array(vec![
        Value::simple("OK"),
        Value::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Value::Null,
        Value::NullArray,
        Value::Array(vec![]),
        Value::Array(vec![Value::Null, Value::error("ERR inner")]),
    ]);
    let xread = Value::Array(vec![Value::Array(vec![
        Value::bulk("stream"),
        Value::Array(vec![Value::Array(vec![
            Value::bulk("1-0"),
            bulks(&[b"field", b"value"]),
        ])]),
    ])]);
    let wire: &[u8] = b"*1\r\n*2\r\n$6\r\nstream\r\n*1\r\n*2\r\n$3\r\n1-0\r\n\
        *2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n";
    assert_eq!(wire_of(std::slice::from_ref(&xread)), wire);
    let mut codec = RespClientCodec::new(1024);
    assert_eq!(decode_one(&mut codec, wire), xread);
    let wire = wire_of(&[exec.clone(), xread.clone()]);
    let outcome = decode_chunks(&mut RespClientCodec::new(1024), [&wire[..]]);
    assert_eq!(outcome, Outcome::frames([exec, xread]));
}

/// What `RespCodec` writes for a reply, `RespClientCodec` reads back as `Value::from(reply)`.
#[test]
fn server_replies_decode_as_sent() {
    let replies = [
        Reply::OK,
        Reply::error("ERR syntax error"),
        Reply::Integer(-5),
        Reply::bulk(&b"\r\n"[..]),
        Reply::Null,
        Reply::NullArray,
        Reply::Array(vec![Reply::Array(vec![Reply::Null]), Reply::simple("x")]),
    ];
    let mut server = RespCodec::new(1024);
    let mut wire = Vec::new();
    for reply in replies.clone() {
        server.encode(reply, &mut wire).unwrap();
    }
    let outcome = decode_chunks(&mut RespClientCodec::new(1024), wire.chunks(3));
    assert_eq!(outcome, Outcome::frames(replies.map(Value::from)));
}

// ----- pub/sub ----------------------------------------------------------------------------------

/// Every push a subscribed connection receives is told apart, with its channel, pattern,
/// payload or count, including an unsubscription with no channel left (a null bulk string).
#[test]
fn pubsub_pushes_are_told_apart() {
    let wire: &[u8] = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nchat\r\n:1\r\n\
        *3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:2\r\n\
        *3\r\n$10\r\nssubscribe\r\n$5\r\nshard\r\n:1\r\n\
        *3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$5\r\nhi\r\n!\r\n\
        *4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$4\r\nchat\r\n$0\r\n\r\n\
        *3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$1\r\n\xff\r\n\
        *2\r\n$4\r\npong\r\n$0\r\n\r\n\
        *2\r\n$4\r\npong\r\n$3\r\nabc\r\n\
        *3\r\n$11\r\nunsubscribe\r\n$4\r\nchat\r\n:1\r\n\
        *3\r\n$12\r\npunsubscribe\r\n$2\r\nc*\r\n:0\r\n\
        *3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n\
        *3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n\
        *3\r\n$12\r\nsunsubscribe\r\n$5\r\nshard\r\n:0\r\n";
    let outcome = decode_chunks(&mut RespClientCodec::new(1024), wire.chunks(7));
    assert_eq!(outcome.fatal, None);
    let pushes: Vec<Option<PubSub<'_>>> = outcome
        .events
        .iter()
        .map(|event| match event {
            Event::Frame(value) => value.pubsub(),
            Event::Discarded => panic!("discarded"),
        })
        .collect();
    let want = [
        PubSub::Subscribe {
            channel: b"chat",
            count: 1,
        },
        PubSub::PSubscribe {
            pattern: b"c*",
            count: 2,
        },
        PubSub::SSubscribe {
            channel: b"shard",
            count: 1,
        },
        PubSub::Message {
            channel: b"chat",
            payload: b"hi\r\n!",
        },
        PubSub::PMessage {
            pattern: b"c*",
            channel: b"chat",
            payload: b"",
        },
        PubSub::SMessage {
            channel: b"shard",
            payload: b"\xff",
        },
        PubSub::Pong { payload: b"" },
        PubSub::Pong { payload: b"abc" },
        PubSub::Unsubscribe {
            channel: Some(b"chat"),
            count: 1,
        },
        PubSub::PUnsubscribe {
            pattern: Some(b"c*"),
            count: 0,
        },
        PubSub::Unsubscribe {
            channel: None,
            count: 0,
        },
        PubSub::PUnsubscribe {
            pattern: None,
            count: 0,
        },
        PubSub::SUnsubscribe {
            channel: Some(b"shard"),
            count: 0,
        },
    ];
    assert_eq!(pushes, want.map(Some));
}

/// A push's channel and payload are borrowed from the decoded value, not copied.
#[test]
fn pubsub_borrows_without_copying() {
    let value = bulks(&[b"message", b"news", b"payload"]);
    let Some(PubSub::Message { channel, payload }) = value.pubsub() else {
        panic!("not a message: {value:?}");
    };
    let items = value.as_array().unwrap();
    assert!(std::ptr::eq(channel, items[1].as_bytes().unwrap()));
    assert!(std::ptr::eq(payload, items[2].as_bytes().unwrap()));
}

/// Values without a push's exact shape are not pushes: other types, wrong counts of elements,
/// the kind in another case or as a simple string, a channel or payload that is not a bulk
/// string, a count that is not an integer, a null where only unsubscriptions allow one.
#[test]
fn non_pushes_are_not_pubsub() {
    let not_pushes = [
        Value::simple("message"),
        Value::NullArray,
        Value::Array(vec![]),
        bulks(&[b"message", b"chat"]),
        bulks(&[b"message", b"chat", b"hi", b"extra"]),
        bulks(&[b"MESSAGE", b"chat", b"hi"]),
        bulks(&[b"pmessage", b"chat", b"hi"]),
        bulks(&[b"publish", b"chat", b"hi"]),
        Value::Array(vec![
            Value::simple("message"),
            Value::bulk("chat"),
            Value::bulk("hi"),
        ]),
        Value::Array(vec![
            Value::bulk("message"),
            Value::bulk("chat"),
            Value::Integer(1),
        ]),
        Value::Array(vec![Value::bulk("message"), Value::Null, Value::bulk("hi")]),
        bulks(&[b"subscribe", b"chat", b"1"]),
        Value::Array(vec![
            Value::bulk("subscribe"),
            Value::Null,
            Value::Integer(0),
        ]),
        Value::Array(vec![
            Value::bulk("unsubscribe"),
            Value::NullArray,
            Value::Integer(0),
        ]),
        Value::Array(vec![Value::bulk("pong")]),
        Value::Array(vec![Value::bulk("pong"), Value::Null]),
    ];
    for value in not_pushes {
        assert_eq!(value.pubsub(), None, "{value:?}");
    }
}

// ----- every split ------------------------------------------------------------------------------

/// A stream of many replies of every type, nested and flat, decodes like the reference under
/// every split, byte by byte and whole.
#[test]
fn replies_match_reference_under_all_splits() {
    let values = [
        Value::simple("OK"),
        Value::error("ERR no"),
        Value::Integer(-42),
        Value::bulk(&b"a\r\nb\0"[..]),
        Value::bulk(""),
        Value::Null,
        Value::NullArray,
        Value::Array(vec![]),
        bulks(&[b"message", b"chat", b"hello"]),
        Value::Array(vec![
            Value::Array(vec![Value::Integer(1), Value::Null]),
            Value::Array(vec![Value::Array(vec![Value::error("E")])]),
            Value::NullArray,
            Value::simple(""),
        ]),
        Value::Integer(i64::MIN),
        Value::Array((0..12).map(Value::Integer).collect()),
        Value::simple("PONG"),
    ];
    let stream = wire_of(&values);
    let limits = Limits::ROOMY;
    let expected = reference(&stream, limits);
    assert_eq!(expected, Outcome::frames(values));
    check_all_splits(|| limits.codec(), &stream, &expected);
}

/// A stream cut off at every point of its last reply ends as truncated, never as a reply.
#[test]
fn truncated_replies_are_reported_under_all_splits() {
    let last = Value::Array(vec![
        Value::bulk("abc"),
        Value::Array(vec![Value::Integer(7), Value::simple("x")]),
        Value::Null,
    ]);
    let first = wire_of(&[Value::simple("OK")]);
    let whole = wire_of(&[Value::simple("OK"), last]);
    for cut in first.len() + 1..whole.len() {
        let expected = Outcome {
            events: vec![Event::Frame(Value::simple("OK"))],
            fatal: Some(Fatal::Truncated),
        };
        assert_eq!(reference(&whole[..cut], Limits::ROOMY), expected, "{cut}");
        check_all_splits(|| Limits::ROOMY.codec(), &whole[..cut], &expected);
    }
}

/// Malformed replies (garbage type bytes, missing or bare line ends, bad numbers, negative
/// lengths other than -1, integer overflow, counts and lengths over the limits, nesting too
/// deep) fail at the same reply under every split, after the replies before them.
#[test]
fn malformed_replies_fail_in_place_under_all_splits() {
    let cases: [&[u8]; 30] = [
        b"?\r\n",
        b"\r\n",
        b"#t\r\n",
        b"+OK\n",
        b"+a\rb\r\n",
        b"-ERR\n",
        b":1\n",
        b":\r\n",
        b":+1\r\n",
        b":01\r\n",
        b":-0\r\n",
        b": 1\r\n",
        b":9223372036854775808\r\n",
        b":-9223372036854775809\r\n",
        b"$x\r\n",
        b"$-2\r\n",
        b"$-9223372036854775808\r\n",
        b"$1\n",
        b"$1\r\nab\r\n",
        b"$1\r\na\n\r",
        b"$99999999999999999999\r\n",
        b"$65537\r\n",
        b"*x\r\n",
        b"*-2\r\n",
        b"*1025\r\n",
        b"*1\n",
        b"*2\r\n:1\r\n?",
        b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n",
        b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",
        b"*2\r\n$1\r\na\r\n$1\r\nbXY",
    ];
    for bad in cases {
        let mut stream = b"+OK\r\n".to_vec();
        stream.extend_from_slice(bad);
        let expected = Outcome {
            events: vec![Event::Frame(Value::simple("OK"))],
            fatal: Some(Fatal::Invalid),
        };
        assert_eq!(reference(&stream, Limits::ROOMY), expected, "{bad:?}");
        check_all_splits(|| Limits::ROOMY.codec(), &stream, &expected);
    }
}

/// Small limits: replies, strings, arrays, depths and lines at their limit pass, one over
/// fails, with the same error under every split as the reference (including which limit is
/// reported first, and what comes first when a limit and a garbage type byte meet).
#[test]
fn limits_at_the_edge_under_all_splits() {
    let mut rng = XorShift(0x0C11_E47F_EED5);
    for frame in [0, 1, 4, 9, 20, 45] {
        for line in [0, 2, 4, 9] {
            let limits = Limits {
                frame,
                bulk: 5,
                array: 3,
                line,
                depth: 2,
            };
            for _ in 0..8 {
                let mut stream = Vec::new();
                for _ in 0..6 {
                    match rng.below(12) {
                        0 | 1 => {
                            let len = rng.below(8);
                            stream.extend(format!("${len}\r\n").as_bytes());
                            stream.extend(rng.bytes_from(b"ab\r\n", len));
                            stream.extend_from_slice(b"\r\n");
                        }
                        2..=4 => {
                            stream.push(b"+-:"[rng.below(3)]);
                            let len = rng.below(12);
                            stream.extend(rng.bytes_from(b"19a", len));
                            stream.extend_from_slice(b"\r\n");
                        }
                        5 | 6 => stream.extend(format!("*{}\r\n", rng.below(5)).as_bytes()),
                        7 => stream.extend(b"*1\r\n*1\r\n*1\r\n:1\r\n"),
                        8 => stream.push(b"?#"[rng.below(2)]),
                        _ => stream.extend(b":7\r\n"),
                    }
                }
                let expected = reference(&stream, limits);
                check_all_splits(|| limits.codec(), &stream, &expected);
            }
        }
    }
}

// ----- linear time --------------------------------------------------------------------------

/// Large replies fed one byte at a time are scanned once: an array of 100,000 bulk strings
/// (about 1 MB), 1,000 arrays of 100 integers, a 1 MiB bulk string and a 1 MiB status line
/// each take a fraction of a second. The decoder keeps its place (the element it is in, how
/// far it has searched for a `\n`, the arrays it is inside) and turns each element into a
/// value once, so the work is linear in the bytes; rescanning the reply on each byte would be
/// 10^12 steps and take hours.
#[test]
fn large_replies_byte_by_byte_are_linear() {
    let limit = Duration::from_secs(20);
    let flat = Value::Array((0..100_000).map(|i| Value::bulk(format!("{i}"))).collect());
    let nested = Value::Array(
        (0..1_000)
            .map(|i| Value::Array((0..100).map(|j| Value::Integer(i * j)).collect()))
            .collect(),
    );
    let long_bulk = Value::bulk(vec![b'x'; 1 << 20]);
    let long_line = Value::simple(vec![b'y'; 1 << 20]);
    for value in [flat, nested, long_bulk, long_line] {
        let wire = wire_of(std::slice::from_ref(&value));
        let mut codec = RespClientCodec::new(4 << 20).with_max_line(2 << 20);
        assert_eq!(byte_by_byte_within(&mut codec, &wire, limit), [value]);
    }
}

// ----- hiredis's wording and the defaults -----------------------------------------------------

/// Each protocol error carries hiredis's wording where hiredis has one.
#[test]
fn errors_use_hiredis_wording() {
    let deep = b"*1\r\n".repeat(65);
    let long = [&b"+"[..], &[b'a'; 64 << 10]].concat();
    let cases: [(&[u8], &str); 17] = [
        (b"?", "Protocol error, got \"?\" as reply type byte"),
        (b"\r\n", "Protocol error, got \"\\x0d\" as reply type byte"),
        (b":abc\r\n", "Bad integer value"),
        (b":9223372036854775808\r\n", "Bad integer value"),
        (b":1\n", "Bad integer value"),
        (b"+a\rb\r\n", "Bad simple string value"),
        (b"-ERR\n", "Bad simple string value"),
        (b"$x\r\n", "Bad bulk string length"),
        (b"$-2\r\n", "Bulk string length out of range"),
        (b"$536870913\r\n", "Bulk string length out of range"),
        (b"*x\r\n", "Bad multi-bulk length"),
        (b"*-2\r\n", "Multi-bulk length out of range"),
        (b"*4294967296\r\n", "Multi-bulk length out of range"),
        (
            b"$1\r\nabc",
            "Bad bulk string value: no CRLF after its bytes",
        ),
        (&deep, "Max nesting depth exceeded"),
        (&long, "Line too long"),
        (
            b"*2\r\n:1\r\n\x00",
            "Protocol error, got \"\\x00\" as reply type byte",
        ),
    ];
    for (input, want) in cases {
        let mut codec = RespClientCodec::new(1 << 30);
        let shown = &input[..input.len().min(16)];
        assert_eq!(invalid_text(&mut codec, input), want, "{shown:?}");
    }
}

/// The defaults: 512 MiB bulk strings (or the decode bound, if smaller), hiredis's array
/// limit, 64 levels, 64 KiB lines; a bare `usize` is both frame bounds.
#[test]
fn default_limits() {
    let codec = RespClientCodec::new(1 << 30);
    assert_eq!(codec.limits(), FrameLimits::symmetric(1 << 30));
    assert_eq!(codec.max_frame_length(), 1 << 30);
    assert_eq!(codec.max_encode_frame_length(), 1 << 30);
    assert_eq!(codec.max_bulk(), 512 << 20);
    assert_eq!(codec.max_array(), 4_294_967_295);
    assert_eq!(codec.max_depth(), 64);
    assert_eq!(codec.max_line(), 64 << 10);
    assert_eq!(RespClientCodec::new(1000).max_bulk(), 1000);
    let codec = RespClientCodec::new(FrameLimits::new(100, 200))
        .with_max_bulk(7)
        .with_max_array(8)
        .with_max_depth(9)
        .with_max_line(10);
    assert_eq!(codec.limits(), FrameLimits::new(100, 200));
    assert_eq!(
        (
            codec.max_bulk(),
            codec.max_array(),
            codec.max_depth(),
            codec.max_line()
        ),
        (7, 8, 9, 10)
    );
}

// ----- hostile input --------------------------------------------------------------------------

/// A bulk length of 10^18 under a 1 GiB codec is refused as soon as its line ends, nothing is
/// allocated for it, and its bytes are left where they were.
#[test]
fn huge_bulk_length_refused_without_allocating() {
    let mut codec = RespClientCodec::new(1 << 30);
    let mut src = ReadBuf::with_capacity(64);
    src.extend_from_slice(b"$1000000000000000000\r\n");
    let capacity = src.capacity();
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::invalid("Bulk string length out of range"))
    );
    assert_eq!(src.capacity(), capacity);
    assert_eq!(src.len(), 22);
}

/// A length under the bulk limit but over the reply limit is refused at its header, before
/// any of its bytes are waited for, with the reply's announced length. Under limits of
/// `usize::MAX`, the largest length RESP can announce is waited for, its end computed without
/// overflow.
#[test]
fn bulk_over_the_frame_limit_refused_at_its_header() {
    let mut codec = RespClientCodec::new(1000).with_max_bulk(5000);
    let mut src = ReadBuf::from(&b"*1\r\n$2000\r\n"[..]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: 2013,
            max: 1000
        })
    );
    if cfg!(target_pointer_width = "64") {
        let mut codec = RespClientCodec::new(usize::MAX).with_max_bulk(usize::MAX);
        let mut src = ReadBuf::from(&b"$9223372036854775807\r\n"[..]);
        assert_eq!(codec.decode(&mut src), Ok(None));
    }
}

/// Array counts up to hiredis's limit are accepted and wait for their elements, the read
/// buffer untouched; one more, and counts past `i64`, are refused.
#[test]
fn huge_array_counts() {
    let mut codec = RespClientCodec::new(1 << 30);
    let mut src = ReadBuf::with_capacity(64);
    src.extend_from_slice(b"*4294967295\r\n:1\r\n");
    let capacity = src.capacity();
    assert_eq!(codec.decode(&mut src), Ok(None));
    assert_eq!(src.capacity(), capacity);
    for count in [
        "4294967296",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
    ] {
        let mut codec = RespClientCodec::new(1 << 30);
        let mut src = ReadBuf::from(format!("*{count}\r\n").as_bytes());
        assert!(
            matches!(codec.decode(&mut src), Err(CodecError::Invalid(_))),
            "{count}"
        );
    }
}

/// Arrays nested 64 deep (the default) decode; a 65th level is refused, and a hostile endless
/// `*1\r\n*1\r\n...` is refused within its first read, before it can grow anything.
#[test]
fn deep_nesting_refused_at_the_limit() {
    let nest = |levels: usize| {
        let mut wire = b"*1\r\n".repeat(levels);
        wire.extend_from_slice(b":1\r\n");
        wire
    };
    let mut codec = RespClientCodec::new(1 << 20);
    let mut value = decode_one(&mut codec, &nest(64));
    for _ in 0..64 {
        let Value::Array(mut items) = value else {
            panic!("not an array");
        };
        value = items.pop().unwrap();
    }
    assert_eq!(value, Value::Integer(1));
    let mut codec = RespClientCodec::new(1 << 20);
    assert_eq!(
        invalid_text(&mut codec, &nest(65)),
        "Max nesting depth exceeded"
    );

    let mut codec = RespClientCodec::new(1 << 30);
    let mut src = ReadBuf::new();
    src.extend_from_slice(&b"*1\r\n".repeat(1024));
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::invalid("Max nesting depth exceeded"))
    );
}

/// With the depth limit raised to 100,000, a reply nested that deep decodes, byte by byte and
/// whole, without the decoder recursing (a recursive decoder would overflow the test thread's
/// stack). The value is taken apart level by level, since dropping it would recurse.
#[test]
fn deep_nesting_decodes_without_recursion() {
    let levels = 100_000;
    let mut wire = b"*1\r\n".repeat(levels);
    wire.extend_from_slice(b"$4\r\ndeep\r\n");
    for chunk in [1, wire.len()] {
        let mut codec = RespClientCodec::new(1 << 20).with_max_depth(levels);
        let mut src = ReadBuf::new();
        let mut decoded = None;
        for piece in wire.chunks(chunk) {
            src.extend_from_slice(piece);
            if let Some(value) = codec.decode(&mut src).unwrap() {
                decoded = Some(value);
            }
        }
        assert!(src.is_empty());
        let mut value = decoded.expect("a reply");
        let mut depth = 0;
        while let Value::Array(mut items) = value {
            assert_eq!(items.len(), 1);
            value = items.pop().unwrap();
            depth += 1;
        }
        assert_eq!((depth, value), (levels, Value::bulk("deep")));
    }
}

/// A status line with no end in sight fails once it passes the line limit, and a reply whose
/// bytes pass the frame limit before its line does fails as too long, both without waiting
/// for more.
#[test]
fn endless_lines_refused_at_their_limit() {
    let mut codec = RespClientCodec::new(1 << 30);
    let mut src = ReadBuf::new();
    let mut fed = 0;
    let error = loop {
        src.extend_from_slice(&[b'+'; 1024]);
        fed += 1024;
        match codec.decode(&mut src) {
            Ok(None) => assert!(fed < 1 << 20, "still waiting after {fed}"),
            Ok(Some(value)) => panic!("decoded {value:?}"),
            Err(error) => break error,
        }
    };
    assert_eq!(error, CodecError::invalid("Line too long"));
    assert!(fed <= RespClientCodec::DEFAULT_MAX_LINE + 1024);

    let mut codec = RespClientCodec::new(100);
    let mut src = ReadBuf::from(&b"*2\r\n:1\r\n+"[..]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    src.extend_from_slice(&[b'a'; 200]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong { len: 209, max: 100 })
    );
}

/// Ten thousand replies exactly at the reply limit all pass, whatever the chunking; one byte
/// less and the first is refused.
#[test]
fn many_replies_at_the_limit() {
    let one = wire_of(&[bulks(&[b"message", b"chat", b"0123456789"])]);
    assert_eq!(one.len(), 44);
    let stream = one.repeat(10_000);
    let outcome = decode_chunks(&mut RespClientCodec::new(44), stream.chunks(4096));
    assert_eq!(outcome.fatal, None);
    assert_eq!(outcome.events.len(), 10_000);
    let outcome = decode_chunks(&mut RespClientCodec::new(43), stream.chunks(4096));
    assert_eq!(outcome.fatal, Some(Fatal::TooLong));
}

// ----- encoding commands ----------------------------------------------------------------------

/// Commands are written as arrays of bulk strings, byte for byte as Redis clients write them,
/// binary and empty arguments included.
#[test]
fn commands_encode_byte_exact() {
    let mut codec = RespClientCodec::new(1024);
    let mut out = Vec::new();
    codec
        .encode(Command::from(["SET", "key", "value"]), &mut out)
        .unwrap();
    codec
        .encode(Command::new([&b"ECHO"[..], b"a\r\n\0\xff", b""]), &mut out)
        .unwrap();
    codec
        .encode(Command::new((0..10).map(|i| format!("{i}"))), &mut out)
        .unwrap();
    let want: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n\
        *3\r\n$4\r\nECHO\r\n$5\r\na\r\n\0\xff\r\n$0\r\n\r\n\
        *10\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n\
        $1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n";
    assert_eq!(
        out.escape_ascii().to_string(),
        want.escape_ascii().to_string()
    );
}

/// A command exactly at the encode bound is written; one byte over is refused with its
/// length and the bound, whatever the decode bound, and `dst` is left as it was.
#[test]
fn command_over_the_encode_bound_refused() {
    let command = Command::from(["HGETALL", "user:1"]);
    let len = b"*2\r\n$7\r\nHGETALL\r\n$6\r\nuser:1\r\n".len();
    let mut out = b"before".to_vec();
    let mut codec = RespClientCodec::new(FrameLimits::new(1, len));
    codec.encode(command.clone(), &mut out).unwrap();
    assert_eq!(out.len(), 6 + len);
    let mut out = b"before".to_vec();
    let mut codec = RespClientCodec::new(FrameLimits::new(1 << 20, len - 1));
    assert_eq!(
        codec.encode(command, &mut out),
        Err(CodecError::FrameTooLong {
            len: len as u64,
            max: len - 1
        })
    );
    assert_eq!(out, b"before");
}

/// An empty command, which Redis would skip without a reply, is refused, `dst` untouched.
#[test]
fn empty_command_refused() {
    let mut codec = RespClientCodec::new(1024);
    let mut out = b"before".to_vec();
    assert!(matches!(
        codec.encode(Command::default(), &mut out),
        Err(CodecError::Invalid(_))
    ));
    assert_eq!(out, b"before");
}

// ----- properties -------------------------------------------------------------------------------

/// Strategy for a value tree of depth at most 4, with status and error text free of line
/// breaks (any other byte allowed).
fn values() -> impl Strategy<Value = Value> {
    let text = || {
        vec(any::<u8>(), 0..12).prop_map(|mut bytes| {
            bytes.retain(|&b| b != b'\r' && b != b'\n');
            bytes
        })
    };
    let leaf = prop_oneof![
        text().prop_map(Value::Simple),
        text().prop_map(Value::Error),
        any::<i64>().prop_map(Value::Integer),
        vec(any::<u8>(), 0..20).prop_map(Value::Bulk),
        Just(Value::Null),
        Just(Value::NullArray),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| vec(inner, 0..6).prop_map(Value::Array))
}

/// Strategy for a server reply tree of depth at most 3.
fn replies() -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        "[ -~]{0,12}".prop_map(Reply::simple),
        "[ -~]{0,12}".prop_map(Reply::error),
        any::<i64>().prop_map(Reply::Integer),
        vec(any::<u8>(), 0..20).prop_map(Reply::Bulk),
        Just(Reply::Null),
        Just(Reply::NullArray),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| vec(inner, 0..6).prop_map(Reply::Array))
}

/// Pieces of a random stream: valid values, headers, and junk.
fn pieces() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        values().prop_map(|value| wire_of(&[value])),
        (0usize..6).prop_map(|n| format!("*{n}\r\n").into_bytes()),
        vec(prop::sample::select(b"*$+-:-0129\r\n a".to_vec()), 0..8),
    ]
}

/// Chunk sizes.
fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..48, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random values (any bytes, nested arrays, nulls and errors inside), written by the naive
    /// encoder, decode back to themselves under random chunking.
    #[test]
    fn values_round_trip(values in vec(values(), 0..10), sizes in sizes()) {
        let wire = wire_of(&values);
        let outcome = decode_chunks(&mut RespClientCodec::new(1 << 20), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(values));
    }

    /// Random replies written by the server's codec decode as `Value::from` of each.
    #[test]
    fn server_replies_round_trip(replies in vec(replies(), 0..8), sizes in sizes()) {
        let mut server = RespCodec::new(1 << 20);
        let mut wire = Vec::new();
        for reply in replies.clone() {
            server.encode(reply, &mut wire).unwrap();
        }
        let outcome = decode_chunks(&mut RespClientCodec::new(1 << 20), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(replies.into_iter().map(Value::from)));
    }

    /// Random streams of valid replies, headers and junk, under small limits, decode like the
    /// reference under random chunking: the same replies, the same fatal error.
    #[test]
    fn random_streams_match_reference(
        pieces in vec(pieces(), 0..10),
        sizes in sizes(),
        frame in 0usize..160,
        bulk in 0usize..16,
        array in 0usize..6,
        line in 0usize..24,
        depth in 0usize..4,
    ) {
        let stream = pieces.concat();
        let limits = Limits { frame, bulk, array, line, depth };
        let outcome = decode_chunks(&mut limits.codec(), chunks(&stream, &sizes));
        prop_assert_eq!(outcome, reference(&stream, limits));
    }

    /// Random commands written by the client's codec reach the server's codec as they were.
    #[test]
    fn commands_reach_the_server_intact(
        commands in vec(vec(vec(any::<u8>(), 0..40), 1..8), 0..12),
        sizes in sizes(),
    ) {
        let commands: Vec<Command> = commands.into_iter().map(Command::new).collect();
        let mut client = RespClientCodec::new(1 << 20);
        let mut wire = Vec::new();
        for command in &commands {
            client.encode(command.clone(), &mut wire).unwrap();
        }
        let outcome = decode_chunks(&mut RespCodec::new(1 << 20), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(commands));
    }
}
