//! One connection's behaviour, in memory with `TestConnection`; several members talking to each
//! other over real sockets are in `tests/chat.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use turbine::{
    CloseReason, CodecError, Config, Payload, ProxyHeader, ProxyProtocol, ProxyRead, TestConnection,
};

use super::codec::chat_codec;
use super::command::Command;
use super::config::{self, DEFAULT_ADDR, DEFAULT_OUTBUF_LIMIT};
use super::member::Member;
use super::registry::Registry;

/// A member connected to a registry of its own.
fn connect(config: Config) -> (TestConnection<Member>, Arc<Registry>) {
    let registry = Arc::new(Registry::new());
    let conn = TestConnection::with_config(Member::new(Arc::clone(&registry)), config);
    (conn, registry)
}

/// Pushes `input` and returns the lines the server sent back, without their `\n`.
fn exchange(conn: &mut TestConnection<Member>, input: &[u8]) -> Vec<String> {
    conn.push(input);
    lines(conn)
}

/// The lines sent so far and not yet taken.
fn lines(conn: &mut TestConnection<Member>) -> Vec<String> {
    let output = String::from_utf8(conn.take_output()).expect("the server sends UTF-8");
    assert!(output.is_empty() || output.ends_with('\n'), "{output:?}");
    output.lines().map(str::to_string).collect()
}

/// A new member is welcomed as `guest<N>`, and `/help` answers with `* ` lines only.
#[test]
fn welcome_and_help() {
    let (mut conn, _registry) = connect(Config::new());
    assert_eq!(lines(&mut conn), ["* welcome guest1"]);
    let help = exchange(&mut conn, b"/help\n");
    assert!(help.len() > 1, "{help:?}");
    assert!(help.iter().all(|l| l.starts_with("* ")), "{help:?}");
    for command in [
        "/nick", "/join", "/rooms", "/who", "/msg", "/quit", "/help", "//",
    ] {
        assert!(help.iter().any(|l| l.contains(command)), "{command}");
    }
}

/// `/rooms` and `/who` list the member's room, before and after `/join`.
#[test]
fn rooms_and_who() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(exchange(&mut conn, b"/rooms\n"), ["* rooms: lobby(1)"]);
    assert_eq!(exchange(&mut conn, b"/who\n"), ["* in lobby: guest1"]);
    let replies = exchange(&mut conn, b"/join games\n/rooms\n/who\n");
    assert_eq!(
        replies,
        [
            "* you joined games (1 members)",
            "* rooms: games(1)",
            "* in games: guest1"
        ]
    );
    assert_eq!(
        exchange(&mut conn, b"/join games\n"),
        ["! already in games"]
    );
    for bad in [
        "/join\n",
        "/join two words\n",
        "/join caf\u{e9}\n",
        "/join a.b\n",
    ] {
        assert_eq!(
            exchange(&mut conn, bad.as_bytes()),
            ["! invalid room"],
            "{bad}"
        );
    }
}

/// `/who` lists nicks sorted, and `/rooms` rooms sorted by name, whatever order the members
/// came in and the rooms were made in.
#[test]
fn who_and_rooms_are_sorted_not_in_arrival_order() {
    let registry = Arc::new(Registry::new());
    let mut members: Vec<TestConnection<Member>> = ["zed", "amy", "mo"]
        .into_iter()
        .map(|nick| {
            let mut conn =
                TestConnection::with_config(Member::new(Arc::clone(&registry)), Config::new());
            lines(&mut conn);
            let line = format!("/nick {nick}\n");
            assert_eq!(
                exchange(&mut conn, line.as_bytes()),
                [format!("* you are {nick}")]
            );
            conn
        })
        .collect();
    // Each takes the notices of the others' arrivals and renames first.
    members.iter_mut().for_each(|m| drop(lines(m)));
    assert_eq!(
        exchange(&mut members[0], b"/who\n"),
        ["* in lobby: amy mo zed"]
    );
    exchange(&mut members[0], b"/join zoo\n");
    exchange(&mut members[1], b"/join abc\n");
    drop(lines(&mut members[2]));
    assert_eq!(
        exchange(&mut members[2], b"/rooms\n"),
        ["* rooms: abc(1) lobby(1) zoo(1)"]
    );
}

/// `/nick` takes exactly `[A-Za-z0-9_-]{1,32}`, and a member may change the case of its own.
#[test]
fn nick_rules() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(
        exchange(&mut conn, b"/nick Ann_1-x\n"),
        ["* you are Ann_1-x"]
    );
    assert_eq!(
        exchange(&mut conn, b"/nick ANN_1-X\n"),
        ["* you are ANN_1-X"]
    );
    let longest = "n".repeat(32);
    let reply = exchange(&mut conn, format!("/nick {longest}\n").as_bytes());
    assert_eq!(reply, [format!("* you are {longest}")]);
    for bad in [
        "/nick\n",
        "/nick \n",
        "/nick a b\n",
        "/nick a!\n",
        "/nick \u{e9}\n",
    ] {
        assert_eq!(
            exchange(&mut conn, bad.as_bytes()),
            ["! invalid nick"],
            "{bad}"
        );
    }
    let too_long = format!("/nick {}\n", "n".repeat(33));
    assert_eq!(exchange(&mut conn, too_long.as_bytes()), ["! invalid nick"]);
    assert_eq!(
        exchange(&mut conn, b"/who\n"),
        [format!("* in lobby: {longest}")]
    );
}

/// A PROXY header as the listener reads it from a balancer at 10.0.0.2: `bytes` hold exactly
/// one.
pub(super) fn proxy_header(bytes: &[u8]) -> ProxyHeader {
    let balancer = "10.0.0.2:40000".parse().unwrap();
    match ProxyHeader::parse(bytes, ProxyProtocol::Any, balancer) {
        ProxyRead::Complete { header, len } if len == bytes.len() => header,
        other => panic!("not one whole header: {other:?}"),
    }
}

/// The v2 LOCAL header of a health check (HAProxy's `check-send-proxy`): signature, version 2
/// and command LOCAL, family UNSPEC, no addresses.
pub(super) fn health_check() -> ProxyHeader {
    proxy_header(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00")
}

/// A connection that starts with a LOCAL PROXY header is a balancer's health check: it is
/// closed at once with nothing said, takes no guest number, and no member hears of it; a
/// client the balancer names is welcomed as usual.
#[test]
fn health_check_is_not_a_member() {
    let (mut ann, registry) = connect(Config::new());
    assert_eq!(lines(&mut ann), ["* welcome guest1"]);
    let mut check = TestConnection::proxied(
        Member::new(Arc::clone(&registry)),
        Config::new(),
        health_check(),
    );
    assert_eq!(check.take_output(), b"");
    assert_eq!(check.close_reason(), Some(&CloseReason::Closed));
    // What a health check might send after its header is not read as a member's line.
    check.push(b"hello\n");
    assert!(lines(&mut ann).is_empty());
    assert_eq!(registry.rooms_line(), "* rooms: lobby(1)");
    let client = proxy_header(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 7879\r\n");
    let mut bob =
        TestConnection::proxied(Member::new(Arc::clone(&registry)), Config::new(), client);
    assert_eq!(lines(&mut bob), ["* welcome guest2"]);
    assert_eq!(lines(&mut ann), ["* guest2 joined lobby"]);
}

/// Unknown commands are named back; `//` escapes a leading slash into the room (where nobody
/// else is), and an empty line is ignored.
#[test]
fn unknown_commands_escape_and_empty_lines() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(
        exchange(&mut conn, b"/dance now\n/\n/NICK x\n"),
        [
            "! unknown command /dance",
            "! unknown command /",
            "! unknown command /NICK"
        ]
    );
    assert!(exchange(&mut conn, b"//not a command\nplain text\n\n\r\n").is_empty());
    assert!(!conn.is_closed());
    assert_eq!(Command::parse("//x y"), Command::Say("/x y"));
    assert_eq!(Command::parse("//"), Command::Say("/"));
    assert_eq!(
        Command::parse("/msg a b c"),
        Command::Msg {
            to: "a",
            text: "b c"
        }
    );
}

/// A private message to oneself comes back through the connection's handle; an unknown nick is
/// an error.
#[test]
fn private_messages() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(
        exchange(&mut conn, b"/msg GUEST1 hi  there\n"),
        ["guest1 (private): hi  there"]
    );
    assert_eq!(
        exchange(&mut conn, b"/msg nobody hi\n"),
        ["! no such nick nobody"]
    );
}

/// A line that is not UTF-8 is reported and dropped; the connection stays open and goes on.
#[test]
fn invalid_utf8_keeps_the_connection() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(
        exchange(&mut conn, b"caf\xe9\n\xff\xfe\r\n/who\n"),
        ["! invalid utf-8", "! invalid utf-8", "* in lobby: guest1"]
    );
    assert!(!conn.is_closed());
}

/// A line over `TURBINE_MAX_FRAME` is answered `! line too long` as soon as the limit is passed,
/// before its `\n`, and the connection closes; the member leaves the registry.
#[test]
fn too_long_line_closes() {
    let (mut conn, registry) = connect(Config::new().max_frame(16));
    lines(&mut conn);
    assert!(exchange(&mut conn, b"/who\n0123456789abcdef").len() == 1);
    assert!(!conn.is_closed(), "16 bytes are allowed");
    assert_eq!(exchange(&mut conn, b"g"), ["! line too long"]);
    assert!(matches!(
        conn.close_reason(),
        Some(CloseReason::Decode(CodecError::FrameTooLong {
            max: 16,
            ..
        }))
    ));
    assert!(registry.members("lobby").is_empty());
    assert_eq!(registry.rooms_line(), "* rooms:");
}

/// `/quit` says `* bye` and closes; nothing after it is answered, and the member is gone.
#[test]
fn quit() {
    let (mut conn, registry) = connect(Config::new());
    lines(&mut conn);
    assert_eq!(exchange(&mut conn, b"/quit\n/who\n"), ["* bye"]);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
    assert!(registry.find("guest1").is_none());
    assert!(registry.members("lobby").is_empty());
}

/// A broadcast that would take the member past its write limit drops its unsent output, sends
/// `! too slow` and closes it.
#[test]
fn overflow_cuts_off() {
    let config = Config::new()
        .write_low_watermark(256)
        .write_high_watermark(512)
        .write_limit(1024);
    let (mut conn, registry) = connect(config);
    lines(&mut conn);
    // The member stops reading: what the room sends waits in the server.
    conn.set_peer_window(Some(0));
    let waiting = Payload::encode(&mut chat_codec(4096), vec![b'w'; 600]).unwrap();
    assert_eq!(registry.members("lobby").send(None, &waiting), 1);
    conn.deliver();
    assert_eq!(conn.output_len(), 601);
    let line = Payload::encode(&mut chat_codec(4096), vec![b'x'; 600]).unwrap();
    assert_eq!(registry.members("lobby").send(None, &line), 1);
    conn.deliver();
    conn.set_peer_window(None);
    assert_eq!(lines(&mut conn), ["! too slow"]);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Overflow));
    assert!(registry.members("lobby").is_empty());
}

/// Commands split at every byte give the same replies as in one piece.
#[test]
fn any_chunking() {
    let input = b"/nick ann\r\n/who\n\xff\n/join x\n";
    let want = [
        "* you are ann",
        "* in lobby: ann",
        "! invalid utf-8",
        "* you joined x (1 members)",
    ];
    for split in 0..=input.len() {
        let (mut conn, _registry) = connect(Config::new());
        lines(&mut conn);
        conn.push(&input[..split]);
        conn.push(&input[split..]);
        assert_eq!(lines(&mut conn), want, "split at {split}");
    }
}

/// The chat's own defaults, overridden by the environment; `CHAT_OUTBUF_LIMIT` sets the write
/// limit and pulls the watermarks under it.
#[test]
fn configuration() {
    fn from(vars: &[(&str, &str)]) -> Result<Config, turbine::ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::from_vars(|name| vars.get(name).cloned())
    }
    let c = from(&[]).unwrap();
    // The spec's own figures, not only the constants: 127.0.0.1:7879, 4 MiB, 64 KiB.
    assert_eq!(
        c.addr,
        "127.0.0.1:7879".parse::<std::net::SocketAddr>().unwrap()
    );
    assert_eq!((c.write_limit, c.max_frame), (4 << 20, 64 << 10));
    assert_eq!(
        (c.addr, c.write_limit),
        (DEFAULT_ADDR, DEFAULT_OUTBUF_LIMIT)
    );
    let c = from(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_WRITE_LIMIT", "2MiB"),
    ])
    .unwrap();
    assert_eq!((c.addr.port(), c.write_limit), (0, 2 << 20));
    let c = from(&[
        ("CHAT_OUTBUF_LIMIT", "1MiB"),
        ("TURBINE_WRITE_LIMIT", "2MiB"),
    ])
    .unwrap();
    assert_eq!(c.write_limit, 1 << 20);
    let c = from(&[
        ("TURBINE_MAX_FRAME", "1KiB"),
        ("CHAT_OUTBUF_LIMIT", " 16kib "),
    ])
    .unwrap();
    assert_eq!(c.write_limit, 16 << 10);
    assert_eq!(c.write_high_watermark, 16 << 10);
    assert_eq!(c.write_low_watermark, 16 << 10);
    assert!(c.validate().is_ok());
    for bad in [
        "",
        "4MB",
        "-1",
        "1.5MiB",
        "abc",
        "2GiB",
        "65536",
        "99999999999999999999GiB",
    ] {
        let err = from(&[("CHAT_OUTBUF_LIMIT", bad)]).unwrap_err();
        assert_eq!((err.var, err.value.as_str()), ("CHAT_OUTBUF_LIMIT", bad));
    }
    assert_eq!(
        from(&[("TURBINE_REACTORS", "0")]).unwrap_err().var,
        "TURBINE_REACTORS"
    );
}

/// `guest<N>` stays unique on the server: a number whose nick a member already took by hand
/// is skipped.
#[test]
fn guest_number_skips_a_nick_taken_by_hand() {
    let (mut ann, registry) = connect(Config::new());
    assert_eq!(lines(&mut ann), ["* welcome guest1"]);
    assert_eq!(exchange(&mut ann, b"/nick GUEST2\n"), ["* you are GUEST2"]);
    let mut bob = TestConnection::with_config(Member::new(Arc::clone(&registry)), Config::new());
    assert_eq!(lines(&mut bob), ["* welcome guest3"]);
    assert_eq!(lines(&mut ann), ["* guest3 joined lobby"]);
}

/// Room names are exactly `[A-Za-z0-9_-]{1,32}`: 32 such characters make a room, 33 do not.
#[test]
fn room_name_rules() {
    let (mut conn, _registry) = connect(Config::new());
    lines(&mut conn);
    let longest = format!("R_-{}", "9".repeat(29));
    assert_eq!(
        exchange(&mut conn, format!("/join {longest}\n").as_bytes()),
        [format!("* you joined {longest} (1 members)")]
    );
    let too_long = format!("/join {}\n", "r".repeat(33));
    assert_eq!(exchange(&mut conn, too_long.as_bytes()), ["! invalid room"]);
    assert_eq!(
        exchange(&mut conn, b"/who\n"),
        [format!("* in {longest}: guest1")]
    );
}
