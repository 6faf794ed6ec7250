//! The chat example (`examples/chat/`) over real sockets on loopback, with four reactors (and
//! one and sixteen for the commands): every command and error line of the chat protocol between
//! members, fan-out to a large room in order, a member that stops reading, concurrent `/nick`,
//! and one payload held once for a thousand members.
//!
//! The example's modules are compiled into this test with `#[path]`, so the server under test is
//! the example's own handler and registry. The tests run one at a time (`serial`): the memory
//! test reads this process's RSS, which any other test running beside it would disturb.

#[allow(dead_code)]
#[path = "util/chat_client.rs"]
mod chat_client;
#[allow(dead_code)]
#[path = "../examples/chat/cluster.rs"]
mod cluster;
#[allow(dead_code)]
#[path = "../examples/chat/codec.rs"]
mod codec;
#[allow(dead_code)]
#[path = "../examples/chat/command.rs"]
mod command;
#[allow(dead_code)]
#[path = "../examples/chat/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../examples/chat/feed.rs"]
mod feed;
#[allow(dead_code)]
#[path = "../examples/chat/link.rs"]
mod link;
#[allow(dead_code)]
#[path = "../examples/chat/member.rs"]
mod member;
#[allow(dead_code)]
#[path = "../examples/chat/mirror.rs"]
mod mirror;
#[allow(dead_code)]
#[path = "../examples/chat/node.rs"]
mod node;
#[allow(dead_code)]
#[path = "../examples/chat/registry.rs"]
mod registry;
#[allow(dead_code)]
#[path = "../examples/chat/room.rs"]
mod room;
#[allow(dead_code)]
#[path = "../examples/chat/scripts.rs"]
mod scripts;
#[allow(dead_code)]
#[path = "../examples/chat/wire.rs"]
mod wire;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use turbine::{Payload, Running, Server};

use chat_client::{ChatClient, Crowd, IO_TIMEOUT, stingy_stream};
use member::Member;
use registry::Registry;

/// Held by each test for its whole run, so that tests run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Waits for the other tests to finish (a failed one included).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the chat on 127.0.0.1, any free port, four reactors, with `vars` as its environment
/// on top of that; returns the server and its registry.
fn start(vars: &[(&str, &str)]) -> (Running, Arc<Registry>) {
    let mut env: HashMap<&str, &str> = [("TURBINE_ADDR", "127.0.0.1:0"), ("TURBINE_REACTORS", "4")]
        .into_iter()
        .collect();
    env.extend(vars.iter().copied());
    let config = config::from_vars(|name| env.get(name).map(|v| v.to_string()))
        .expect("configuration")
        .shutdown_timeout(Duration::from_secs(2));
    let registry = Arc::new(Registry::new());
    let shared = Arc::clone(&registry);
    let server = Server::bind(config)
        .expect("bind")
        .start(move |_peer| Member::new(Arc::clone(&shared)))
        .expect("start");
    (server, registry)
}

/// Connects a member and has every member already in the lobby read its `joined` notice.
fn join(addr: SocketAddr, lobby: &mut [&mut ChatClient]) -> ChatClient {
    let client = ChatClient::connect(addr);
    for member in lobby {
        member.expect(&format!("* {} joined lobby", client.nick));
    }
    client
}

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Room messages reach every other member and never the sender; `//` escapes a slash; `/nick`
/// is announced, refused when taken (ignoring case) or invalid; with 1, 4 and 16 reactors.
#[test]
fn messages_and_nicks() {
    let _serial = serial();
    for reactors in ["1", "4", "16"] {
        messages_and_nicks_with(reactors);
    }
}

/// [`messages_and_nicks`] on a server with `reactors` reactors.
fn messages_and_nicks_with(reactors: &str) {
    let (server, _registry) = start(&[("TURBINE_REACTORS", reactors)]);
    let addr = server.local_addr();
    let mut a = ChatClient::connect(addr);
    let mut b = join(addr, &mut [&mut a]);
    let mut c = join(addr, &mut [&mut a, &mut b]);
    let (a0, b0) = (a.nick.clone(), b.nick.clone());

    a.send("hello, room");
    b.expect(&format!("{a0}: hello, room"));
    c.expect(&format!("{a0}: hello, room"));
    b.send("//slash and  spaces ");
    a.expect(&format!("{b0}: /slash and  spaces ")); // not its own line first: none came back
    c.expect(&format!("{b0}: /slash and  spaces "));

    a.send("/nick Ann");
    a.expect("* you are Ann");
    b.expect(&format!("* {a0} is now Ann"));
    c.expect(&format!("* {a0} is now Ann"));
    b.send("/nick aNN");
    b.expect("! nick aNN is taken");
    b.send("/nick bad!nick");
    b.expect("! invalid nick");
    b.send("/nick bob");
    b.expect("* you are bob");
    a.expect(&format!("* {b0} is now bob"));
    c.expect(&format!("* {b0} is now bob"));
    a.send("/nick ann");
    a.expect("* you are ann");
    b.expect("* Ann is now ann");
    c.expect("* Ann is now ann");
    c.send("after the renames");
    a.expect(&format!("{}: after the renames", c.nick));
    b.expect(&format!("{}: after the renames", c.nick));
    a.send("/who");
    let mut names = ["ann".to_string(), "bob".to_string(), c.nick.clone()];
    names.sort();
    a.expect(&format!("* in lobby: {}", names.join(" ")));
}

/// `/join` moves a member and tells both rooms; `/rooms` and `/who` list what is there; `/msg`
/// reaches one member in any room, or answers `! no such nick`; with 1, 4 and 16 reactors.
#[test]
fn rooms_and_private_messages() {
    let _serial = serial();
    for reactors in ["1", "4", "16"] {
        rooms_and_private_messages_with(reactors);
    }
}

/// [`rooms_and_private_messages`] on a server with `reactors` reactors.
fn rooms_and_private_messages_with(reactors: &str) {
    let (server, _registry) = start(&[("TURBINE_REACTORS", reactors)]);
    let addr = server.local_addr();
    let mut a = ChatClient::connect(addr);
    let mut b = join(addr, &mut [&mut a]);
    let mut c = join(addr, &mut [&mut a, &mut b]);
    a.send("/nick ann");
    a.expect("* you are ann");
    b.expect(&format!("* {} is now ann", a.nick));
    c.expect(&format!("* {} is now ann", a.nick));
    a.nick = "ann".into();

    a.send("/join games");
    a.expect("* you joined games (1 members)");
    b.expect("* ann left lobby");
    c.expect("* ann left lobby");
    b.send("/join games");
    b.expect("* you joined games (2 members)");
    a.expect(&format!("* {} joined games", b.nick));
    c.expect(&format!("* {} left lobby", b.nick));
    b.send("/join games");
    b.expect("! already in games");
    b.send("/join no room");
    b.expect("! invalid room");

    c.send("/rooms");
    c.expect("* rooms: games(2) lobby(1)");
    a.send("/who");
    let mut games = ["ann".to_string(), b.nick.clone()];
    games.sort();
    a.expect(&format!("* in games: {}", games.join(" ")));
    c.send("/who");
    c.expect(&format!("* in lobby: {}", c.nick));

    a.send("only for games");
    b.expect("ann: only for games");
    c.send("/msg ANN psst, in private");
    a.expect(&format!("{} (private): psst, in private", c.nick));
    c.send("/msg nobody hello?");
    c.expect("! no such nick nobody");
    // Nothing from `games` reached `c`: its next line is the answer to its next command.
    c.send("/rooms");
    c.expect("* rooms: games(2) lobby(1)");

    // A rename is told to the member's own room only.
    a.send("/nick anna");
    a.expect("* you are anna");
    b.expect("* ann is now anna");
    c.send("/who");
    c.expect(&format!("* in lobby: {}", c.nick));
}

/// `/quit` says `* bye` and closes; a member that just disconnects is treated the same: either
/// way its room gets `* <nick> left <room>` and its nick is free again.
#[test]
fn quit_and_disconnect() {
    let _serial = serial();
    let (server, registry) = start(&[]);
    let addr = server.local_addr();
    let mut a = ChatClient::connect(addr);
    let mut b = join(addr, &mut [&mut a]);
    let c = join(addr, &mut [&mut a, &mut b]);

    b.send("/quit");
    b.expect("* bye");
    b.expect_end();
    a.expect(&format!("* {} left lobby", b.nick));
    let c_nick = c.nick.clone();
    drop(c);
    a.expect(&format!("* {c_nick} left lobby"));
    a.send("/who");
    a.expect(&format!("* in lobby: {}", a.nick));
    a.send(&format!("/nick {}", b.nick));
    a.expect(&format!("* you are {}", b.nick));
    assert!(registry.find(&c_nick).is_none());
}

/// Errors over a socket: an unknown command and invalid UTF-8 leave the connection open; a line
/// over `TURBINE_MAX_FRAME` is answered `! line too long` before its `\n` arrives, then closed,
/// and the room hears that the member left.
#[test]
fn error_lines() {
    let _serial = serial();
    let (server, _registry) = start(&[("TURBINE_MAX_FRAME", "1KiB")]);
    let addr = server.local_addr();
    let mut a = ChatClient::connect(addr);
    let mut b = join(addr, &mut [&mut a]);

    b.send("/shout hello");
    b.expect("! unknown command /shout");
    b.send_bytes(b"caf\xe9\r\n");
    b.expect("! invalid utf-8");
    b.send("");
    b.send("still here");
    a.expect(&format!("{}: still here", b.nick));
    // A `\r` before the `\n` is dropped from a message too.
    b.send_bytes(b"over telnet\r\n");
    a.expect(&format!("{}: over telnet", b.nick));

    b.send_bytes(&[b'x'; 1025]); // no `\n`: the limit is passed, that is enough
    b.expect("! line too long");
    b.expect_end();
    a.expect(&format!("* {} left lobby", b.nick));
}

/// 200 members in one room, 20 of them sending 100 messages each: every member receives every
/// message of every other sender, each sender's messages in order (a sender does not get its
/// own).
#[test]
fn every_message_to_every_member_in_order() {
    const MEMBERS: usize = 200;
    const SENDERS: usize = 20;
    const MESSAGES: u32 = 100;
    const THREADS: usize = 4;
    let _serial = serial();
    let (server, registry) = start(&[]);
    let addr = server.local_addr();
    let clients: Vec<ChatClient> = (0..MEMBERS).map(|_| ChatClient::connect(addr)).collect();
    assert_eq!(registry.members("lobby").len(), MEMBERS);
    // Every tenth member sends; each thread reads a quarter of the room and writes for its
    // own senders.
    let is_sender = |i: usize| i % (MEMBERS / SENDERS) == 0;
    let senders: Vec<String> = (0..MEMBERS)
        .filter(|&i| is_sender(i))
        .map(|i| clients[i].nick.clone())
        .collect();
    let mut shares: Vec<Vec<(usize, ChatClient)>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (i, client) in clients.into_iter().enumerate() {
        shares[i % THREADS].push((i, client));
    }
    let threads: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let senders = senders.clone();
            thread::spawn(move || read_room(share, &senders, is_sender, MESSAGES))
        })
        .collect();
    for thread in threads {
        thread.join().expect("a member thread failed");
    }
}

/// One thread's part of [`every_message_to_every_member_in_order`]: sends the messages of its
/// senders, then reads until each of its members has every other sender's messages in order.
fn read_room(
    share: Vec<(usize, ChatClient)>,
    senders: &[String],
    is_sender: impl Fn(usize) -> bool,
    messages: u32,
) {
    let indices: Vec<usize> = share.iter().map(|(i, _)| *i).collect();
    let nicks: Vec<String> = share.iter().map(|(_, c)| c.nick.clone()).collect();
    let mut crowd = Crowd::new(share.into_iter().map(|(_, c)| c).collect());
    for seq in 0..messages {
        for (local, &i) in indices.iter().enumerate() {
            if is_sender(i) {
                crowd.send(local, format!("m {seq}\n").as_bytes());
            }
        }
    }
    // For each member: the next sequence number expected from each sender, and how many
    // messages are still to come.
    let mut next: Vec<HashMap<String, u32>> = vec![HashMap::new(); nicks.len()];
    let mut missing: Vec<u32> = indices
        .iter()
        .map(|&i| {
            let others = senders.len() - usize::from(is_sender(i));
            others as u32 * messages
        })
        .collect();
    let left = Cell::new(missing.iter().filter(|&&m| m > 0).count());
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = crowd.read(
        deadline,
        |local, line| {
            if line.starts_with("* ") {
                return; // `joined` notices from before the messages
            }
            let (from, text) = line.split_once(": ").expect("`<nick>: <text>`");
            assert_ne!(from, nicks[local], "a sender got its own message");
            assert!(
                senders.iter().any(|s| s == from),
                "from a non-sender: {line}"
            );
            let seq: u32 = text.strip_prefix("m ").unwrap().parse().unwrap();
            let expected = next[local].entry(from.to_string()).or_insert(0);
            assert_eq!(
                seq, *expected,
                "{}: {from}'s messages out of order",
                nicks[local]
            );
            *expected += 1;
            missing[local] -= 1;
            if missing[local] == 0 {
                left.set(left.get() - 1);
            }
        },
        || left.get() == 0,
    );
    let short: Vec<_> = missing.iter().filter(|&&m| m > 0).collect();
    assert!(finished, "members still missing messages: {short:?}");
}

/// One member never reads while others send 64 KiB lines: it is cut off (past a 1 MiB
/// `CHAT_OUTBUF_LIMIT`) and the room hears it left; the others receive 100%, in order. (The
/// senders keep within 8 lines of the slowest reading member: the chat has no backpressure
/// from readers to senders, so unpaced senders could outrun readers on a busy machine too.)
#[test]
fn slow_member_is_cut_off() {
    const SENDERS: usize = 3;
    const READERS: usize = 2;
    const LINES: usize = 24;
    const LEN: usize = (64 << 10) - 64;
    const WINDOW: usize = 8;
    let _serial = serial();
    let (server, registry) = start(&[
        ("CHAT_OUTBUF_LIMIT", "1MiB"),
        ("TURBINE_MAX_FRAME", "64KiB"),
    ]);
    let addr = server.local_addr();
    // The kernel holds about 100 KiB for it; everything else waits in the server's output.
    let mut slow = ChatClient::over(stingy_stream(addr));
    let mut members: Vec<ChatClient> = Vec::new();
    for _ in 0..SENDERS + READERS {
        let client = ChatClient::connect(addr);
        for earlier in &mut members {
            earlier.expect(&format!("* {} joined lobby", client.nick));
        }
        members.push(client);
    }
    let text = |sender: usize, seq: usize| {
        let mut text = format!("{sender}:{seq:04}:").into_bytes();
        text.resize(LEN, b'a' + (seq % 26) as u8);
        String::from_utf8(text).unwrap()
    };
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let slow_left = format!("* {} left lobby", slow.nick);
    // Lines each sender has sent, and room lines each member has received: a sender waits
    // while any member has `WINDOW` lines still to come, so members that keep reading stay
    // well under the limit however the two cores are shared.
    let sent: Arc<[AtomicUsize]> = (0..SENDERS).map(|_| AtomicUsize::new(0)).collect();
    let received: Arc<[AtomicUsize]> = (0..SENDERS + READERS)
        .map(|_| AtomicUsize::new(0))
        .collect();
    let mut threads = Vec::new();
    for (me, mut member) in members.into_iter().enumerate() {
        if me < SENDERS {
            let mut writer = member.writer();
            let (sent, received) = (Arc::clone(&sent), Arc::clone(&received));
            threads.push(thread::spawn(move || {
                for seq in 0..LINES {
                    let behind = || {
                        (0..SENDERS + READERS).any(|m| {
                            let to_m: usize = (0..SENDERS)
                                .filter(|&s| s != m)
                                .map(|s| sent[s].load(SeqCst))
                                .sum();
                            to_m.saturating_sub(received[m].load(SeqCst)) >= WINDOW
                        })
                    };
                    assert!(
                        wait_until(IO_TIMEOUT, || !behind()),
                        "members stopped reading"
                    );
                    let line = format!("{}\n", text(me, seq));
                    std::io::Write::write_all(&mut writer, line.as_bytes()).expect("send");
                    sent[me].fetch_add(1, SeqCst);
                }
            }));
        }
        let nicks = nicks.clone();
        let slow_left = slow_left.clone();
        let received = Arc::clone(&received);
        threads.push(thread::spawn(move || {
            let mut next = [0; SENDERS];
            let mut saw_left = false;
            let expected = (0..SENDERS).filter(|&s| s != me).count() * LINES;
            while received[me].load(SeqCst) < expected || !saw_left {
                let line = member.line();
                if line.starts_with("* ") {
                    // Members that have everything leave: only the slow one's notice counts.
                    saw_left |= line == slow_left;
                    continue;
                }
                let Some((from, body)) = line.split_once(": ") else {
                    panic!("{me}: not a room message: {line:.80}");
                };
                let sender = nicks.iter().position(|n| n == from).expect("a sender");
                assert!(sender < SENDERS && sender != me, "{line:.40}");
                assert!(
                    body == text(sender, next[sender]),
                    "{me}: wrong line {line:.40}"
                );
                next[sender] += 1;
                received[me].fetch_add(1, SeqCst);
            }
        }));
    }
    for thread in threads {
        thread.join().expect("a member thread failed");
    }
    // It was cut off: the connection ends although it had far from everything.
    let got = slow.read_to_end();
    assert!(got.len() < SENDERS * LINES * LEN / 2, "{} bytes", got.len());
    assert!(registry.find(&slow.nick).is_none());
}

/// Concurrent `/nick` races for one name (in different cases), from members on different
/// reactors: in every round exactly one wins, the others are told it is taken.
#[test]
fn nick_race_has_one_winner() {
    const RACERS: usize = 16;
    const ROUNDS: usize = 5;
    let _serial = serial();
    let (server, registry) = start(&[]);
    let addr = server.local_addr();
    let mut racers: Vec<ChatClient> = (0..RACERS).map(|_| ChatClient::connect(addr)).collect();
    let reactors = server
        .stats()
        .reactors
        .iter()
        .filter(|r| r.open > 0)
        .count();
    assert!(reactors >= 2, "all {RACERS} members landed on one reactor");
    for round in 0..ROUNDS {
        let barrier = Barrier::new(RACERS);
        let wins: Vec<bool> = thread::scope(|s| {
            let racing: Vec<_> = racers
                .iter_mut()
                .enumerate()
                .map(|(i, racer)| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        let name = match i % 3 {
                            0 => format!("race{round}"),
                            1 => format!("RACE{round}"),
                            _ => format!("Race{round}"),
                        };
                        barrier.wait();
                        racer.send(&format!("/nick {name}"));
                        loop {
                            let line = racer.line();
                            if line == format!("* you are {name}") {
                                racer.nick = name;
                                return true;
                            }
                            if line == format!("! nick {name} is taken") {
                                return false;
                            }
                            // Notices of other members joining or renaming themselves.
                            assert!(line.starts_with("* "), "unexpected {line:?}");
                        }
                    })
                })
                .collect();
            racing.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let winners = wins.iter().filter(|&&w| w).count();
        assert_eq!(winners, 1, "round {round}: {winners} members got the nick");
        assert!(registry.find(&format!("rACE{round}")).is_some());
    }
}

/// One 64 KiB message to 1,000 members is held once in memory: while none of them reads, the
/// payload's reference count grows by one per member that has it queued, and this process's
/// resident memory grows by far less than 1,000 copies (64 MB) would take.
#[test]
fn one_payload_for_a_thousand_members_is_held_once() {
    const MEMBERS: usize = 1000;
    const PAYLOAD: usize = 64 << 10;
    let _serial = serial();
    let (server, registry) = start(&[("CHAT_OUTBUF_LIMIT", "1MiB")]);
    let addr = server.local_addr();
    // Members whose kernel buffers hold little (about 100 KiB), and which never read.
    let members: Vec<_> = (0..MEMBERS).map(|_| stingy_stream(addr)).collect();
    let lobby_full = wait_until(Duration::from_secs(30), || {
        registry.members("lobby").len() == MEMBERS
    });
    assert!(
        lobby_full,
        "{} members arrived",
        registry.members("lobby").len()
    );
    let line = |byte: u8| -> Arc<[u8]> {
        let mut line = vec![byte; PAYLOAD - 1];
        line.push(b'\n');
        Arc::from(line)
    };
    // Fill what the kernel holds for each member with earlier traffic, through the same code
    // the room's messages go through; from then on everything waits in the server's output.
    let fillers: Vec<Arc<[u8]>> = (b'a'..b'e').map(line).collect();
    for filler in &fillers {
        let filler = Payload::from_encoded_bytes(Arc::clone(filler));
        registry.members("lobby").send(None, &filler);
    }
    let queued = |payload: &Arc<[u8]>| Arc::strong_count(payload) - 1;
    let filled = wait_until(Duration::from_secs(30), || {
        queued(fillers.last().unwrap()) == MEMBERS
    });
    assert!(
        filled,
        "last filler queued for {}",
        queued(fillers.last().unwrap())
    );

    let before = rss();
    let payload = line(b'p');
    let posted = registry
        .members("lobby")
        .send(None, &Payload::from_encoded_bytes(Arc::clone(&payload)));
    assert_eq!(posted, MEMBERS);
    let held = wait_until(Duration::from_secs(30), || queued(&payload) == MEMBERS);
    let after = rss();
    assert!(held, "payload queued for {} members", queued(&payload));
    let growth = after.saturating_sub(before);
    assert!(
        growth < MEMBERS as u64 * PAYLOAD as u64 / 8,
        "RSS grew by {growth} bytes for one {PAYLOAD}-byte payload to {MEMBERS} members"
    );
    drop(members);
    server.shutdown().expect("shutdown");
}

/// This process's resident memory, in bytes (`VmRSS` in `/proc/self/status`).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// A member that left a room hears nothing said there after its `left` notice went out, and
/// hears a room from its `* you joined` line on.
#[test]
fn nothing_after_leaving_a_room() {
    let _serial = serial();
    let (server, _registry) = start(&[]);
    let addr = server.local_addr();
    let mut a = ChatClient::connect(addr);
    let mut b = join(addr, &mut [&mut a]);
    b.send("/join games");
    b.expect("* you joined games (1 members)");
    a.expect(&format!("* {} left lobby", b.nick));
    a.send("said in the lobby");
    a.send(&format!("/msg {} marker", b.nick));
    // Per-sender order: had the lobby line reached `b`, it would have come first.
    b.expect(&format!("{} (private): marker", a.nick));
    b.send("/join lobby");
    b.expect("* you joined lobby (2 members)");
    a.expect(&format!("* {} joined lobby", b.nick));
    a.send("welcome back");
    b.expect(&format!("{}: welcome back", a.nick));
}
