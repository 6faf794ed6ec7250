//! The gateway example against `shared/specs/gateway.md`, line by line: its handlers in
//! process, a `redis-server` of each test's own (Debian's package; the tests that need it skip
//! with a printed reason without it), and a delaying RESP back end for the timing lines.

#[path = "../examples/gateway/backend.rs"]
mod backend;
#[path = "../examples/gateway/client.rs"]
mod client;
#[path = "../examples/gateway/config.rs"]
mod config;
#[path = "../examples/gateway/json.rs"]
mod json;
mod util;

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use turbine::{Command, Decoder, ReadBuf, RespCodec, Running};
use util::redis::RedisServer;
use util::resp_client::multibulk;
use util::{connect, start, wait_until};

use client::Client;
use config::Settings;

/// Starts the gateway's handlers in process, in front of `redis`, with `backend_connections`
/// connections to it per reactor (`GATEWAY_BACKEND_CONNECTIONS`; the spec's default is 2).
fn gateway(
    redis: SocketAddr,
    timeout: Duration,
    reactors: usize,
    backend_connections: usize,
) -> Running {
    let settings = Arc::new(Settings {
        redis,
        timeout,
        backend_connections,
    });
    start(util::config().reactors(reactors), move |_| {
        Client::new(Arc::clone(&settings))
    })
}

/// A line client of the gateway.
struct Lines {
    /// Reads answers.
    reader: BufReader<TcpStream>,
    /// Sends requests.
    writer: TcpStream,
}

impl Lines {
    fn connect(addr: SocketAddr) -> Lines {
        let stream = connect(addr);
        Lines {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends `requests` in one write.
    fn send(&mut self, requests: &str) {
        self.writer.write_all(requests.as_bytes()).unwrap();
    }

    /// The next answer, without its `\n`.
    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("an answer");
        assert!(line.ends_with('\n'), "an answer line: {line:?}");
        line.pop();
        line
    }

    /// Sends one request and reads its answer.
    fn ask(&mut self, request: &str) -> String {
        self.send(&format!("{request}\n"));
        self.line()
    }

    /// Whether nothing more has come yet: no byte read and not handed out, none waiting in the
    /// socket (a non-blocking read would block).
    fn nothing_more(&mut self) -> bool {
        if !self.reader.buffer().is_empty() {
            return false;
        }
        let stream = self.reader.get_ref();
        stream.set_nonblocking(true).unwrap();
        let peeked = stream.peek(&mut [0; 1]);
        stream.set_nonblocking(false).unwrap();
        match peeked {
            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
            Ok(_) => false,
            Err(e) => panic!("peek: {e}"),
        }
    }
}

/// `USER <id>`: one line of JSON, fields sorted by name, strings escaped per RFC 8259; a user
/// that does not exist is `{"user":null,"orders":[]}`. `PING` is answered `PONG`, anything else
/// `ERR unknown command`, a bad id `ERR invalid id`; `\r\n` works as `\n`.
#[test]
fn requests_and_answers() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.cli(&[
        "hset",
        "user:42",
        "name",
        "Ann \"the\" admin",
        "age",
        "41",
        "city",
        "Oslo\\Nord",
    ]);
    redis.cli(&["rpush", "orders:42", "o-1", "o\t2"]);
    let running = gateway(redis.addr(), Duration::from_secs(1), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    assert_eq!(
        client.ask("USER 42"),
        r#"{"user":{"age":"41","city":"Oslo\\Nord","name":"Ann \"the\" admin"},"orders":["o-1","o\t2"]}"#
    );
    assert_eq!(
        client.ask("USER nobody_here-7"),
        r#"{"user":null,"orders":[]}"#
    );
    assert_eq!(client.ask("PING"), "PONG");
    assert_eq!(client.ask("PING\r"), "PONG");
    for bad in [
        "USER",
        "USER a b",
        "USER x!",
        &format!("USER {}", "a".repeat(65)),
    ] {
        assert_eq!(client.ask(bad), "ERR invalid id", "{bad:?}");
    }
    assert_eq!(
        client.ask(&format!("USER {}", "a".repeat(64))),
        r#"{"user":null,"orders":[]}"#
    );
    for unknown in ["GET x", "ping", "", "USERS 1"] {
        assert_eq!(client.ask(unknown), "ERR unknown command", "{unknown:?}");
    }
}

/// Requests are answered in the order they arrive, whatever order the back end answers in:
/// 100 pipelined requests (`USER` of several users, `PING`, errors) in one write.
#[test]
fn pipelined_requests_answered_in_order() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    for id in 0..5 {
        redis.cli(&["hset", &format!("user:{id}"), "n", &id.to_string()]);
    }
    let running = gateway(redis.addr(), Duration::from_secs(2), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    let mut requests = String::new();
    let mut expected = Vec::new();
    for i in 0..100 {
        match i % 4 {
            0 | 1 => {
                let id = i % 5;
                requests.push_str(&format!("USER {id}\n"));
                expected.push(format!(r#"{{"user":{{"n":"{id}"}},"orders":[]}}"#));
            }
            2 => {
                requests.push_str("PING\n");
                expected.push("PONG".to_string());
            }
            _ => {
                requests.push_str("NOPE\n");
                expected.push("ERR unknown command".to_string());
            }
        }
    }
    client.send(&requests);
    let answers: Vec<String> = (0..100).map(|_| client.line()).collect();
    assert_eq!(answers, expected);
}

/// A RESP error from the back end is answered `ERR backend: <its message>`.
#[test]
fn backend_errors_are_passed_on() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    redis.cli(&["set", "user:7", "a string, not a hash"]);
    let running = gateway(redis.addr(), Duration::from_secs(1), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    let answer = client.ask("USER 7");
    assert!(answer.starts_with("ERR backend: WRONGTYPE"), "{answer}");
}

/// The back end unreachable: each request gets `ERR backend unavailable` at once (not after
/// the timeout). When it drops with requests waiting, they get it at once too. When it is back,
/// the gateway reconnects (after its back-off) and serves again without a restart.
#[test]
fn backend_unavailable_then_back() {
    let down = util::Refusing::new();
    let addr = down.addr();
    let running = gateway(addr, Duration::from_secs(5), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    let began = Instant::now();
    assert_eq!(client.ask("USER 1"), "ERR backend unavailable");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "not at once: {:?}",
        began.elapsed()
    );

    drop(down); // the port, held until now, is free for Redis
    let Some(redis) = RedisServer::start_on(addr.port()) else {
        return;
    };
    redis.cli(&["hset", "user:1", "n", "1"]);
    let served = wait_until(Duration::from_secs(10), || {
        client.ask("USER 1") == r#"{"user":{"n":"1"},"orders":[]}"#
    });
    assert!(served, "served again once the back end is back");

    // Requests waiting when it drops: a blocking command keeps the first query unanswered.
    redis.cli(&["del", "user:1"]);
    let mut blocker = util::resp_client::RespClient::connect(redis.addr());
    blocker.send(&["CLIENT", "PAUSE", "3000"]);
    let _ = blocker.read();
    client.send("USER 1\n");
    std::thread::sleep(Duration::from_millis(200));
    let began = Instant::now();
    redis.kill();
    assert_eq!(client.line(), "ERR backend unavailable");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "not at once: {:?}",
        began.elapsed()
    );
}

/// A RESP back end on its own threads: a reader per connection decodes each query and a
/// writer sends its answer, in order, a delay (per query) after the query arrived (pipelined:
/// each query's clock starts when it arrives, not when the one before it is answered; an answer
/// due before the one ahead of it on its connection follows that one at once, as with Redis)
/// and not before the back end is open. It counts the connections it accepted, the queries
/// waiting for their answer and the most at once.
struct Backend {
    /// Where it listens.
    addr: SocketAddr,
    /// Connections accepted since it started.
    accepted: Arc<AtomicUsize>,
    /// Queries received and not answered yet.
    in_flight: Arc<AtomicUsize>,
    /// The most queries waiting for their answer at once.
    most_in_flight: Arc<AtomicUsize>,
    /// Whether it answers: until [`open`](Backend::open), a held back end only collects.
    gate: Arc<Gate>,
}

/// Whether a back end answers, and a way to wait until it does.
type Gate = (Mutex<bool>, Condvar);

/// How long a [`Backend`] waits before answering a query, from when the query arrived.
type Delay = Arc<dyn Fn(&Command) -> Duration + Send + Sync>;

/// Answers a query from its key alone: `HGETALL user:<id>` with `name` and `id` fields (in that
/// order, so the gateway's JSON sorts them), `LRANGE orders:<id> 0 -1` with two orders, both
/// empty for an id that starts with `x` (no such user).
fn answer_by_key(query: &Command) -> Vec<u8> {
    match key(query).split_once(':') {
        Some((_, id)) if id.starts_with('x') => multibulk(&[]),
        Some(("user", id)) => {
            multibulk(&[b"name", format!("n-{id}").as_bytes(), b"id", id.as_bytes()])
        }
        Some(("orders", id)) => {
            multibulk(&[format!("{id}-a").as_bytes(), format!("{id}-b").as_bytes()])
        }
        _ => b"-ERR unexpected query\r\n".to_vec(),
    }
}

/// The key of a query (`user:<id>`, `orders:<id>`).
fn key(query: &Command) -> String {
    String::from_utf8_lossy(query.arg(1).unwrap_or_default()).into_owned()
}

/// The gateway's answer to `USER <id>` from [`answer_by_key`] (`id` a user that exists).
fn keyed_answer(id: &str) -> String {
    format!(r#"{{"user":{{"id":"{id}","name":"n-{id}"}},"orders":["{id}-a","{id}-b"]}}"#)
}

impl Backend {
    /// Answers every `HGETALL` with a user called `slow` and every other query with one
    /// order, `delay` after it arrived.
    fn slow(delay: Duration) -> Backend {
        Backend::start(Arc::new(move |_| delay), true, |query| {
            if query.name().eq_ignore_ascii_case(b"HGETALL") {
                b"*2\r\n$4\r\nname\r\n$4\r\nslow\r\n".to_vec()
            } else {
                b"*1\r\n$2\r\no1\r\n".to_vec()
            }
        })
    }

    /// Holds every query until [`open`](Backend::open), then answers each at once, from its
    /// key alone ([`answer_by_key`]).
    fn held() -> Backend {
        Backend::start(Arc::new(|_| Duration::ZERO), false, answer_by_key)
    }

    /// Answers each query from its key alone ([`answer_by_key`]): the queries of an id that
    /// starts with `late` (`user:late...`, `orders:late...`) `late` after they arrived, every
    /// other at once.
    fn keyed(late: Duration) -> Backend {
        let delay = move |query: &Command| {
            let late_id = key(query)
                .split_once(':')
                .is_some_and(|(_, id)| id.starts_with("late"));
            if late_id { late } else { Duration::ZERO }
        };
        Backend::start(Arc::new(delay), true, answer_by_key)
    }

    fn start(delay: Delay, open: bool, answer: fn(&Command) -> Vec<u8>) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let backend = Backend {
            addr: listener.local_addr().unwrap(),
            accepted: Arc::new(AtomicUsize::new(0)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            most_in_flight: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new((Mutex::new(open), Condvar::new())),
        };
        let counts = Arc::clone(&backend.in_flight);
        let most = Arc::clone(&backend.most_in_flight);
        let gate = Arc::clone(&backend.gate);
        let accepted = Arc::clone(&backend.accepted);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (delay, counts, most, gate) = (
                    Arc::clone(&delay),
                    Arc::clone(&counts),
                    Arc::clone(&most),
                    Arc::clone(&gate),
                );
                std::thread::spawn(move || serve(conn, &*delay, answer, &counts, &most, &gate));
            }
        });
        backend
    }

    /// Lets every held query, and every later one, be answered.
    fn open(&self) {
        let (open, opened) = &*self.gate;
        *open.lock().unwrap() = true;
        opened.notify_all();
    }
}

/// One connection of [`Backend`]: a reader queues each answer with the time it is due, a
/// writer sends them when due once the gate is open.
fn serve(
    conn: TcpStream,
    delay: &(dyn Fn(&Command) -> Duration + Send + Sync),
    answer: fn(&Command) -> Vec<u8>,
    in_flight: &Arc<AtomicUsize>,
    most: &AtomicUsize,
    gate: &Arc<Gate>,
) {
    let (due, pending) = mpsc::channel::<(Instant, Vec<u8>)>();
    let mut writer = conn.try_clone().unwrap();
    let (writing_count, gate) = (Arc::clone(in_flight), Arc::clone(gate));
    let writing = std::thread::spawn(move || {
        let (open, opened) = &*gate;
        drop(
            opened
                .wait_while(open.lock().unwrap(), |open| !*open)
                .unwrap(),
        );
        for (at, answer) in pending {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            if writer.write_all(&answer).is_err() {
                return;
            }
            writing_count.fetch_sub(1, Ordering::SeqCst);
        }
    });
    let mut reader = conn;
    let mut codec = RespCodec::new(1 << 20);
    let mut input = ReadBuf::new();
    let mut buf = [0; 16 << 10];
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        input.extend_from_slice(&buf[..n]);
        while let Ok(Some(query)) = codec.decode(&mut input) {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            if due
                .send((Instant::now() + delay(&query), answer(&query)))
                .is_err()
            {
                return;
            }
        }
    }
    drop(due);
    let _ = writing.join();
}

/// The expected answer of [`Backend::slow`] to `USER <any>`.
const SLOW_ANSWER: &str = r#"{"user":{"name":"slow"},"orders":["o1"]}"#;

/// Both queries of a request go out at once: a back end that answers each 300 ms after it
/// came holds the request's two queries at the same time (so a request takes about 300 ms, not
/// 600; the time is printed, not asserted, as this machine's timing is noisy). And a single
/// reactor keeps hundreds of requests in flight: 300 clients asking at once all get their
/// answer, and the back end held 300 of their queries or more at the same time.
#[test]
fn queries_run_concurrently() {
    let delay = Duration::from_millis(300);
    let backend = Backend::slow(delay);
    let running = gateway(backend.addr, Duration::from_secs(10), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    assert_eq!(client.ask("USER warmup"), SLOW_ANSWER); // connects the back end
    let began = Instant::now();
    assert_eq!(client.ask("USER 1"), SLOW_ANSWER);
    let took = began.elapsed();
    eprintln!("one request: {took:?} with a back end answering after {delay:?}");
    assert_eq!(
        backend.most_in_flight.load(Ordering::SeqCst),
        2,
        "one request at a time: its two queries were not at the back end together"
    );

    let mut clients: Vec<Lines> = (0..300)
        .map(|_| Lines::connect(running.local_addr()))
        .collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("USER c{i}\n"));
    }
    for c in &mut clients {
        assert_eq!(c.line(), SLOW_ANSWER);
    }
    let most = backend.most_in_flight.load(Ordering::SeqCst);
    assert!(most >= 300, "at most {most} queries were in flight at once");
}

/// A request whose back end does not answer within `GATEWAY_TIMEOUT` gets `ERR timeout`, not
/// before that time, and its late reply is discarded, never sent to another request. A 600 ms
/// timeout, four back-end connections, and a back end that answers the queries of `USER late`
/// after 1.5 s and every other query at once (each step has 300 ms or more to spare, for a busy
/// machine): `USER late` pipelined with `USER fast` gets
/// `ERR timeout` and `USER fast` its own answer; a `USER mid` whose queries wait behind the
/// late ones when their replies come gets its own answer, and so does a `USER` after the late
/// replies; nothing else ever comes.
#[test]
fn timeout_and_late_replies() {
    const TIMEOUT: Duration = Duration::from_millis(600);
    const LATE: Duration = Duration::from_millis(1500);
    let backend = Backend::keyed(LATE);
    // The queries go out over the back-end connections in turn: late's take the first two,
    // fast's the other two, so fast's replies are not held behind late's.
    let running = gateway(backend.addr, TIMEOUT, 1, 4);
    let mut client = Lines::connect(running.local_addr());
    let began = Instant::now();
    client.send("USER late\nUSER fast\n");
    assert_eq!(client.line(), "ERR timeout");
    let took = began.elapsed();
    // Not before the timeout; and before the late replies (due at `LATE`) came, or the line
    // would have been the answer.
    assert!(
        took >= TIMEOUT - Duration::from_millis(10),
        "ERR timeout after {took:?}, before the {TIMEOUT:?} timeout"
    );
    assert_eq!(client.line(), keyed_answer("fast"), "USER fast");
    assert_eq!(client.ask("PING"), "PONG");

    // 300 ms before the late replies come, a request whose queries (next in turn: the first
    // two back-end connections again) wait behind the late ones: its answer follows them, within
    // its own timeout, and must be its own, not theirs.
    std::thread::sleep(
        (began + LATE - Duration::from_millis(300)).saturating_duration_since(Instant::now()),
    );
    assert_eq!(
        backend.in_flight.load(Ordering::SeqCst),
        2,
        "the late queries were answered already"
    );
    assert_eq!(
        client.ask("USER mid"),
        keyed_answer("mid"),
        "a late reply was sent to USER mid"
    );
    let answered = began.elapsed();
    assert!(
        answered >= LATE,
        "USER mid answered after {answered:?}: it did not wait behind the late replies"
    );

    // Now the late replies have come; they must not answer a later request either.
    assert!(wait_until(Duration::from_secs(5), || backend
        .in_flight
        .load(Ordering::SeqCst)
        == 0));
    client.send("PING\n");
    assert_eq!(
        client.line(),
        "PONG",
        "a late reply was sent to the wrong request"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(client.ask("USER after"), keyed_answer("after"));
    client.send("PING\n");
    assert_eq!(
        client.line(),
        "PONG",
        "a late reply was sent to the wrong request"
    );
    std::thread::sleep(Duration::from_millis(50));
    assert!(client.nothing_more(), "a stray line came");
}

/// `GATEWAY_BACKEND_CONNECTIONS` is the number of back-end connections per reactor: with one
/// reactor and 1, then 3, connections, 20 pipelined `USER` requests are answered over exactly
/// that many connections (accepted by the back end, and connects made by the gateway).
#[test]
fn backend_connections_per_reactor() {
    for connections in [1, 3] {
        let backend = Backend::keyed(Duration::ZERO);
        let running = gateway(backend.addr, Duration::from_secs(5), 1, connections);
        let mut client = Lines::connect(running.local_addr());
        let requests: String = (0..20).map(|i| format!("USER u{i}\n")).collect();
        client.send(&requests);
        for i in 0..20 {
            assert_eq!(client.line(), keyed_answer(&format!("u{i}")), "request {i}");
        }
        assert_eq!(
            backend.accepted.load(Ordering::SeqCst),
            connections,
            "back-end connections accepted with {connections} asked for"
        );
        let stats = running.stats().total();
        assert_eq!(
            (stats.connects, stats.outbound),
            (connections as u64, connections as u64),
            "the gateway's connects and outbound connections with {connections} asked for"
        );
    }
}

/// A graceful shutdown answers a request in flight before the connection closes.
#[test]
fn shutdown_answers_requests_in_flight() {
    let backend = Backend::slow(Duration::from_millis(300));
    let running = gateway(backend.addr, Duration::from_secs(5), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    assert_eq!(client.ask("USER warmup"), SLOW_ANSWER);
    client.send("USER 2\n");
    std::thread::sleep(Duration::from_millis(50));
    let stopping = std::thread::spawn(move || running.shutdown());
    assert_eq!(client.line(), SLOW_ANSWER);
    let mut rest = Vec::new();
    client.reader.read_to_end(&mut rest).expect("a clean EOF");
    assert!(rest.is_empty());
    stopping.join().unwrap().expect("the gateway stopped");
}

/// The binary: a `GATEWAY_*` value that does not parse stops it with exit code 2 and a message
/// naming the variable, before anything is bound (the address is held by another socket, which
/// good settings would fail to bind); with good settings it serves (`PING` without the back
/// end, `ERR backend unavailable` while nothing listens there).
#[test]
fn the_binary_checks_its_settings_then_serves() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (var, value) in [
        ("GATEWAY_REDIS", "localhost:6379"),
        ("GATEWAY_TIMEOUT", "soon"),
        ("GATEWAY_BACKEND_CONNECTIONS", "0"),
    ] {
        let output = std::process::Command::new(util::example_binary("gateway"))
            .env_clear()
            .env("TURBINE_ADDR", &addr)
            .env(var, value)
            .output()
            .expect("run the gateway");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
        assert!(!stderr.contains("cannot listen"), "bound first: {stderr}");
    }
    let down = util::Refusing::new();
    let redis = down.addr().to_string();
    let process = util::Example::spawn_binary(
        util::example_binary("gateway"),
        &[("TURBINE_ADDR", "127.0.0.1:0"), ("GATEWAY_REDIS", &redis)],
    );
    let mut client = Lines::connect(process.listening_addr());
    assert_eq!(client.ask("PING"), "PONG");
    assert_eq!(client.ask("USER 1"), "ERR backend unavailable");
}

/// The settings: the spec's defaults, each `GATEWAY_*` and `TURBINE_*` variable applied, and
/// a bad value refused naming its variable.
#[test]
fn settings() {
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    };
    let (config, settings) = from(&[]).unwrap();
    assert_eq!(config.addr, config::DEFAULT_ADDR);
    assert_eq!(config.addr.to_string(), "127.0.0.1:7882");
    assert_eq!(settings.redis.to_string(), "127.0.0.1:6379");
    assert_eq!(settings.timeout, Duration::from_secs(1));
    assert_eq!(settings.backend_connections, 2);
    // Every other TURBINE_* setting applies, and is refused by name.
    let (config, _) = from(&[
        ("TURBINE_ADDR", "127.0.0.1:9000"),
        ("TURBINE_REACTORS", "3"),
    ])
    .unwrap();
    assert_eq!(
        (config.addr.to_string().as_str(), config.reactors),
        ("127.0.0.1:9000", 3)
    );
    assert_eq!(
        from(&[("TURBINE_REACTORS", "0")]).unwrap_err().var,
        "TURBINE_REACTORS"
    );
    let (_, settings) = from(&[
        ("GATEWAY_REDIS", "127.0.0.1:7000"),
        ("GATEWAY_TIMEOUT", "250ms"),
        ("GATEWAY_BACKEND_CONNECTIONS", "4"),
    ])
    .unwrap();
    assert_eq!(settings.redis.port(), 7000);
    assert_eq!(settings.timeout, Duration::from_millis(250));
    assert_eq!(settings.backend_connections, 4);
    for (var, value) in [
        ("GATEWAY_REDIS", "localhost"),
        ("GATEWAY_TIMEOUT", "1"),
        ("GATEWAY_TIMEOUT", "0s"),
        ("GATEWAY_BACKEND_CONNECTIONS", "0"),
        ("GATEWAY_BACKEND_CONNECTIONS", "65"),
    ] {
        let error = from(&[(var, value)]).unwrap_err();
        assert_eq!((error.var, error.value.as_str()), (var, value));
    }
}

/// `PING` is answered without the back end: `PONG` with nothing listening where Redis should
/// be (no connect is even needed).
#[test]
fn ping_is_answered_without_the_backend() {
    let down = util::Refusing::new();
    let running = gateway(down.addr(), Duration::from_secs(5), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    assert_eq!(client.ask("PING"), "PONG");
    assert_eq!(client.ask("PING"), "PONG");
    assert_eq!(running.stats().total().connects, 0);
}

/// No query blocks a reactor: while one client's request waits 2 s on the back end, another
/// client of the same (only) reactor is answered, at a moment when the back end still holds
/// both queries of the waiting request and nothing has reached its client; the waiting request
/// then gets its own answer.
#[test]
fn a_waiting_query_blocks_no_one() {
    let backend = Backend::slow(Duration::from_secs(2));
    let running = gateway(backend.addr, Duration::from_secs(5), 1, 2);
    let mut waiting = Lines::connect(running.local_addr());
    waiting.send("USER 1\n");
    assert!(wait_until(Duration::from_secs(5), || backend
        .most_in_flight
        .load(Ordering::SeqCst)
        >= 2));
    let mut other = Lines::connect(running.local_addr());
    assert_eq!(other.ask("PING"), "PONG");
    // The PONG came while the query still waited: the back end holds both queries unanswered
    // and nothing has reached the waiting client.
    assert_eq!(
        backend.in_flight.load(Ordering::SeqCst),
        2,
        "the back end answered before the other client was"
    );
    assert!(
        waiting.nothing_more(),
        "the waiting client was answered before the other client was"
    );
    assert_eq!(
        backend.most_in_flight.load(Ordering::SeqCst),
        2,
        "the back end answered before the other client was"
    );
    assert_eq!(waiting.line(), SLOW_ANSWER);
}

/// A line that is not UTF-8 is answered like any other unknown line (`ERR unknown command`,
/// or `ERR invalid id` for a `USER` with such an id) and the connection goes on; a line over
/// the frame limit gets `ERR line too long`, then the close.
#[test]
fn lines_that_are_not_requests() {
    let down = util::Refusing::new();
    let running = gateway(down.addr(), Duration::from_secs(5), 1, 2);
    let mut client = Lines::connect(running.local_addr());
    client.writer.write_all(b"P\xffNG\nUSER caf\xe9\n").unwrap();
    assert_eq!(client.line(), "ERR unknown command");
    assert_eq!(client.line(), "ERR invalid id");
    assert_eq!(client.ask("PING"), "PONG");
    client.send(&"x".repeat(70 << 10));
    assert_eq!(client.line(), "ERR line too long");
    let mut rest = Vec::new();
    client
        .reader
        .read_to_end(&mut rest)
        .expect("the close (not the read timeout)");
    assert!(rest.is_empty(), "{rest:?}");
}

/// "A reactor thread serves thousands of requests in flight": one reactor, 25 connections
/// each pipelining 100 `USER` requests (every tenth of a user that does not exist) and 10
/// `PING`s in one write, against a back end that answers nothing until it holds all 5,000
/// queries of the 2,500 requests at once. Then it answers, and every request gets its own
/// answer, in the order it was sent on its connection (each `PING` after the requests before
/// it).
#[test]
fn thousands_of_requests_in_flight() {
    const CONNECTIONS: usize = 25;
    const PER_CONNECTION: usize = 100;
    const REQUESTS: usize = CONNECTIONS * PER_CONNECTION;
    let backend = Backend::held();
    let running = gateway(backend.addr, Duration::from_secs(30), 1, 2);
    let mut clients: Vec<Lines> = (0..CONNECTIONS)
        .map(|_| Lines::connect(running.local_addr()))
        .collect();
    let mut expected: Vec<Vec<String>> = Vec::new();
    let began = Instant::now();
    for (c, client) in clients.iter_mut().enumerate() {
        let mut requests = String::new();
        let mut answers = Vec::new();
        for r in 0..PER_CONNECTION {
            let id = if r % 10 == 3 {
                format!("x{c}_{r}")
            } else {
                format!("u{c}-{r}")
            };
            requests.push_str(&format!("USER {id}\n"));
            answers.push(if id.starts_with('x') {
                r#"{"user":null,"orders":[]}"#.to_string()
            } else {
                keyed_answer(&id)
            });
            if r % 10 == 9 {
                requests.push_str("PING\n");
                answers.push("PONG".to_string());
            }
        }
        client.send(&requests);
        expected.push(answers);
    }
    let all_held = wait_until(Duration::from_secs(10), || {
        backend.in_flight.load(Ordering::SeqCst) == 2 * REQUESTS
    });
    assert!(
        all_held,
        "the back end held {} queries of {}",
        backend.in_flight.load(Ordering::SeqCst),
        2 * REQUESTS
    );
    let in_flight = began.elapsed();
    backend.open();
    for (c, (client, answers)) in clients.iter_mut().zip(&expected).enumerate() {
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(&client.line(), answer, "connection {c}, answer {i}");
        }
    }
    eprintln!(
        "{REQUESTS} requests in flight after {in_flight:?}, all answered after {:?}",
        began.elapsed()
    );
}
