//! Cluster mode's pieces in memory: the events between instances (round trips, and input cut
//! short or garbled anywhere), snapshot replies of any shape, the mirror's notices, the
//! settings, a member whose instance has no link, and the subscriber fed pushes split at
//! every byte. Several instances on a real Redis are in `tests/chat_cluster.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use turbine::{Config, TestConnection, Value};

use super::cluster::Cluster;
use super::config::{self, ClusterSettings, DEFAULT_CLUSTER_TTL};
use super::feed::Feed;
use super::member::Member;
use super::registry::{Registry, Target};
use super::tests::health_check;
use super::wire::{Event, Place, StreamState, is_stream, parse_snapshot};

/// A stream of another instance.
const OTHER: &str = "00000000000000aa.1";

/// The lines sent to `conn` so far and not yet taken, mailbox deliveries included.
fn lines<H: turbine::Handler>(conn: &mut TestConnection<H>) -> Vec<String> {
    conn.deliver();
    let output = String::from_utf8(conn.take_output()).expect("the server sends UTF-8");
    output.lines().map(str::to_string).collect()
}

/// Cluster mode with `ttl`, for a registry, never started (so without a link).
fn cluster(registry: &Arc<Registry>, ttl: Duration) -> Arc<Cluster> {
    let settings = ClusterSettings {
        redis: "127.0.0.1:1".parse().unwrap(),
        ttl,
    };
    Arc::new(Cluster::new(settings, Arc::clone(registry), 1))
}

/// A payload pushed to a subscriber: `*3 message <channel> <payload>` in RESP.
fn push(channel: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n",
        channel.len(),
        payload.len()
    )
    .into_bytes();
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// One event of each kind.
fn samples() -> Vec<Event<'static>> {
    let ann = Place {
        nick: "ann",
        room: "lobby",
    };
    vec![
        Event::Update {
            stream: OTHER,
            seq: 7,
            member: 42,
            place: Some(ann),
        },
        Event::Update {
            stream: OTHER,
            seq: 8,
            member: 42,
            place: None,
        },
        Event::Reset {
            stream: OTHER,
            seq: 9,
            members: vec![
                (1, ann),
                (
                    2,
                    Place {
                        nick: "Bob-2",
                        room: "x_y",
                    },
                ),
            ],
        },
        Event::Reset {
            stream: OTHER,
            seq: 10,
            members: vec![],
        },
        Event::Say {
            stream: OTHER,
            room: "lobby",
            nick: "ann",
            text: "hello  there \r /x",
        },
        Event::Say {
            stream: OTHER,
            room: "lobby",
            nick: "ann",
            text: "",
        },
        Event::Private {
            member: 3,
            nick: "BOB",
            from: "ann",
            text: "psst: \u{e9}",
        },
        Event::Alive { stream: OTHER },
    ]
}

/// Every event decodes to itself.
#[test]
fn events_round_trip() {
    for event in samples() {
        let payload = event.encode();
        assert_eq!(Event::decode(&payload), Some(event.clone()), "{payload:?}");
    }
    assert!(is_stream(OTHER));
    for bad in [
        "",
        "0.1",
        "00000000000000AA.1",
        "00000000000000aa.",
        "00000000000000aa.x",
    ] {
        assert!(!is_stream(bad), "{bad}");
    }
}

/// A payload cut short anywhere, or with any byte changed, never panics; what still decodes
/// is an event that encodes back to the same bytes. Lines that would forge a line to a member
/// (a `\n`), bad names and signed numbers are refused.
#[test]
fn events_cut_or_garbled_are_dropped() {
    let garbage: [u8; 8] = [b' ', b'\n', 0xff, b'0', b'-', b'+', b'.', b'a'];
    for event in samples() {
        let payload = event.encode();
        for cut in 0..=payload.len() {
            let part = &payload[..cut];
            if let Some(decoded) = Event::decode(part) {
                assert_eq!(decoded.encode(), part, "{part:?}");
            }
        }
        for at in 0..payload.len() {
            for byte in garbage {
                let mut changed = payload.clone();
                changed[at] = byte;
                if let Some(decoded) = Event::decode(&changed) {
                    assert_eq!(decoded.encode(), changed, "{changed:?}");
                }
            }
        }
    }
    for bad in [
        "S 00000000000000aa.1 lobby ann two\nlines",
        "U 00000000000000aa.1 +1 4 ann lobby",
        "U 00000000000000aa.1 1 4 ann lobby extra",
        "U 00000000000000aa.1 1 4 an!n lobby",
        "G 00000000000000aa.1 1",
        "R 00000000000000aa.1 1 4 ann",
        "P 3 bob",
        "H",
        "X 00000000000000aa.1",
        "U 00000000000000aa.1 99999999999999999999 4 ann lobby",
    ] {
        assert_eq!(Event::decode(bad.as_bytes()), None, "{bad:?}");
    }
    assert_eq!(
        Event::decode(b"S 00000000000000aa.1 lobby ann caf\xe9"),
        None
    );
}

/// A snapshot reply is read stream by stream: odd members and streams are skipped, a reply of
/// another shape is refused.
#[test]
fn snapshot_replies() {
    let bulk = |s: &str| Value::bulk(s.as_bytes());
    let reply = Value::Array(vec![
        bulk(OTHER),
        Value::Array(vec![
            bulk("seq"),
            bulk("12"),
            bulk("5"),
            bulk("ann lobby"),
            bulk("6"),
            bulk("bad nick!"),
            bulk("x"),
            bulk("bob lobby"),
        ]),
        bulk("not-a-stream"),
        Value::Array(vec![bulk("seq"), bulk("1")]),
        bulk("00000000000000bb.0"),
        Value::Array(vec![bulk("5"), bulk("no seq lobby")]),
        bulk("00000000000000cc.0"),
        Value::Integer(3),
    ]);
    assert_eq!(
        parse_snapshot(&reply),
        Some(vec![StreamState {
            stream: OTHER.to_string(),
            seq: 12,
            members: vec![(5, "ann".to_string(), "lobby".to_string())],
        }])
    );
    assert_eq!(parse_snapshot(&Value::Array(vec![])), Some(vec![]));
    assert_eq!(parse_snapshot(&Value::error("ERR no script")), None);
    assert_eq!(parse_snapshot(&Value::Array(vec![bulk(OTHER)])), None);
}

/// Remote members join, rename, move and leave: local members of the rooms concerned hear of
/// it as they would of a local member; `/who`, `/rooms` and `/msg` see them; an event older
/// than what is known changes nothing; a reset tells only the difference; a silent stream's
/// members are shown as left.
#[test]
fn mirror_notices() {
    let registry = Arc::new(Registry::new());
    let mut local = TestConnection::new(Member::new(Arc::clone(&registry)));
    assert_eq!(lines(&mut local), ["* welcome guest1"]);
    let start = Instant::now();
    let ann = |room| Place { nick: "ann", room };
    let update = |seq, place| registry.update_remote((OTHER, seq), 4, place, start);
    let tell = |notices: Vec<super::room::Notice>, conn: &mut TestConnection<Member>| {
        let mut wire = super::codec::chat_codec(usize::MAX);
        notices.iter().for_each(|n| n.send(&mut wire));
        lines(conn)
    };
    assert_eq!(
        tell(update(1, Some(ann("lobby"))), &mut local),
        ["* ann joined lobby"]
    );
    assert_eq!(registry.who_line("lobby"), "* in lobby: ann guest1");
    assert!(matches!(registry.target("ANN"), Some(Target::Remote(id)) if id.member == 4));
    let zoe = Place {
        nick: "zoe",
        room: "lobby",
    };
    assert_eq!(tell(update(2, Some(zoe)), &mut local), ["* ann is now zoe"]);
    assert!(
        tell(update(2, Some(ann("games"))), &mut local).is_empty(),
        "stale"
    );
    let games = Place {
        nick: "zoe",
        room: "games",
    };
    assert_eq!(
        tell(update(3, Some(games)), &mut local),
        ["* zoe left lobby"]
    );
    assert_eq!(registry.rooms_line(), "* rooms: games(1) lobby(1)");
    let back = vec![(4, zoe), (9, ann("lobby"))];
    let reset = registry.reset_remote((OTHER, 5), back, start);
    assert_eq!(
        tell(reset, &mut local),
        ["* zoe joined lobby", "* ann joined lobby"]
    );
    assert_eq!(registry.rooms_line(), "* rooms: lobby(3)");
    // A local member cannot take a remote member's nick.
    local.push(b"/nick ZOE\n");
    assert_eq!(lines(&mut local), ["! nick ZOE is taken"]);
    registry.heard(OTHER, start + Duration::from_secs(5));
    assert!(registry.expire(start + Duration::from_secs(5)).is_empty());
    let expired = registry.expire(start + Duration::from_secs(6));
    let mut left = tell(expired, &mut local);
    left.sort();
    assert_eq!(left, ["* ann left lobby", "* zoe left lobby"]);
    assert_eq!(registry.rooms_line(), "* rooms: lobby(1)");
    assert!(registry.target("zoe").is_none());
}

/// `CHAT_REDIS` turns cluster mode on; `CHAT_CLUSTER_TTL` sets the entries' lifetime within
/// 1s..=12s, and is checked even without `CHAT_REDIS`.
#[test]
fn cluster_configuration() {
    fn from(vars: &[(&str, &str)]) -> Result<Option<ClusterSettings>, turbine::ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::cluster_from_vars(|name| vars.get(name).cloned())
    }
    assert_eq!(from(&[]).unwrap(), None);
    let settings = from(&[("CHAT_REDIS", " 127.0.0.1:6379 ")])
        .unwrap()
        .unwrap();
    assert_eq!(settings.redis, "127.0.0.1:6379".parse().unwrap());
    assert_eq!(settings.ttl, DEFAULT_CLUSTER_TTL);
    let settings = from(&[("CHAT_REDIS", "[::1]:7000"), ("CHAT_CLUSTER_TTL", "2500ms")]);
    assert_eq!(settings.unwrap().unwrap().ttl, Duration::from_millis(2500));
    for bad in [
        "",
        "localhost:6379",
        "127.0.0.1",
        "127.0.0.1:99999",
        "redis://127.0.0.1:6379",
    ] {
        let err = from(&[("CHAT_REDIS", bad)]).unwrap_err();
        assert_eq!((err.var, err.value.as_str()), ("CHAT_REDIS", bad));
    }
    for bad in ["", "0s", "999ms", "13s", "1m", "soon", "5"] {
        let err = from(&[("CHAT_CLUSTER_TTL", bad)]).unwrap_err();
        assert_eq!((err.var, err.value.as_str()), ("CHAT_CLUSTER_TTL", bad));
    }
}

/// An instance whose link to Redis is down serves its own members as one alone would: guest
/// nicks of its own, `/nick` checked against the members it knows (remote ones included),
/// room messages to its members, and a private message to a remote member dropped, as room
/// messages to other instances are.
#[test]
fn unlinked_member_is_served_locally() {
    let registry = Arc::new(Registry::new());
    let cluster = cluster(&registry, DEFAULT_CLUSTER_TTL);
    let ann = Place {
        nick: "guest7",
        room: "lobby",
    };
    let _ = registry.update_remote((OTHER, 1), 4, Some(ann), Instant::now());
    let connect = || {
        let member = Member::clustered(Arc::clone(&registry), Arc::clone(&cluster));
        TestConnection::with_config(member, Config::new())
    };
    let mut one = connect();
    // Above every guest number known, remote ones included.
    assert_eq!(lines(&mut one), ["* welcome guest8"]);
    let mut two = connect();
    assert_eq!(lines(&mut two), ["* welcome guest9"]);
    assert_eq!(lines(&mut one), ["* guest9 joined lobby"]);
    one.push(b"/nick GUEST7\n/nick ann\nhi\n/msg guest7 psst\n/who\n");
    assert_eq!(
        lines(&mut one),
        [
            "! nick GUEST7 is taken",
            "* you are ann",
            "* in lobby: ann guest7 guest9"
        ]
    );
    assert_eq!(lines(&mut two), ["* guest8 is now ann", "ann: hi"]);
    one.push(b"/quit\n");
    assert_eq!(lines(&mut one), ["* bye"]);
    assert_eq!(lines(&mut two), ["* ann left lobby"]);
}

/// In cluster mode too, a balancer's health check (a LOCAL PROXY header) is closed with
/// nothing said and takes no guest number: the next member gets the one it would have had.
#[test]
fn health_check_takes_no_guest_number() {
    let registry = Arc::new(Registry::new());
    let cluster = cluster(&registry, DEFAULT_CLUSTER_TTL);
    let member = || Member::clustered(Arc::clone(&registry), Arc::clone(&cluster));
    let mut one = TestConnection::new(member());
    assert_eq!(lines(&mut one), ["* welcome guest1"]);
    let mut check = TestConnection::proxied(member(), Config::new(), health_check());
    assert!(lines(&mut check).is_empty());
    assert!(check.is_closed());
    let mut two = TestConnection::new(member());
    assert_eq!(lines(&mut two), ["* welcome guest2"]);
    assert_eq!(lines(&mut one), ["* guest2 joined lobby"]);
    assert_eq!(registry.rooms_line(), "* rooms: lobby(2)");
}

/// The subscriber applies events pushed to it cut at every byte, ignores garbled payloads and
/// its own instance's events, hands room and private messages to the local members, and shows
/// the members of a stream that falls silent as left.
#[test]
fn feed_applies_pushes_split_anywhere() {
    let ttl = Duration::from_secs(2);
    let registry = Arc::new(Registry::new());
    let cluster = cluster(&registry, ttl);
    let own = format!("{}.0", cluster.instance());
    let mut local = TestConnection::new(Member::new(Arc::clone(&registry)));
    assert_eq!(lines(&mut local), ["* welcome guest1"]);
    let serial = local.handle().id().serial();
    let mut feed = TestConnection::connecting(Feed::in_sync(Arc::clone(&cluster)));
    feed.connected();
    let subscribe = feed.take_output();
    assert!(
        subscribe.starts_with(b"*3\r\n$9\r\nSUBSCRIBE\r\n"),
        "{subscribe:?}"
    );
    let mut input = Vec::new();
    for payload in [
        format!("U {OTHER} 1 4 zoe lobby").into_bytes(),
        b"U garbled".to_vec(),
        b"\xff\xfe".to_vec(),
        format!("S {OTHER} lobby zoe two\nlines").into_bytes(),
        format!("S {OTHER} lobby zoe hi all").into_bytes(),
        format!("U {own} 1 9 ghost lobby").into_bytes(),
        format!("S {own} lobby ghost boo").into_bytes(),
    ] {
        input.extend(push("chat:events", &payload));
    }
    input.extend(push(
        "chat:to:x",
        format!("P {serial} GUEST1 zoe psst").as_bytes(),
    ));
    input.extend(push("chat:to:x", b"P 999 guest1 zoe not you"));
    for byte in &input {
        feed.push(std::slice::from_ref(byte));
    }
    assert!(!feed.is_closed());
    assert_eq!(
        lines(&mut local),
        ["* zoe joined lobby", "zoe: hi all", "zoe (private): psst"]
    );
    assert_eq!(registry.who_line("lobby"), "* in lobby: guest1 zoe");
    // Silence: the stream's members leave once a TTL has passed; pings are answered.
    let pong = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n";
    for _ in 0..30 {
        feed.advance(Duration::from_millis(100));
        feed.push(pong);
    }
    assert!(!feed.is_closed());
    assert_eq!(lines(&mut local), ["* zoe left lobby"]);
    // Bytes that are not RESP end the connection, and nothing else.
    feed.push(b"?what\r\n");
    assert!(feed.is_closed());
}
