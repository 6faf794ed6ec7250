//! `RespCodec`: commands (multibulk and inline) against a simple reference decoder under every
//! split of their input, random streams under random chunking, replies against a reference
//! parser, Redis's error wording, and hostile lengths and lines.

mod util;

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use turbine_codec::{CodecError, Command, Decoder, Encoder, ReadBuf, Reply, RespCodec};
use util::{
    Event, Fatal, Outcome, XorShift, byte_by_byte_within, check_all_splits, chunks, decode_chunks,
    invalid_text,
};

/// The limits of a codec under test, for building it and the reference alike.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Bytes of one command.
    frame: usize,
    /// Bytes of one argument.
    bulk: usize,
    /// Arguments of one multibulk.
    array: usize,
    /// Bytes of an inline or header line before its `\n`.
    inline: usize,
}

impl Limits {
    /// Roomy limits: nothing in the ordinary tests comes near them.
    const ROOMY: Limits = Limits {
        frame: 1 << 20,
        bulk: 1 << 16,
        array: 1 << 10,
        inline: 1 << 12,
    };

    fn codec(&self) -> RespCodec {
        RespCodec::new(self.frame)
            .with_max_bulk(self.bulk)
            .with_max_array(self.array)
            .with_max_inline(self.inline)
    }
}

// ----- the reference decoder ----------------------------------------------------------------

/// Reference decoder: reads the whole stream at once, one command after another, each from
/// scratch.
fn reference(stream: &[u8], limits: Limits) -> Outcome<Command> {
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        match reference_one(rest, limits) {
            Ok((command, used)) => {
                events.extend(command.map(Event::Frame));
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

/// The command at the front of `s` (`None` if skipped) and its length on the wire.
fn reference_one(s: &[u8], limits: Limits) -> Result<(Option<Command>, usize), Fatal> {
    if s[0] != b'*' {
        let nl = reference_line(s, 0, limits)?;
        let line = s[..nl].strip_suffix(b"\r").unwrap_or(&s[..nl]);
        let args = reference_split(line).ok_or(Fatal::Invalid)?;
        return Ok(((!args.is_empty()).then(|| Command::new(args)), nl + 1));
    }
    let nl = reference_line(s, 0, limits)?;
    let count = reference_number(&s[1..nl]).ok_or(Fatal::Invalid)?;
    if count > limits.array as i64 {
        return Err(Fatal::Invalid);
    }
    if count <= 0 {
        return Ok((None, nl + 1));
    }
    let mut at = nl + 1;
    let mut args = Vec::new();
    for _ in 0..count {
        if at >= s.len() {
            return Err(Fatal::Truncated);
        }
        if at >= limits.frame {
            return Err(Fatal::TooLong);
        }
        if s[at] != b'$' {
            return Err(Fatal::Invalid);
        }
        let nl = reference_line(s, at, limits)?;
        let len = reference_number(&s[at + 1..nl]).ok_or(Fatal::Invalid)?;
        if len < 0 || len as u64 > limits.bulk as u64 {
            return Err(Fatal::Invalid);
        }
        let data = nl + 1;
        let end = data + len as usize;
        if end + 2 > limits.frame {
            return Err(Fatal::TooLong);
        }
        if s.len() < end + 2 {
            return Err(Fatal::Truncated);
        }
        if &s[end..end + 2] != b"\r\n" {
            return Err(Fatal::Invalid);
        }
        args.push(s[data..end].to_vec());
        at = end + 2;
    }
    Ok((Some(Command::new(args)), at))
}

/// The `\n` ending the line at `start` of a command at 0. A limit is broken at an offset (the
/// line's content reaching it, the command reaching it); the earlier one the stream proves is
/// the error, the command's on a tie.
fn reference_line(s: &[u8], start: usize, limits: Limits) -> Result<usize, Fatal> {
    let nl = s[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|i| start + i);
    let content_end = nl.unwrap_or(s.len());
    let command_end = nl.map_or(s.len(), |n| n + 1);
    let line_break = start + limits.inline;
    let frame_break = limits.frame;
    let line_broken = line_break < content_end;
    let frame_broken = frame_break < command_end;
    if frame_broken && (!line_broken || frame_break <= line_break) {
        Err(Fatal::TooLong)
    } else if line_broken {
        Err(Fatal::Invalid)
    } else {
        nl.ok_or(Fatal::Truncated)
    }
}

/// The number in `<digits>\r`, as Redis's `string2ll` reads it, by way of `str::parse` and a
/// check that writing it back gives the same text (which rules out `+`, leading zeros, `-0`).
fn reference_number(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line.strip_suffix(b"\r")?).ok()?;
    let n: i64 = text.parse().ok()?;
    (n.to_string() == text).then_some(n)
}

/// Redis's `sdssplitargs`, written as a loop over characters with explicit look-ahead; `None`
/// for unbalanced quotes.
fn reference_split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = line.split(|&b| b == 0).next().unwrap_or_default();
    let blank = |b: u8| b" \t\n\r\x0b\x0c".contains(&b);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && blank(line[i]) {
            i += 1;
        }
        if i == line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        // 0: unquoted, b'"' or b'\'': inside those quotes.
        let mut quote = 0u8;
        loop {
            let c = line.get(i).copied();
            let c1 = line.get(i + 1).copied();
            if quote == 0 {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => break,
                    Some(q @ (b'"' | b'\'')) => quote = q,
                    Some(c) => arg.push(c),
                }
                i += 1;
                continue;
            }
            let c = c?; // end of line inside quotes
            let closing = c == quote;
            if closing {
                if c1.is_some_and(|b| !blank(b)) {
                    return None;
                }
                i += 1;
                break;
            }
            if c == b'\\' && quote == b'\'' && c1 == Some(b'\'') {
                arg.push(b'\'');
                i += 2;
            } else if c == b'\\' && quote == b'"' && c1.is_some() {
                let hex = line.get(i + 2..i + 4).and_then(|h| {
                    let h = std::str::from_utf8(h).ok()?;
                    h.chars()
                        .all(|c| c.is_ascii_hexdigit())
                        .then(|| u8::from_str_radix(h, 16).ok())?
                });
                match (c1, hex) {
                    (Some(b'x'), Some(byte)) => {
                        arg.push(byte);
                        i += 4;
                    }
                    (Some(e), _) => {
                        let table = [
                            (b'n', b'\n'),
                            (b'r', b'\r'),
                            (b't', b'\t'),
                            (b'b', 8),
                            (b'a', 7),
                        ];
                        let byte = table.iter().find(|(k, _)| *k == e).map_or(e, |(_, v)| *v);
                        arg.push(byte);
                        i += 2;
                    }
                    (None, _) => unreachable!(),
                }
            } else {
                arg.push(c);
                i += 1;
            }
        }
        args.push(arg);
    }
}

/// The multibulk encoding of `args`, written out by hand.
fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut wire = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        wire.extend_from_slice(arg);
        wire.extend_from_slice(b"\r\n");
    }
    wire
}

fn command(args: &[&[u8]]) -> Command {
    Command::new(args)
}

// ----- every split ----------------------------------------------------------------------------

/// A stream of multibulk commands (binary, empty and CRLF-holding arguments), inline commands
/// (plain, quoted, with `\n` or `\r\n`), blank lines, `*0` and `*-1` decodes like the reference
/// under every split, byte by byte and whole.
#[test]
fn commands_match_reference_under_all_splits() {
    let mut stream = Vec::new();
    stream.extend(multibulk(&[b"SET", b"key", b"value"]));
    stream.extend(multibulk(&[b"GET", b""]));
    stream.extend(b"*0\r\n*-1\r\n");
    stream.extend(multibulk(&[b"ECHO", b"line\r\nbreak\0\xff"]));
    stream.extend(b"PING\r\n\r\n   \n");
    stream.extend(br#"set "a b" 'it\'s' "\x41\n"  x"#);
    stream.extend(b"\n");
    stream.extend(multibulk(&[&b"X"[..]; 12]));
    stream.extend(b"get k\n");
    let limits = Limits::ROOMY;
    let expected = reference(&stream, limits);
    assert_eq!(
        expected,
        Outcome::frames([
            command(&[b"SET", b"key", b"value"]),
            command(&[b"GET", b""]),
            command(&[b"ECHO", b"line\r\nbreak\0\xff"]),
            command(&[b"PING"]),
            command(&[b"set", b"a b", b"it's", b"A\n", b"x"]),
            command(&[&b"X"[..]; 12]),
            command(&[b"get", b"k"]),
        ])
    );
    check_all_splits(|| limits.codec(), &stream, &expected);
}

/// Commands cut off at every point of their last command end as truncated, never as a frame.
#[test]
fn truncated_stream_is_reported_under_all_splits() {
    let whole = [multibulk(&[b"SET", b"k", b"v"]), b"PING".to_vec()];
    for stream in whole {
        for cut in 1..stream.len() {
            let expected = Outcome {
                events: vec![],
                fatal: Some(Fatal::Truncated),
            };
            assert_eq!(reference(&stream[..cut], Limits::ROOMY), expected);
            check_all_splits(|| Limits::ROOMY.codec(), &stream[..cut], &expected);
        }
    }
}

/// Malformed headers, missing line ends and unbalanced quotes fail at the same command under
/// every split, after the commands before them.
#[test]
fn malformed_input_fails_in_place_under_all_splits() {
    let cases: [&[u8]; 12] = [
        b"*2\r\n$3\r\nGET\r\n:3\r\nkey\r\n",
        b"*x\r\n",
        b"*01\r\n",
        b"*1\n$1\r\na\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$+1\r\na\r\n",
        b"*1\r\n$1\ra\r\n",
        b"*1\r\n$1\r\nabc\r\n",
        b"*1\r\n$1\r\na\n\r",
        b"get \"abc\r\n",
        b"get 'a'b\n",
        b"*2000\r\n",
    ];
    for bad in cases {
        let mut stream = b"PING\r\n".to_vec();
        stream.extend_from_slice(bad);
        let expected = Outcome {
            events: vec![Event::Frame(command(&[b"PING"]))],
            fatal: Some(Fatal::Invalid),
        };
        assert_eq!(reference(&stream, Limits::ROOMY), expected, "{bad:?}");
        check_all_splits(|| Limits::ROOMY.codec(), &stream, &expected);
    }
}

/// Small limits: lines and commands at the limit pass, one byte over fails, with the same
/// error under every split as the reference (including which limit is reported first).
#[test]
fn limits_at_the_edge_under_all_splits() {
    let mut rng = XorShift(0x005E_ED0F_4E57);
    for frame in [0, 1, 5, 12, 20, 40] {
        for inline in [0, 1, 4, 8, 30] {
            let limits = Limits {
                frame,
                bulk: 6,
                array: 3,
                inline,
            };
            let mut stream = Vec::new();
            for _ in 0..6 {
                match rng.below(4) {
                    0 => {
                        let n = rng.below(5);
                        let args: Vec<Vec<u8>> = (0..n)
                            .map(|_| {
                                let len = rng.below(9);
                                rng.bytes_from(b"ab\r\n", len)
                            })
                            .collect();
                        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        stream.extend(multibulk(&refs));
                    }
                    1 => {
                        let len = rng.below(12);
                        stream.extend(rng.bytes_from(b"ab ", len));
                        stream.extend_from_slice(if rng.below(2) == 0 { b"\n" } else { b"\r\n" });
                    }
                    2 => stream.extend(format!("*{}\r\n", rng.below(5)).as_bytes()),
                    _ => stream.extend(format!("${}\r\n", rng.below(8)).as_bytes()),
                }
            }
            let expected = reference(&stream, limits);
            check_all_splits(|| limits.codec(), &stream, &expected);
        }
    }
}

/// Long commands fed one byte at a time are scanned once: 100,000 arguments (about 1 MB), and
/// a 1 MiB inline line, each take a fraction of a second, where rescanning the command (or the
/// line) on each byte would take hours.
#[test]
fn long_commands_byte_by_byte_are_linear() {
    let args: Vec<Vec<u8>> = (0..100_000).map(|i| format!("{i}").into_bytes()).collect();
    let command = Command::new(args);
    let mut wire = Vec::new();
    command.encode(&mut wire);
    let mut codec = RespCodec::new(4 << 20);
    let limit = Duration::from_secs(20);
    assert_eq!(byte_by_byte_within(&mut codec, &wire, limit), [command]);

    let mut line = b"ECHO ".to_vec();
    line.resize(1 << 20, b'x');
    line.extend_from_slice(b"\r\n");
    let mut codec = RespCodec::new(4 << 20).with_max_inline(2 << 20);
    let commands = byte_by_byte_within(&mut codec, &line, limit);
    assert_eq!(commands.len(), 1);
    assert_eq!(commands[0][1].len(), (1 << 20) - 5);
}

// ----- Redis's wording ----------------------------------------------------------------------

/// Each protocol error carries Redis's own text, ready for `-ERR <text>`.
#[test]
fn errors_use_redis_wording() {
    let cases: [(&[u8], &str); 10] = [
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*1048577\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$536870913\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*1\r\nx", "Protocol error: expected '$', got 'x'"),
        (b"*1\r\n\n", "Protocol error: expected '$', got '\\x0a'"),
        (
            b"get \"a\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"*1\r\n$1\r\naXY",
            "Protocol error: expected CRLF after bulk string",
        ),
        (
            b"*2\r\n$1\r\na\r\n$1\r\nb\rX",
            "Protocol error: expected CRLF after bulk string",
        ),
        (b"*1\r\n$1\n", "Protocol error: invalid bulk length"),
    ];
    for (input, want) in cases {
        let mut codec = RespCodec::new(1 << 30);
        assert_eq!(invalid_text(&mut codec, input), want, "{input:?}");
    }
}

/// Lines with no end in sight fail with Redis's `too big` errors once they pass 64 KiB.
#[test]
fn endless_lines_use_redis_wording() {
    for (start, want) in [
        (&b""[..], "Protocol error: too big inline request"),
        (b"*", "Protocol error: too big mbulk count string"),
        (b"*1\r\n$", "Protocol error: too big bulk count string"),
    ] {
        let mut input = start.to_vec();
        input.resize(start.len() + RespCodec::DEFAULT_MAX_INLINE + 1, b'7');
        let mut codec = RespCodec::new(1 << 30);
        assert_eq!(invalid_text(&mut codec, &input), want);
    }
}

/// Redis's defaults, and a constructor argument under 512 MiB bounding arguments too.
#[test]
fn default_limits() {
    let codec = RespCodec::new(1 << 30);
    assert_eq!(codec.max_frame_length(), 1 << 30);
    assert_eq!(codec.max_bulk(), 512 << 20);
    assert_eq!(codec.max_array(), 1_048_576);
    assert_eq!(codec.max_inline(), 64 << 10);
    assert_eq!(RespCodec::new(1000).max_bulk(), 1000);
}

// ----- hostile input ------------------------------------------------------------------------

/// A bulk length of 10^18 under a 1 GiB codec is refused as soon as its line ends, nothing is
/// allocated for it, and its bytes are left where they were.
#[test]
fn huge_bulk_length_refused_without_allocating() {
    let mut codec = RespCodec::new(1 << 30);
    let mut src = ReadBuf::with_capacity(64);
    src.extend_from_slice(b"*1\r\n$1000000000000000000\r\n");
    let capacity = src.capacity();
    assert!(matches!(
        codec.decode(&mut src),
        Err(CodecError::Invalid(_))
    ));
    assert_eq!(src.capacity(), capacity);
    assert_eq!(src.len(), 26);
}

/// A length under the argument limit but over the command limit is refused at its header,
/// before any of its bytes are waited for.
#[test]
fn bulk_over_the_command_limit_refused_at_its_header() {
    let mut codec = RespCodec::new(1000).with_max_bulk(5000);
    let mut src = ReadBuf::from(&b"*1\r\n$2000\r\n"[..]);
    assert_eq!(
        codec.decode(&mut src),
        Err(CodecError::FrameTooLong {
            len: 2013,
            max: 1000
        })
    );
}

/// A count of 1,048,576 arguments is accepted and waits for them; one more is refused.
#[test]
fn array_count_at_the_limit() {
    let mut codec = RespCodec::new(1 << 30);
    let mut src = ReadBuf::from(&b"*1048576\r\n"[..]);
    assert_eq!(codec.decode(&mut src), Ok(None));
    let mut codec = RespCodec::new(1 << 30);
    let mut src = ReadBuf::from(&b"*1048577\r\n"[..]);
    assert!(codec.decode(&mut src).is_err());
}

/// Redis's "protocol desync" regression: `\0`, `*\0` and `$\0` followed by an endless stream
/// of 1 KiB lines (with no valid end) end in a protocol error within about 64 KiB.
#[test]
fn protocol_desync_fails_fast() {
    for start in [&b"\0"[..], b"*\0", b"$\0"] {
        let mut codec = RespCodec::new(1 << 30);
        let mut src = ReadBuf::new();
        src.extend_from_slice(start);
        let mut fed = 0;
        let error = loop {
            src.extend_from_slice(&[b'A'; 1024]);
            fed += 1024;
            match codec.decode(&mut src) {
                Ok(None) => assert!(fed < 1 << 20, "{start:?}: still waiting after {fed}"),
                Ok(Some(c)) => panic!("{start:?}: decoded {c:?}"),
                Err(e) => break e,
            }
        };
        assert!(error.to_string().contains("Protocol error"), "{error}");
        assert!(fed <= RespCodec::DEFAULT_MAX_INLINE + 2048);
    }
}

/// Ten thousand commands exactly at the command limit all pass, whatever the chunking; one
/// byte less and the first is refused.
#[test]
fn many_commands_at_the_limit() {
    let one = multibulk(&[b"SET", b"k", b"0123456789abcdef"]);
    assert_eq!(one.len(), 43);
    let mut stream = Vec::new();
    for _ in 0..10_000 {
        stream.extend_from_slice(&one);
    }
    let mut codec = RespCodec::new(43);
    let outcome = decode_chunks(&mut codec, stream.chunks(4096));
    assert_eq!(outcome.fatal, None);
    assert_eq!(outcome.events.len(), 10_000);
    let mut codec = RespCodec::new(42);
    let outcome = decode_chunks(&mut codec, stream.chunks(4096));
    assert_eq!(outcome.fatal, Some(Fatal::TooLong));
}

// ----- encoding -------------------------------------------------------------------------------

/// Every reply type encodes as Redis writes it.
#[test]
fn replies_encode_like_redis() {
    let mut codec = RespCodec::new(1024);
    let mut out = Vec::new();
    for reply in [
        Reply::OK,
        Reply::simple(String::from("PONG")),
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Reply::Integer(-42),
        Reply::bulk(&b"a\r\nb"[..]),
        Reply::Bulk(Vec::new()),
        Reply::Null,
        Reply::Array(vec![]),
        Reply::Array(vec![Reply::Array(vec![Reply::Integer(1)]), Reply::Null]),
        Reply::NullArray,
    ] {
        codec.encode(reply, &mut out).unwrap();
    }
    let want: &[u8] = b"+OK\r\n+PONG\r\n\
        -WRONGTYPE Operation against a key holding the wrong kind of value\r\n\
        :-42\r\n$4\r\na\r\nb\r\n$0\r\n\r\n$-1\r\n*0\r\n*2\r\n*1\r\n:1\r\n$-1\r\n*-1\r\n";
    assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(want));
}

/// Reference reply parser: the reply at the front of `s` and its length.
fn parse_reply(s: &[u8]) -> (Reply, usize) {
    let nl = s.iter().position(|&b| b == b'\n').expect("line end");
    assert_eq!(s[nl - 1], b'\r');
    let line = std::str::from_utf8(&s[1..nl - 1]).unwrap();
    let next = nl + 1;
    match s[0] {
        b'+' => (Reply::simple(line.to_string()), next),
        b'-' => (Reply::error(line.to_string()), next),
        b':' => (Reply::Integer(line.parse().unwrap()), next),
        b'$' if line == "-1" => (Reply::Null, next),
        b'$' => {
            let len: usize = line.parse().unwrap();
            assert_eq!(&s[next + len..next + len + 2], b"\r\n");
            (Reply::Bulk(s[next..next + len].to_vec()), next + len + 2)
        }
        b'*' if line == "-1" => (Reply::NullArray, next),
        b'*' => {
            let mut at = next;
            let items = (0..line.parse::<usize>().unwrap())
                .map(|_| {
                    let (item, used) = parse_reply(&s[at..]);
                    at += used;
                    item
                })
                .collect();
            (Reply::Array(items), at)
        }
        other => panic!("unexpected type byte {other}"),
    }
}

/// Strategy for a reply tree of depth at most 3.
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

/// Pieces of a random stream: valid commands, inline lines, and junk.
fn pieces() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(vec(any::<u8>(), 0..12), 1..5).prop_map(|args| {
            let mut wire = Vec::new();
            Command::new(args).encode(&mut wire);
            wire
        }),
        "[a-z \"'\\\\x0-9]{0,16}\r?\n".prop_map(String::into_bytes),
        vec(prop::sample::select(b"*$-019\r\n a\"'\\".to_vec()), 0..8),
    ]
}

/// Chunk sizes.
fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(1usize..48, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random commands (any bytes, empty arguments included), encoded as a client would,
    /// decode back to themselves under random chunking.
    #[test]
    fn commands_round_trip(
        commands in vec(vec(vec(any::<u8>(), 0..40), 1..8), 0..12),
        sizes in sizes(),
    ) {
        let commands: Vec<Command> = commands.into_iter().map(Command::new).collect();
        let mut wire = Vec::new();
        for c in &commands {
            c.encode(&mut wire);
        }
        let outcome = decode_chunks(&mut RespCodec::new(1 << 20), chunks(&wire, &sizes));
        prop_assert_eq!(outcome, Outcome::frames(commands));
    }

    /// Random streams of valid commands, inline lines and junk, under small limits, decode
    /// like the reference under random chunking: the same commands, the same fatal error.
    #[test]
    fn random_streams_match_reference(
        pieces in vec(pieces(), 0..10),
        sizes in sizes(),
        frame in 0usize..120,
        inline in 0usize..40,
        bulk in 0usize..16,
        array in 0usize..6,
    ) {
        let stream = pieces.concat();
        let limits = Limits { frame, bulk, array, inline };
        let outcome = decode_chunks(&mut limits.codec(), chunks(&stream, &sizes));
        prop_assert_eq!(outcome, reference(&stream, limits));
    }

    /// Random replies encode to bytes the reference parser reads back as the same replies;
    /// one containing a line break in a simple string or error is refused, output untouched.
    #[test]
    fn replies_round_trip(replies in vec(replies(), 0..8), broken in "[a-z]{0,3}[\r\n][a-z]{0,3}") {
        let mut codec = RespCodec::new(1024);
        let mut wire = Vec::new();
        for reply in &replies {
            codec.encode(reply.clone(), &mut wire).unwrap();
        }
        let mut at = 0;
        for reply in &replies {
            let (parsed, used) = parse_reply(&wire[at..]);
            prop_assert_eq!(&parsed, reply);
            at += used;
        }
        prop_assert_eq!(at, wire.len());
        let before = wire.clone();
        let bad = Reply::Array(vec![Reply::Integer(1), Reply::error(broken)]);
        prop_assert!(codec.encode(bad, &mut wire).is_err());
        prop_assert_eq!(wire, before);
    }
}
