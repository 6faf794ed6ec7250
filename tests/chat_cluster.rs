//! The chat example in cluster mode (`CHAT_REDIS`, the section "Several instances" of
//! `shared/specs/chat.md`): several chat processes on one `redis-server` of the test's own
//! (Debian's package; each test skips with a printed reason without it), each on a port of its
//! own on loopback. Members connected directly to each: membership, messages, nicks, `/who`,
//! `/rooms` and `/msg` across instances; Redis stopped and restarted under them. Members
//! connected through an HAProxy of the test's own (Debian's package too; those tests skip
//! without it) in front of three instances, as `docs/deploy.md` runs them (`balance
//! leastconn`, `send-proxy-v2`, health checks with LOCAL PROXY headers): the crowd, spread and
//! addresses, health checks that are no members, nicks, `/who` and `/msg`, Redis restarted, an
//! instance killed.
//!
//! The instances run as child processes (the example's own binary: plain `cargo test` builds
//! it; before `cargo test --test chat_cluster`, run `cargo build --example chat`), with two
//! reactors each and short entry lifetimes (`CHAT_CLUSTER_TTL`), so that what waits on an
//! entry's expiry takes a few seconds; the test of a dead instance keeps the default lifetime,
//! which the spec's 15 s bound is for. The tests run one at a time (`serial`): each starts several
//! processes, and a machine with two cores running them all at once could miss heartbeats.

#[allow(dead_code)]
#[path = "util/chat_client.rs"]
mod chat_client;
mod util;

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chat_client::{ChatClient, Crowd, stingy_stream};
use util::Example;
use util::haproxy::Haproxy;
use util::redis::RedisServer;

/// Entry lifetime of the instances (`CHAT_CLUSTER_TTL`) unless a test says otherwise: an
/// instance must be silent that long to count as dead, long enough on a busy machine.
const TTL: &str = "4s";

/// How long a test waits for news to spread between instances before it fails.
const SPREAD: Duration = Duration::from_secs(20);

/// Held by each test for its whole run, so that tests run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Waits for the other tests to finish (a failed one included).
fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One chat process in cluster mode.
struct Instance {
    /// The process, its log read line by line.
    process: Example,
    /// Where it listens.
    addr: SocketAddr,
}

impl Instance {
    /// Starts the chat example linked through `redis`, and waits for its link to be up.
    fn start(redis: SocketAddr) -> Instance {
        Instance::start_with(redis, &[("CHAT_CLUSTER_TTL", TTL)])
    }

    /// [`start`](Instance::start) with `vars` added to its environment.
    fn start_with(redis: SocketAddr, vars: &[(&str, &str)]) -> Instance {
        let redis = redis.to_string();
        let mut env = vec![
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("TURBINE_REACTORS", "2"),
            ("TURBINE_SHUTDOWN_TIMEOUT", "2s"),
            ("CHAT_REDIS", redis.as_str()),
        ];
        env.extend_from_slice(vars);
        let process = spawn(&env);
        let addr = process.listening_addr();
        let up = process.wait_line(SPREAD, |line| line.contains("cluster link up"));
        assert!(up.is_some(), "no link to Redis: {}", process.output());
        Instance { process, addr }
    }

    /// Connects a member.
    fn member(&self) -> ChatClient {
        ChatClient::connect(self.addr)
    }
}

/// The chat example's binary, checked to be newer than the example's sources: `cargo test
/// --test chat_cluster` alone does not build examples (plain `cargo test` does), and an old
/// binary would test old code.
fn chat_binary() -> PathBuf {
    let binary = util::example_binary("chat");
    let built = fs::metadata(&binary).and_then(|m| m.modified());
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/chat");
    let newest = fs::read_dir(&sources)
        .expect("examples/chat")
        .filter_map(|entry| entry.ok()?.metadata().ok()?.modified().ok())
        .max();
    if let (Ok(built), Some(newest)) = (built, newest) {
        assert!(
            built >= newest,
            "{} is older than its sources in {}: build it (`cargo build --example chat`)",
            binary.display(),
            sources.display()
        );
    }
    binary
}

/// Runs the chat example with only `env` as its environment.
fn spawn(env: &[(&str, &str)]) -> Example {
    Example::spawn_binary(chat_binary(), env)
}

/// Starts a Redis server and `count` instances on it; `None` (reason printed) without
/// `redis-server`.
fn cluster(count: usize) -> Option<(RedisServer, Vec<Instance>)> {
    cluster_with(count, TTL)
}

/// [`cluster`] with entries that live `ttl`.
fn cluster_with(count: usize, ttl: &str) -> Option<(RedisServer, Vec<Instance>)> {
    let redis = RedisServer::start()?;
    let ttl = [("CHAT_CLUSTER_TTL", ttl)];
    let instances = (0..count)
        .map(|_| Instance::start_with(redis.addr(), &ttl))
        .collect();
    Some((redis, instances))
}

/// The options of every `server` line of the tests' HAProxy: a PROXY v2 header on each
/// connection, and a TCP health check every 100 ms that sends a LOCAL header.
const BALANCED: &str = "send-proxy-v2 check check-send-proxy inter 100ms";

/// Redis, `count` instances whose entries live `ttl` (`None`: the example's default) behind an HAProxy of the test's own
/// (`balance leastconn`, [`BALANCED`]). The instances take PROXY v2 headers from loopback and
/// log, at debug, each member's address as they welcome it and each health check. `None`
/// (reason printed) without `redis-server` or `haproxy`.
fn balanced_cluster(
    count: usize,
    ttl: Option<&str>,
) -> Option<(RedisServer, Vec<Instance>, Haproxy)> {
    let redis = RedisServer::start()?;
    let mut vars = vec![
        ("TURBINE_PROXY_PROTOCOL", "v2"),
        ("TURBINE_PROXY_TRUSTED", "127.0.0.1/32"),
        ("RUST_LOG", "info,chat::member=debug"),
    ];
    vars.extend(ttl.map(|ttl| ("CHAT_CLUSTER_TTL", ttl)));
    let instances: Vec<Instance> = (0..count)
        .map(|_| Instance::start_with(redis.addr(), &vars))
        .collect();
    let backends: Vec<SocketAddr> = instances.iter().map(|i| i.addr).collect();
    let haproxy = Haproxy::start(&backends, BALANCED)?;
    Some((redis, instances, haproxy))
}

/// The instance that welcomed each client, from the instances' logs (`<address> welcomed as
/// <nick>`): the address must be the client's own, as its PROXY header said, not HAProxy's.
/// Fails if one is not in any log after [`SPREAD`], or is in two.
#[track_caller]
fn welcomers(instances: &[Instance], clients: &[&ChatClient]) -> Vec<usize> {
    let deadline = Instant::now() + SPREAD;
    loop {
        let mut welcomed: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, instance) in instances.iter().enumerate() {
            for line in instance.process.log() {
                let Some((head, nick)) = line.split_once(" welcomed as ") else {
                    continue;
                };
                let address = head.rsplit(' ').next().unwrap_or_default();
                let key = (address.to_string(), nick.to_string());
                welcomed.entry(key).or_default().push(i);
            }
        }
        let found: Vec<Option<&Vec<usize>>> = clients
            .iter()
            .map(|c| welcomed.get(&(c.local_addr().to_string(), c.nick.clone())))
            .collect();
        if found.iter().all(Option::is_some) {
            return (found.iter().zip(clients))
                .map(|(at, client)| match at.map(Vec::as_slice) {
                    Some(&[home]) => home,
                    _ => panic!("{} welcomed by instances {at:?}", client.nick),
                })
                .collect();
        }
        let missing = (found.iter().zip(clients))
            .filter(|(at, _)| at.is_none())
            .map(|(_, c)| format!("{} {}", c.local_addr(), c.nick))
            .collect::<Vec<_>>();
        assert!(
            Instant::now() < deadline,
            "not welcomed from their own address in any log: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How many members each of `count` instances welcomed, from [`welcomers`].
fn spread(homes: &[usize], count: usize) -> Vec<usize> {
    (0..count)
        .map(|i| homes.iter().filter(|&&h| h == i).count())
        .collect()
}

/// Reads `client`'s lines until one satisfies `wanted`; returns the lines before it and it.
/// Fails after [`SPREAD`] (or a read's own timeout).
#[track_caller]
fn read_until(client: &mut ChatClient, wanted: impl Fn(&str) -> bool) -> (Vec<String>, String) {
    let deadline = Instant::now() + SPREAD;
    let mut before = Vec::new();
    loop {
        let line = client.line();
        if wanted(&line) {
            return (before, line);
        }
        assert!(
            Instant::now() < deadline,
            "{}: no wanted line; got {before:?}",
            client.nick
        );
        before.push(line);
    }
}

/// Reads until exactly `line`; returns the lines before it.
#[track_caller]
fn expect_line(client: &mut ChatClient, line: &str) -> Vec<String> {
    read_until(client, |got| got == line).0
}

/// Sends `command` from `client` until its reply (the first line starting as `want` does, up
/// to its first space after the `* `) is `want`, or fails after [`SPREAD`].
#[track_caller]
fn ask(client: &mut ChatClient, command: &str, want: &str) {
    let kind = want.split(' ').take(2).collect::<Vec<_>>().join(" ");
    let deadline = Instant::now() + SPREAD;
    loop {
        client.send(command);
        let (_, reply) = read_until(client, |line| line.starts_with(&kind));
        if reply == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {command} says {reply:?}",
            client.nick
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `/who` from `client`: the nicks in its room (other lines before the reply are skipped).
fn who(client: &mut ChatClient) -> Vec<String> {
    who_noting(client, &mut Vec::new())
}

/// [`who`], adding the lines skipped before the reply to `skipped`.
fn who_noting(client: &mut ChatClient, skipped: &mut Vec<String>) -> Vec<String> {
    client.send("/who");
    let (before, reply) = read_until(client, |line| line.starts_with("* in "));
    skipped.extend(before);
    let (_, nicks) = reply.split_once(": ").expect("`* in <room>: <nicks>`");
    nicks.split_whitespace().map(str::to_string).collect()
}

/// Sends `/who` from `client` until its room holds exactly `nicks` (sorted), or fails after
/// [`SPREAD`]; returns the other lines read meanwhile (and the replies that fell short).
#[track_caller]
fn wait_who(client: &mut ChatClient, nicks: &[String]) -> Vec<String> {
    let mut want = nicks.to_vec();
    want.sort_unstable();
    let deadline = Instant::now() + SPREAD;
    let mut skipped = Vec::new();
    loop {
        let got = who_noting(client, &mut skipped);
        if got == want {
            return skipped;
        }
        assert!(
            Instant::now() < deadline,
            "{}: /who says {} nicks, want {}",
            client.nick,
            got.len(),
            want.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every member sends `messages` room messages (`m <k>`), and each must reach every other
/// member, wherever it is, in the order its sender sent it; notices (`* ` lines) go to
/// `notice(receiver, line)`, which names a problem with `Err`. Fails on a problem, or if the
/// messages are not all in after a minute.
#[track_caller]
fn fan_out(
    members: Vec<ChatClient>,
    messages: usize,
    mut notice: impl FnMut(usize, &str) -> Result<(), String>,
) {
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let count = members.len();
    let mut crowd = Crowd::new(members);
    for k in 0..messages {
        for i in 0..count {
            crowd.send(i, format!("m {k}\n").as_bytes());
        }
    }
    let index: HashMap<&str, usize> = nicks
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    // next[receiver][sender]: the next message number the receiver must see from the sender.
    let mut next = vec![vec![0usize; count]; count];
    let mut received = vec![0usize; count];
    let mut complete = 0;
    let mut problems = Vec::new();
    let finished = Cell::new(false);
    let want = (count - 1) * messages;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = crowd.read(
        deadline,
        |receiver, line| {
            if line.starts_with("* ") {
                if let Err(problem) = notice(receiver, line) {
                    problems.push(problem);
                }
                finished.set(!problems.is_empty());
                return;
            }
            let parsed = line
                .split_once(": m ")
                .and_then(|(nick, k)| Some((*index.get(nick)?, k.parse::<usize>().ok()?)));
            match parsed {
                Some((sender, k)) if sender != receiver && k == next[receiver][sender] => {
                    next[receiver][sender] += 1;
                    received[receiver] += 1;
                    complete += usize::from(received[receiver] == want);
                }
                _ => problems.push(format!("member {receiver} got {line:?} out of turn")),
            }
            finished.set(complete == count || !problems.is_empty());
        },
        || finished.get(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert!(
        done,
        "not every message arrived: {complete} of {count} members have all {want}"
    );
}

/// Members (one per instance) ask for the same nick at the same moment, `rounds` times over:
/// exactly one gets it each time, the others are told it is taken.
#[track_caller]
fn nick_race(members: &[Arc<Mutex<ChatClient>>], rounds: usize) {
    for round in 0..rounds {
        let name = format!("race{round}");
        let barrier = Arc::new(Barrier::new(members.len()));
        let threads: Vec<_> = members
            .iter()
            .map(|member| {
                let (member, barrier, name) =
                    (Arc::clone(member), Arc::clone(&barrier), name.clone());
                std::thread::spawn(move || {
                    let mut member = member.lock().unwrap();
                    barrier.wait();
                    member.send(&format!("/nick {name}"));
                    let (_, reply) = read_until(&mut member, |line| {
                        line.starts_with("* you are ") || line.starts_with("! nick ")
                    });
                    reply
                })
            })
            .collect();
        let replies: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let won = replies
            .iter()
            .filter(|r| **r == format!("* you are {name}"))
            .count();
        let lost = (replies.iter())
            .filter(|r| **r == format!("! nick {name} is taken"))
            .count();
        assert_eq!(
            (won, lost),
            (1, members.len() - 1),
            "round {round}: {replies:?}"
        );
    }
}

/// Three instances, 50 members each: every welcome nick is unique across the cluster, every
/// instance lists all 150 in `/who`, and every room message reaches every other member,
/// wherever it is, in the order its sender sent it.
#[test]
fn crowd_across_three_instances() {
    const PER_INSTANCE: usize = 50;
    const MESSAGES: usize = 3;
    let _serial = serial();
    let Some((_redis, instances)) = cluster(3) else {
        return;
    };
    let mut members = Vec::new();
    for _ in 0..PER_INSTANCE {
        for instance in &instances {
            members.push(instance.member());
        }
    }
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let unique: HashSet<&String> = nicks.iter().collect();
    assert_eq!(unique.len(), nicks.len(), "welcome nicks repeat: {nicks:?}");
    // Members 0, 1 and 2 are on instances 0, 1 and 2: each instance sees the whole lobby.
    for probe in &mut members[..3] {
        wait_who(probe, &nicks);
    }
    fan_out(members, MESSAGES, |_, _| Ok(()));
}

/// Members of three instances ask for the same nick at the same moment: exactly one gets it,
/// the others are told it is taken; ten times over.
#[test]
fn nick_race_across_instances_has_one_winner() {
    let _serial = serial();
    let Some((_redis, instances)) = cluster(3) else {
        return;
    };
    let members: Vec<ChatClient> = instances.iter().map(Instance::member).collect();
    let members: Vec<Arc<Mutex<ChatClient>>> = members
        .into_iter()
        .map(|m| Arc::new(Mutex::new(m)))
        .collect();
    nick_race(&members, 10);
}

/// Across instances: nick changes and joins are announced to the rooms concerned, `/rooms` and
/// `/who` count everyone, `/msg` reaches a member elsewhere (its nick in any case), a nick held
/// elsewhere is taken in any case, a room message stays in its room, and leaving is announced;
/// nothing said in a room after a member's `left` notice went out reaches that member. An
/// instance started later sees the members already there.
#[test]
fn rooms_who_and_msg_across_instances() {
    let _serial = serial();
    let Some((redis, instances)) = cluster(3) else {
        return;
    };
    let mut trio: Vec<ChatClient> = instances.iter().map(Instance::member).collect();
    let all: Vec<String> = trio.iter().map(|m| m.nick.clone()).collect();
    for member in &mut trio {
        wait_who(member, &all);
    }
    for (i, name) in ["ann", "bob", "cat"].into_iter().enumerate() {
        let old = std::mem::replace(&mut trio[i].nick, name.to_string());
        trio[i].send(&format!("/nick {name}"));
        expect_line(&mut trio[i], &format!("* you are {name}"));
        for (j, other) in trio.iter_mut().enumerate() {
            if j != i {
                expect_line(other, &format!("* {old} is now {name}"));
            }
        }
    }
    let mut trio = trio.into_iter();
    let (Some(mut ann), Some(mut bob), Some(mut cat)) = (trio.next(), trio.next(), trio.next())
    else {
        unreachable!("three instances, a member each")
    };
    bob.send("/nick ANN");
    expect_line(&mut bob, "! nick ANN is taken");
    bob.send("/join games");
    expect_line(&mut bob, "* you joined games (1 members)");
    expect_line(&mut ann, "* bob left lobby");
    expect_line(&mut cat, "* bob left lobby");
    // Said after the notice: it reaches cat, not bob. Ann's lines reach bob in order, so her
    // private message comes after where the room message would have.
    ann.send("lobby only");
    expect_line(&mut cat, "ann: lobby only");
    ann.send("/msg bob after you left");
    let before = expect_line(&mut bob, "ann (private): after you left");
    assert!(
        !before.iter().any(|l| l.contains("lobby only")),
        "{before:?}"
    );
    cat.send("/join games");
    expect_line(&mut cat, "* you joined games (2 members)");
    expect_line(&mut bob, "* cat joined games");
    expect_line(&mut ann, "* cat left lobby");
    ann.send("/rooms");
    expect_line(&mut ann, "* rooms: games(2) lobby(1)");
    assert_eq!(who(&mut cat), ["bob", "cat"]);
    ann.send("/msg BOB hi  there");
    expect_line(&mut bob, "ann (private): hi  there");
    bob.send("/msg nobody x");
    expect_line(&mut bob, "! no such nick nobody");
    cat.send("meow");
    expect_line(&mut bob, "cat: meow");
    cat.send("/msg ann only you");
    // Cat's lines reach ann in order: the room message would have come first.
    let before = expect_line(&mut ann, "cat (private): only you");
    assert!(!before.iter().any(|l| l.contains("meow")), "{before:?}");
    // A fourth instance, started now, learns the cluster from Redis.
    let late = Instance::start(redis.addr());
    let mut dan = late.member();
    ask(&mut dan, "/rooms", "* rooms: games(2) lobby(2)");
    let mut lobby = vec![dan.nick.clone(), "ann".to_string()];
    lobby.sort_unstable();
    assert_eq!(who(&mut dan), lobby);
    expect_line(&mut ann, &format!("* {} joined lobby", dan.nick));
    dan.send("/msg CAT hello");
    expect_line(&mut cat, &format!("{} (private): hello", dan.nick));
    bob.send("/quit");
    expect_line(&mut bob, "* bye");
    expect_line(&mut cat, "* bob left games");
    ask(&mut dan, "/rooms", "* rooms: games(1) lobby(2)");
    drop((instances, late));
}

/// Redis stops under a running cluster: every member is told `* cluster link down`, an
/// instance goes on serving its own members, and what is said meanwhile stays there. Two
/// members on different instances take the same nick during the outage; when Redis is back
/// (`* cluster link up`), exactly one keeps it and the other is renamed to a fresh guest nick
/// and told why, its room on its instance hears `* <old> is now guest<N>`, and messages cross
/// again.
#[test]
fn redis_restart() {
    let _serial = serial();
    let Some((redis, instances)) = cluster(2) else {
        return;
    };
    let port = redis.addr().port();
    let mut a1 = instances[0].member();
    let mut a2 = instances[0].member();
    let mut b1 = instances[1].member();
    let mut b2 = instances[1].member();
    let all = [
        a1.nick.clone(),
        a2.nick.clone(),
        b1.nick.clone(),
        b2.nick.clone(),
    ];
    for member in [&mut a1, &mut a2, &mut b1, &mut b2] {
        wait_who(member, &all);
    }
    redis.kill();
    for member in [&mut a1, &mut a2, &mut b1, &mut b2] {
        expect_line(member, "* cluster link down");
    }
    a1.send("local only");
    expect_line(&mut a2, &format!("{}: local only", a1.nick));
    let a1_old = a1.nick.clone();
    a1.send("/nick zed");
    expect_line(&mut a1, "* you are zed");
    expect_line(&mut a2, &format!("* {a1_old} is now zed"));
    let b1_old = b1.nick.clone();
    b1.send("/nick ZED");
    expect_line(&mut b1, "* you are ZED");
    expect_line(&mut b2, &format!("* {b1_old} is now ZED"));
    let Some(_redis) = RedisServer::start_on(port) else {
        panic!("redis-server did not start again on port {port}");
    };
    let (a1_lines, _) = read_until(&mut a1, |l| l == "* cluster link up");
    let (b1_lines, _) = read_until(&mut b1, |l| l == "* cluster link up");
    let a2_lines = expect_line(&mut a2, "* cluster link up");
    let b2_lines = expect_line(&mut b2, "* cluster link up");
    // The renamed member's roommate on its instance, and what it read until the link was up.
    let (roommate, heard, old, guest) = match (
        renamed_on_recheck(&a1_lines, "zed"),
        renamed_on_recheck(&b1_lines, "ZED"),
    ) {
        (Some(guest), None) => {
            a1.nick = guest.clone();
            b1.nick = "ZED".to_string();
            (&mut a2, a2_lines, "zed", guest)
        }
        (None, Some(guest)) => {
            b1.nick = guest.clone();
            a1.nick = "zed".to_string();
            (&mut b2, b2_lines, "ZED", guest)
        }
        other => {
            panic!("one of the two must be renamed: {other:?}\na1: {a1_lines:?}\nb1: {b1_lines:?}")
        }
    };
    assert!(guest.starts_with("guest"), "{guest}");
    // Told before or after the link's return: the rename and the notice go separate ways.
    let told = format!("* {old} is now {guest}");
    if !heard.contains(&told) {
        expect_line(roommate, &told);
    }
    assert!(
        !b1_lines.iter().any(|l| l.contains("local only")),
        "{b1_lines:?}"
    );
    let all = [
        a1.nick.clone(),
        a2.nick.clone(),
        b1.nick.clone(),
        b2.nick.clone(),
    ];
    let distinct: HashSet<String> = all.iter().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(
        distinct.len(),
        all.len(),
        "renamed to a nick in use: {all:?}"
    );
    for member in [&mut a1, &mut a2, &mut b1, &mut b2] {
        wait_who(member, &all);
    }
    b1.send("back again");
    let said = format!("{}: back again", b1.nick);
    let before = expect_line(&mut a1, &said);
    assert!(!before.iter().any(|l| l.contains("local only")));
    expect_line(&mut a2, &said);
    a1.send("and here");
    let before = expect_line(&mut b1, &format!("{}: and here", a1.nick));
    assert!(
        !before.iter().any(|l| l.contains("local only")),
        "{before:?}"
    );
}

/// The guest nick a member had `nick` replaced with when the link returned, if `lines` (what
/// it read meanwhile) say so: `* nick <nick> was taken on another instance while the cluster
/// link was down`, then `* you are <guest>`.
fn renamed_on_recheck(lines: &[String], nick: &str) -> Option<String> {
    let notice =
        format!("* nick {nick} was taken on another instance while the cluster link was down");
    let at = lines.iter().position(|l| *l == notice)?;
    let guest = lines.get(at + 1)?.strip_prefix("* you are ")?.to_string();
    Some(guest)
}

/// Members who connect while Redis is down, one to each of two instances: each is welcomed
/// (`* welcome guest<N>`) and told at once `* cluster link down`, with a guest nick no member
/// has; each chats with the member already on its own instance, and none of that reaches the
/// other instance. When Redis is back each hears `* cluster link up`, its nick is unique
/// across the cluster (kept, or renamed as the spec says), every instance lists it once in
/// `/who`, and messages cross instances both ways.
#[test]
fn member_connecting_during_redis_outage() {
    let _serial = serial();
    let Some((redis, instances)) = cluster(2) else {
        return;
    };
    let port = redis.addr().port();
    let mut a1 = instances[0].member();
    let mut b1 = instances[1].member();
    let old = [a1.nick.clone(), b1.nick.clone()];
    for member in [&mut a1, &mut b1] {
        wait_who(member, &old);
    }
    redis.kill();
    for member in [&mut a1, &mut b1] {
        expect_line(member, "* cluster link down");
    }
    // The newcomers: `* welcome` (read by `member`), then the link's state at once.
    let mut a2 = instances[0].member();
    a2.expect("* cluster link down");
    let mut b2 = instances[1].member();
    b2.expect("* cluster link down");
    for new in [&a2, &b2] {
        let n = new.nick.strip_prefix("guest").map(str::parse::<u64>);
        assert!(matches!(n, Some(Ok(_))), "welcomed as {:?}", new.nick);
    }
    let arrivals = [&a1.nick, &b1.nick, &a2.nick, &b2.nick];
    let distinct: HashSet<String> = arrivals.iter().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(
        distinct.len(),
        arrivals.len(),
        "a guest nick in use: {arrivals:?}"
    );
    // Each instance serves its own members: joins and messages, both ways.
    let mut outage = Vec::new();
    for (home, new) in [(&mut a1, &mut a2), (&mut b1, &mut b2)] {
        outage.extend(expect_line(home, &format!("* {} joined lobby", new.nick)));
        new.send("new here");
        outage.extend(expect_line(home, &format!("{}: new here", new.nick)));
        home.send("welcome aboard");
        outage.extend(expect_line(new, &format!("{}: welcome aboard", home.nick)));
    }
    let Some(_redis) = RedisServer::start_on(port) else {
        panic!("redis-server did not start again on port {port}");
    };
    let mut members = [a1, b1, a2, b2];
    // Lines skipped while waiting for wanted ones, from the outage on.
    let mut skipped = outage;
    for member in &mut members {
        let (lines, _) = read_until(member, |l| l == "* cluster link up");
        if let Some(guest) = renamed_on_recheck(&lines, &member.nick) {
            member.nick = guest;
        }
        skipped.extend(lines);
    }
    let all: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let distinct: HashSet<String> = all.iter().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(distinct.len(), all.len(), "nicks repeat: {all:?}");
    for member in &mut members {
        skipped.extend(wait_who(member, &all));
    }
    // Messages cross again, and nothing said during the outage does.
    let [a1, b1, a2, b2] = &mut members;
    a2.send("from a");
    skipped.extend(expect_line(b2, &format!("{}: from a", a2.nick)));
    skipped.extend(expect_line(b1, &format!("{}: from a", a2.nick)));
    b2.send("from b");
    skipped.extend(expect_line(a2, &format!("{}: from b", b2.nick)));
    skipped.extend(expect_line(a1, &format!("{}: from b", b2.nick)));
    let stray: Vec<&String> = (skipped.iter())
        .filter(|l| l.ends_with(": new here") || l.ends_with(": welcome aboard"))
        .collect();
    assert!(
        stray.is_empty(),
        "said during the outage, heard elsewhere: {stray:?}"
    );
}

/// How many members connect to each instance during the outage in the test of an exhausted
/// reserve: more than a reserve of guest numbers (under 50 per reactor) can welcome, on two
/// reactors.
const OUTAGE_CROWD: usize = 110;

/// More members connect to each of two instances while Redis is down than the instances'
/// reserves of guest numbers can welcome, so that each instance picks guest numbers alone:
/// every welcome nick is unique on its instance and none is a nick already in use; when Redis
/// is back every member hears `* cluster link up`, a member whose nick the other instance
/// took meanwhile is renamed to a fresh `guest<N>` and told so, and then nicks are unique
/// across the cluster and every instance lists them all in `/who`.
#[test]
fn members_beyond_the_guest_reserve_during_redis_outage() {
    let _serial = serial();
    let Some((redis, instances)) = cluster(2) else {
        return;
    };
    let port = redis.addr().port();
    let mut members: Vec<ChatClient> = instances.iter().map(Instance::member).collect();
    let old: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    for member in &mut members {
        wait_who(member, &old);
    }
    redis.kill();
    for member in &mut members {
        expect_line(member, "* cluster link down");
    }
    for instance in &instances {
        let mut seen: HashSet<String> = old.iter().map(|n| n.to_ascii_lowercase()).collect();
        for _ in 0..OUTAGE_CROWD {
            let mut new = instance.member();
            new.expect("* cluster link down");
            assert!(
                seen.insert(new.nick.to_ascii_lowercase()),
                "{} welcomed twice, or in use: {old:?}",
                new.nick
            );
            members.push(new);
        }
    }
    let Some(_redis) = RedisServer::start_on(port) else {
        panic!("redis-server did not start again on port {port}");
    };
    let mut renamed = 0;
    for member in &mut members {
        let (lines, _) = read_until(member, |l| l == "* cluster link up");
        if let Some(guest) = renamed_on_recheck(&lines, &member.nick) {
            assert!(guest.starts_with("guest"), "{guest}");
            member.nick = guest;
            renamed += 1;
        }
    }
    eprintln!("{renamed} renamed on the check after the outage");
    let all: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let distinct: HashSet<String> = all.iter().map(|n| n.to_ascii_lowercase()).collect();
    assert_eq!(distinct.len(), all.len(), "nicks repeat: {all:?}");
    for probe in &mut members[..2] {
        wait_who(probe, &all);
    }
}

/// A member that stops reading is cut off (`! too slow`, past `CHAT_OUTBUF_LIMIT`) by its own
/// instance however fast another instance's member sends; a member that reads gets every line,
/// in order, and both instances hear that the slow one left.
#[test]
fn slow_member_across_instances_is_cut_off() {
    const LINES: usize = 60;
    const LEN: usize = 16 << 10;
    let _serial = serial();
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limit = [("CHAT_OUTBUF_LIMIT", "256KiB"), ("CHAT_CLUSTER_TTL", TTL)];
    let (a, b) = (
        Instance::start_with(redis.addr(), &limit),
        Instance::start_with(redis.addr(), &limit),
    );
    let mut sender = a.member();
    // The kernel holds about 100 KiB for it; the rest waits in its instance's output.
    let mut slow = ChatClient::over(stingy_stream(b.addr));
    let mut reader = b.member();
    let all = [sender.nick.clone(), slow.nick.clone(), reader.nick.clone()];
    wait_who(&mut sender, &all);
    wait_who(&mut reader, &all);
    let left = format!("* {} left lobby", slow.nick);
    let mut reader_saw_left = false;
    for k in 0..LINES {
        let mut line = format!("{k:04}:").into_bytes();
        line.resize(LEN, b'a' + (k % 26) as u8);
        let line = String::from_utf8(line).unwrap();
        sender.send(&line);
        // One line in flight at a time: the reader is never the one that falls behind.
        let (notices, got) = read_until(&mut reader, |l| !l.starts_with("* "));
        reader_saw_left |= notices.contains(&left);
        assert!(
            got == format!("{}: {line}", sender.nick),
            "line {k}: got {got:.80} after {notices:?}"
        );
    }
    if !reader_saw_left {
        expect_line(&mut reader, &left);
    }
    expect_line(&mut sender, &left);
    // It was cut off: its connection ends although it had far from everything.
    let got = slow.read_to_end();
    assert!(got.len() < LINES * LEN / 2, "{} bytes", got.len());
}

/// Three instances behind HAProxy (`leastconn`, `send-proxy-v2`, a health check with a LOCAL
/// PROXY header every 100 ms), 150 members connecting through it: welcome nicks are unique,
/// leastconn spreads the members over all three instances, each instance sees its members'
/// own addresses (not HAProxy's), every instance lists all 150 in `/who`, every room message
/// reaches every other member in the order its sender sent it, and the health checks, a second
/// of them and more with the members there, are no members: nobody sees one join or leave.
#[test]
fn crowd_behind_haproxy() {
    const MEMBERS: usize = 150;
    const MESSAGES: usize = 3;
    let _serial = serial();
    let Some((_redis, instances, haproxy)) = balanced_cluster(3, Some(TTL)) else {
        return;
    };
    let first = Instant::now();
    let mut members: Vec<ChatClient> = (0..MEMBERS)
        .map(|_| ChatClient::connect(haproxy.addr()))
        .collect();
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    let known: HashSet<&str> = nicks.iter().map(String::as_str).collect();
    assert_eq!(known.len(), nicks.len(), "welcome nicks repeat: {nicks:?}");
    let homes = welcomers(&instances, &members.iter().collect::<Vec<_>>());
    let spread = spread(&homes, instances.len());
    assert!(
        spread.iter().all(|&n| n >= MEMBERS / 6),
        "leastconn left an instance short: {spread:?}"
    );
    // What members may hear besides messages: each other joining.
    let expected = |line: &str| match line
        .strip_prefix("* ")
        .and_then(|l| l.strip_suffix(" joined lobby"))
    {
        Some(nick) if known.contains(nick) => Ok(()),
        _ => Err(format!("unexpected notice {line:?}")),
    };
    // A member of each instance: its instance lists the whole lobby.
    for instance in 0..instances.len() {
        let probe = homes.iter().position(|&h| h == instance).unwrap();
        for line in wait_who(&mut members[probe], &nicks) {
            expected(&line).unwrap_or_else(|e| panic!("{}: {e}", members[probe].nick));
        }
    }
    // Health checks go on meanwhile, for a second at least with the members there.
    std::thread::sleep(Duration::from_secs(1).saturating_sub(first.elapsed()));
    let logs: Vec<Vec<String>> = instances.iter().map(|i| i.process.log()).collect();
    fan_out(members, MESSAGES, |receiver, line| {
        expected(line).map_err(|e| format!("member {receiver}: {e}"))
    });
    // The checks were there to be seen: each instance took several while it had members.
    for (i, log) in logs.iter().enumerate() {
        let welcome = log.iter().position(|l| l.contains(" welcomed as "));
        let checks = log[welcome.unwrap_or(log.len())..]
            .iter()
            .filter(|l| l.contains("health check from 127.0.0.1:"))
            .count();
        assert!(
            checks >= 5,
            "instance {i}: {checks} health checks with members"
        );
    }
}

/// Behind HAProxy, with members that leastconn sent to each of three instances: `/who` lists
/// everyone on every instance, `/msg` reaches a member on another instance (its nick in any
/// case), and members of the three instances asking for the same nick at the same moment get
/// exactly one winner, ten times over.
#[test]
fn nicks_who_and_msg_behind_haproxy() {
    let _serial = serial();
    let Some((_redis, instances, haproxy)) = balanced_cluster(3, Some(TTL)) else {
        return;
    };
    // One member on each instance (leastconn sends three in a row to three instances; any
    // extra stays connected, so the counts stay even).
    let mut trio: Vec<Option<ChatClient>> = (0..instances.len()).map(|_| None).collect();
    let mut extra = Vec::new();
    while trio.iter().any(Option::is_none) {
        assert!(extra.len() < 10, "leastconn keeps missing an instance");
        let client = ChatClient::connect(haproxy.addr());
        let home = welcomers(&instances, &[&client])[0];
        match &mut trio[home] {
            slot @ None => *slot = Some(client),
            Some(_) => extra.push(client),
        }
    }
    let mut trio: Vec<ChatClient> = trio.into_iter().flatten().collect();
    let all: Vec<String> = (trio.iter().chain(&extra))
        .map(|m| m.nick.clone())
        .collect();
    for member in &mut trio {
        wait_who(member, &all);
    }
    for (from, to) in [(0, 1), (1, 2), (2, 0)] {
        let (sender, target) = (trio[from].nick.clone(), trio[to].nick.to_uppercase());
        trio[from].send(&format!("/msg {target} hi from {from}"));
        expect_line(
            &mut trio[to],
            &format!("{sender} (private): hi from {from}"),
        );
    }
    let trio: Vec<Arc<Mutex<ChatClient>>> =
        trio.into_iter().map(|m| Arc::new(Mutex::new(m))).collect();
    nick_race(&trio, 10);
}

/// Behind HAProxy: Redis stopped under three instances (every member is told `* cluster link
/// down`, and each instance goes on serving its own members) and started again (`* cluster
/// link up`; messages cross instances again, and what was said meanwhile never does). Then one
/// instance is killed with SIGKILL, which says nothing: its members' connections end, the
/// others see each of them leave (`* <nick> left lobby`) within 15 s, once its entries
/// expire (at the default lifetime, which this test keeps: the spec's bound is for it), its
/// nicks are free again, and new clients through HAProxy are served by the two instances
/// left.
#[test]
fn redis_restart_and_dead_instance_behind_haproxy() {
    const MEMBERS: usize = 9;
    let _serial = serial();
    let Some((redis, instances, haproxy)) = balanced_cluster(3, None) else {
        return;
    };
    let mut members: Vec<ChatClient> = (0..MEMBERS)
        .map(|_| ChatClient::connect(haproxy.addr()))
        .collect();
    let homes = welcomers(&instances, &members.iter().collect::<Vec<_>>());
    let spread = spread(&homes, instances.len());
    assert!(spread.iter().all(|&n| n >= 2), "{spread:?}");
    let nicks: Vec<String> = members.iter().map(|m| m.nick.clone()).collect();
    // of[i]: instance i's members, by index.
    let of: Vec<Vec<usize>> = (0..instances.len())
        .map(|i| (0..MEMBERS).filter(|&m| homes[m] == i).collect())
        .collect();
    for at in &of {
        wait_who(&mut members[at[0]], &nicks);
    }
    let port = redis.addr().port();
    redis.kill();
    for member in &mut members {
        expect_line(member, "* cluster link down");
    }
    for (i, at) in of.iter().enumerate() {
        let said = format!("{}: local {i}", members[at[0]].nick);
        members[at[0]].send(&format!("local {i}"));
        expect_line(&mut members[at[1]], &said);
    }
    let Some(_redis) = RedisServer::start_on(port) else {
        panic!("redis-server did not start again on port {port}");
    };
    for member in &mut members {
        expect_line(member, "* cluster link up");
    }
    for at in &of {
        wait_who(&mut members[at[0]], &nicks);
    }
    let sender = of[0][0];
    members[sender].send("back again");
    let said = format!("{}: back again", members[sender].nick);
    for (m, member) in members.iter_mut().enumerate() {
        if m != sender {
            let before = expect_line(member, &said);
            let stray = before.iter().find(|l| l.contains(": local "));
            assert!(stray.is_none(), "{}: {stray:?}", member.nick);
        }
    }
    // Instance 2 dies.
    let killed = Instant::now();
    instances[2].process.signal("KILL");
    let mut doomed = Vec::new();
    for &m in &of[2] {
        // HAProxy closes the client's side once the instance's is gone.
        members[m].read_to_end();
        doomed.push(format!("* {} left lobby", members[m].nick));
    }
    let survivors: Vec<usize> = (0..MEMBERS).filter(|&m| homes[m] != 2).collect();
    for &m in &survivors {
        let mut waiting: HashSet<&String> = doomed.iter().collect();
        while !waiting.is_empty() {
            let (_, line) = read_until(&mut members[m], |l| l.ends_with(" left lobby"));
            assert!(waiting.remove(&line), "{}: {line:?}", members[m].nick);
        }
    }
    let waited = killed.elapsed();
    assert!(
        waited <= Duration::from_secs(15),
        "members of the dead instance shown as left after {waited:?}"
    );
    // Its nicks expire with its entries.
    let (taker, wanted) = (survivors[0], members[of[2][0]].nick.clone());
    let deadline = Instant::now() + SPREAD;
    loop {
        members[taker].send(&format!("/nick {wanted}"));
        let (_, reply) = read_until(&mut members[taker], |l| {
            l.starts_with("* you are ") || l.starts_with("! nick ")
        });
        if reply == format!("* you are {wanted}") {
            members[taker].nick = wanted;
            break;
        }
        assert!(Instant::now() < deadline, "{wanted} never freed: {reply}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut newcomers: Vec<ChatClient> = (0..4)
        .map(|_| ChatClient::connect(haproxy.addr()))
        .collect();
    let new_homes = welcomers(&instances, &newcomers.iter().collect::<Vec<_>>());
    assert!(!new_homes.contains(&2), "{new_homes:?}");
    newcomers[0].send("new here");
    let said = format!("{}: new here", newcomers[0].nick);
    for &m in &survivors {
        expect_line(&mut members[m], &said);
    }
}

/// A `CHAT_REDIS` or `CHAT_CLUSTER_TTL` that does not parse stops the example before it binds,
/// with exit code 2 and a message naming the variable.
#[test]
fn bad_cluster_settings_exit_2() {
    let _serial = serial();
    for (var, value) in [
        ("CHAT_REDIS", "localhost:6379"),
        ("CHAT_REDIS", "127.0.0.1"),
        ("CHAT_CLUSTER_TTL", "20s"),
        ("CHAT_CLUSTER_TTL", "soon"),
    ] {
        let mut env = vec![
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("CHAT_REDIS", "127.0.0.1:1"),
        ];
        env.retain(|(name, _)| *name != var);
        env.push((var, value));
        let mut process = spawn(&env);
        let status = process
            .wait_exit(Duration::from_secs(20))
            .expect("it exits");
        assert_eq!(
            status.code(),
            Some(2),
            "{var}={value}: {}",
            process.output()
        );
        assert!(
            process.output().contains(var),
            "{var}={value}: {}",
            process.output()
        );
    }
}

/// `CHAT_CLUSTER_TTL`'s smallest accepted value (the example refuses less than 1 s).
const MIN_TTL: Duration = Duration::from_secs(1);

/// The lifetime in milliseconds that Redis has left for `key`: `-2` if it is not there, `-1`
/// if it has none.
fn pttl(redis: &RedisServer, key: &str) -> i64 {
    let out = redis.cli(&["PTTL", key]);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("PTTL {key}: {out:?}"))
}

/// "Each instance renews its own entries": with the shortest entry lifetime the example
/// accepts (`CHAT_CLUSTER_TTL=1s`), two live instances with a member each go on listing both
/// members in `/who` for more than three lifetimes, nobody hears anyone leave, and in Redis
/// both members' nick keys and every stream's member list stay there all along with a lifetime
/// never above 1 s: renewed, not made to last.
#[test]
fn entries_are_renewed_for_longer_than_their_ttl() {
    let _serial = serial();
    let Some((redis, instances)) = cluster_with(2, "1s") else {
        return;
    };
    let mut a = instances[0].member();
    let mut b = instances[1].member();
    let mut both = vec![a.nick.clone(), b.nick.clone()];
    both.sort_unstable();
    wait_who(&mut a, &both);
    wait_who(&mut b, &both);
    // Each reactor's stream (two reactors each) has its member list in Redis.
    let stream_keys = || {
        let keys = redis.cli(&["KEYS", "chat:stream:*"]);
        keys.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(
        util::wait_until(SPREAD, || stream_keys().len() == 4),
        "stream hashes: {:?}",
        stream_keys()
    );
    // Notices that may still come from before the start: each other joining.
    let joined: Vec<String> = both.iter().map(|n| format!("* {n} joined lobby")).collect();
    let ttl_ms = i64::try_from(MIN_TTL.as_millis()).unwrap();
    let began = Instant::now();
    let mut rounds = 0;
    // Past three lifetimes, and five rounds at least however slowly each goes.
    while began.elapsed() < MIN_TTL * 3 + Duration::from_millis(500) || rounds < 5 {
        for member in [&mut a, &mut b] {
            let mut heard = Vec::new();
            let nicks = who_noting(member, &mut heard);
            assert_eq!(
                nicks,
                both,
                "{}: /who after {:?}",
                member.nick,
                began.elapsed()
            );
            heard.retain(|line| !joined.contains(line));
            assert!(heard.is_empty(), "{}: heard {heard:?}", member.nick);
        }
        for nick in &both {
            let key = format!("chat:nick:{}", nick.to_ascii_lowercase());
            let left = pttl(&redis, &key);
            assert!(
                (1..=ttl_ms).contains(&left),
                "{key}: PTTL {left} after {:?}",
                began.elapsed()
            );
        }
        let streams = stream_keys();
        assert_eq!(streams.len(), 4, "stream hashes: {streams:?}");
        for key in &streams {
            let left = pttl(&redis, key);
            assert!(
                (1..=ttl_ms).contains(&left),
                "{key}: PTTL {left} after {:?}",
                began.elapsed()
            );
        }
        rounds += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Entry lifetime in the test of a silent Redis: its instances allow Redis half of it
/// (4 s) to answer before they count the link as broken, well above [`SILENCE`].
const SILENT_TTL: &str = "8s";

/// How long the test of a silent Redis keeps it stopped: longer than a renewal period
/// (a quarter of [`SILENT_TTL`]) and several checks of the subscriber.
const SILENCE: Duration = Duration::from_millis(2500);

/// "No reactor ever waits for Redis": Redis stays connected but silent (its process stopped
/// with SIGSTOP, its sockets open) for longer than a renewal period. Meanwhile the members of
/// one instance hear each other (plain and `//` lines, after a `/join` too), get `/who`,
/// `/rooms`, `/help`, a local `/msg` and `! unknown command` at once, and see joins and
/// leaves, while one member's `/nick`, which needs Redis's answer, waits alone. Once Redis
/// runs again (SIGCONT): the `/nick` is answered, what was said in the other instance's room
/// meanwhile reaches it in each sender's order (the link never went down), nobody was told
/// `* cluster link down`, and messages cross both ways again.
#[test]
fn silent_redis_blocks_no_reactor() {
    let _serial = serial();
    let Some((redis, instances)) = cluster_with(2, SILENT_TTL) else {
        return;
    };
    let (mut a1, mut a2, mut a3) = (
        instances[0].member(),
        instances[0].member(),
        instances[0].member(),
    );
    let mut b1 = instances[1].member();
    let mut all = vec![
        a1.nick.clone(),
        a2.nick.clone(),
        a3.nick.clone(),
        b1.nick.clone(),
    ];
    all.sort_unstable();
    for member in [&mut a1, &mut a2, &mut a3, &mut b1] {
        wait_who(member, &all);
    }
    let (n1, n2, n3) = (a1.nick.clone(), a2.nick.clone(), a3.nick.clone());
    // Lines skipped while waiting for a wanted one; none may be a link notice.
    let mut skipped = Vec::new();

    let pid = redis.pid();
    util::kill(pid, "STOP");
    let stopped = Instant::now();
    a3.send("/nick waiter");
    a1.send("during 1");
    skipped.extend(expect_line(&mut a2, &format!("{n1}: during 1")));
    a2.send("//slash");
    skipped.extend(expect_line(&mut a1, &format!("{n2}: /slash")));
    assert_eq!(who_noting(&mut a1, &mut skipped), all);
    a1.send("/rooms");
    skipped.extend(expect_line(&mut a1, "* rooms: lobby(4)"));
    a2.send("/help");
    skipped.extend(expect_line(&mut a2, "* commands:"));
    let (listed, _) = read_until(&mut a2, |line| line.starts_with("*   /help "));
    assert!(listed.iter().all(|l| l.starts_with("*   ")), "{listed:?}");
    a1.send(&format!("/msg {} psst", n2.to_uppercase()));
    skipped.extend(expect_line(&mut a2, &format!("{n1} (private): psst")));
    a1.send("/bogus");
    skipped.extend(expect_line(&mut a1, "! unknown command /bogus"));
    a2.send("/join games");
    skipped.extend(expect_line(&mut a2, "* you joined games (1 members)"));
    skipped.extend(expect_line(&mut a1, &format!("* {n2} left lobby")));
    a1.send("/join games");
    skipped.extend(expect_line(&mut a1, "* you joined games (2 members)"));
    skipped.extend(expect_line(&mut a2, &format!("* {n1} joined games")));
    a1.send("in games");
    skipped.extend(expect_line(&mut a2, &format!("{n1}: in games")));
    let mut games = vec![n1.clone(), n2.clone()];
    games.sort_unstable();
    assert_eq!(who_noting(&mut a2, &mut skipped), games);
    let served = stopped.elapsed();
    std::thread::sleep(SILENCE.saturating_sub(served));
    // The premise: Redis was connected all along, never given up on.
    for instance in &instances {
        let log = instance.process.output();
        assert!(
            !log.contains("reconnecting") && !log.contains("lost Redis"),
            "the link to Redis dropped during the silence: {log}"
        );
    }
    util::kill(pid, "CONT");
    eprintln!("local chat served in {served:?} of {SILENCE:?} of silence");

    // The `/nick` waited for Redis: it is answered after everything said meanwhile.
    let (before, _) = read_until(&mut a3, |line| line == "* you are waiter");
    for line in [
        format!("{n1}: during 1"),
        format!("{n2}: /slash"),
        format!("* {n2} left lobby"),
        format!("* {n1} left lobby"),
    ] {
        assert!(
            before.contains(&line),
            "{n3} got {before:?} before its nick"
        );
    }
    skipped.extend(before);
    // The other instance hears what was said in its room meanwhile, each sender in order.
    let wanted = [
        format!("{n1}: during 1"),
        format!("* {n1} left lobby"),
        format!("{n2}: /slash"),
        format!("* {n2} left lobby"),
        format!("* {n3} is now waiter"),
    ];
    let mut heard: Vec<String> = Vec::new();
    while !wanted.iter().all(|w| heard.contains(w)) {
        let (lines, line) = read_until(&mut b1, |line| wanted.iter().any(|w| w == line));
        skipped.extend(lines);
        heard.push(line);
    }
    let at = |line: &String| heard.iter().position(|h| h == line).unwrap();
    assert!(at(&wanted[0]) < at(&wanted[1]), "{heard:?}");
    assert!(at(&wanted[2]) < at(&wanted[3]), "{heard:?}");
    // Messages cross again, both ways.
    b1.send("back");
    skipped.extend(expect_line(&mut a3, &format!("{}: back", b1.nick)));
    a3.send("hi b");
    skipped.extend(expect_line(&mut b1, "waiter: hi b"));
    b1.send("/join games");
    skipped.extend(expect_line(&mut b1, "* you joined games (3 members)"));
    skipped.extend(expect_line(&mut a1, &format!("* {} joined games", b1.nick)));
    a1.send("welcome");
    skipped.extend(expect_line(&mut b1, &format!("{n1}: welcome")));
    let stray: Vec<&String> = (skipped.iter())
        .filter(|line| line.contains("cluster link") || line.contains(": in games"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}
