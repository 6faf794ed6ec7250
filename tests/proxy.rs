//! The proxy example against `shared/specs/proxy.md`, line by line, over real sockets: its
//! handlers in process (so the server's stats can be read), its binary for the settings.

#[path = "../examples/proxy/config.rs"]
mod config;
#[path = "../examples/proxy/relay.rs"]
mod relay;
#[path = "../examples/proxy/upstreams.rs"]
mod upstreams;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use turbine::{Config, Running};
use util::hardening::{End, LogCapture, process_cpu, read_available, read_until_end, reset};
use util::{
    ByteStream, Echo, Example, Rng, Stopped, assert_same_bytes, connect, flood, read_to_eof, start,
    stopped_lines, wait_stalled, wait_until,
};

use relay::{Client, Shared};
use upstreams::Upstreams;

/// Starts the proxy's handlers in process, relaying to `upstreams`.
fn proxy(upstreams: &[SocketAddr], connect_timeout: Duration, config: Config) -> Running {
    let shared = Arc::new(Shared {
        upstreams: Upstreams::new(upstreams),
        connect_timeout,
    });
    start(config, move |_| Client::new(Arc::clone(&shared)))
}

/// One reactor, port 0 on loopback.
fn one_reactor() -> Config {
    util::config().reactors(1)
}

/// A Turbine raw echo server as an upstream.
fn echo_upstream() -> Running {
    start(util::config().reactors(1), |_| Echo::raw())
}

/// Sends `data` through `stream` on another thread while reading the whole reply here;
/// returns the reply (up to EOF).
fn exchange(stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        for piece in data.chunks(7919) {
            writer.write_all(piece).expect("write");
        }
        writer.shutdown(Shutdown::Write).expect("half-close");
    });
    let mut reader = stream;
    let mut got = Vec::new();
    reader.read_to_end(&mut got).expect("a clean EOF");
    sending.join().unwrap();
    got
}

/// Bytes arrive unchanged and in order in both directions: eight clients each send 1 MiB of
/// random bytes through the proxy to an echo and get exactly those bytes back, then a clean EOF
/// (the client's FIN went through, the echo's came back).
#[test]
fn bytes_go_through_unchanged_both_ways() {
    let echo = echo_upstream();
    let running = proxy(
        &[echo.local_addr()],
        Duration::from_secs(3),
        util::config().reactors(2),
    );
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let addr = running.local_addr();
            std::thread::spawn(move || {
                let data = Rng::new(90 + i).bytes(1 << 20);
                let got = exchange(connect(addr), data.clone());
                assert_same_bytes(&got, &data, &format!("client {i}"));
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    assert!(wait_until(Duration::from_secs(10), || {
        let total = running.stats().total();
        (total.open, total.outbound, total.closed) == (0, 0, 16)
    }));
}

/// Reading from the client starts at once: bytes it sends while the upstream's connect is still
/// under way (its SYN dropped by a full queue, retried a second later) wait in the proxy and
/// reach the upstream first, in order.
#[test]
fn bytes_before_the_upstream_connects_go_first() {
    let (addr, listener, fillers) = util::black_hole();
    let running = proxy(&[addr], Duration::from_secs(10), one_reactor());
    let mut client = connect(running.local_addr());
    client.write_all(b"early bytes, ").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    client.write_all(b"then more").unwrap();
    // Free the queue: the upstream's retried SYN gets through, and it is accepted.
    drop(fillers);
    listener.set_nonblocking(false).unwrap();
    let mut upstream = loop {
        let (conn, _) = listener.accept().expect("accept");
        let conn: TcpStream = conn.into();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut first = [0; 5];
        match conn.peek(&mut first) {
            Ok(5) if &first == b"early" => break conn,
            _ => continue, // a filler: not ours
        }
    };
    let mut got = vec![0; b"early bytes, then more".len()];
    upstream.read_exact(&mut got).expect("the early bytes");
    assert_eq!(got, b"early bytes, then more");
}

/// A new client goes to the upstream with the fewest connections from this process, ties in
/// list order: four clients over two upstreams make two each, the first on the first.
#[test]
fn least_connections_ties_in_list_order() {
    let (a, b) = (echo_upstream(), echo_upstream());
    let running = proxy(
        &[a.local_addr(), b.local_addr()],
        Duration::from_secs(3),
        one_reactor(),
    );
    let mut clients = Vec::new();
    for i in 0..4 {
        let mut client = connect(running.local_addr());
        client.write_all(b"x").unwrap();
        let mut echo = [0; 1];
        client.read_exact(&mut echo).expect("echo");
        clients.push(client);
        let (on_a, on_b) = (a.stats().total().open, b.stats().total().open);
        let expected = if i % 2 == 0 {
            (i / 2 + 1, i / 2)
        } else {
            (i / 2 + 1, i / 2 + 1)
        };
        assert_eq!(
            (on_a, on_b),
            (expected.0 as u64, expected.1 as u64),
            "after client {i}"
        );
    }
}

/// An upstream whose connect fails is skipped for that client (the next one serves it) and for
/// the later clients during its back-off; after the back-off (1 s) it is tried again.
#[test]
fn failover_then_back_off() {
    let log = LogCapture::install();
    let refusing = util::Refusing::new();
    let down = refusing.addr();
    let echo = echo_upstream();
    let running = proxy(
        &[down, echo.local_addr()],
        Duration::from_secs(3),
        one_reactor(),
    );
    for round in 0..3 {
        let got = exchange(connect(running.local_addr()), b"ping".to_vec());
        assert_eq!(got, b"ping", "round {round}");
    }
    assert_eq!(
        running.stats().total().connect_failures,
        1,
        "tried once, then backed off"
    );
    assert!(
        log.lines()
            .iter()
            .any(|l| l.starts_with("WARN ") && l.contains(&format!("upstream {down} failed"))),
        "a warning names the failing upstream"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let got = exchange(connect(running.local_addr()), b"pong".to_vec());
    assert_eq!(got, b"pong");
    assert_eq!(
        running.stats().total().connect_failures,
        2,
        "tried again after the back-off"
    );
}

/// When every upstream fails for a client (two that never answer, a 300 ms connect timeout),
/// the client is closed within the connect timeout times the number of upstreams, and the
/// failures are logged at warn level (rate-limited: at least one warning).
#[test]
fn client_closed_when_every_upstream_fails() {
    let log = LogCapture::install();
    let (first, _l1, _f1) = util::black_hole();
    let (second, _l2, _f2) = util::black_hole();
    let timeout = Duration::from_millis(300);
    let running = proxy(&[first, second], timeout, one_reactor());
    let began = Instant::now();
    let mut client = connect(running.local_addr());
    let (got, end) = read_until_end(&mut client, Duration::from_secs(10));
    let took = began.elapsed();
    assert_eq!((got.len(), end), (0, End::Eof));
    assert!(
        took >= timeout * 2 - Duration::from_millis(50),
        "closed after {took:?}"
    );
    assert!(
        took < timeout * 2 + Duration::from_secs(2),
        "closed after {took:?}"
    );
    let warned =
        |l: &String| l.starts_with("WARN ") && l.contains(&format!("upstream {first} failed"));
    assert!(wait_until(Duration::from_secs(5), || log
        .lines()
        .iter()
        .any(warned)));
    // The reactor publishes its counters at the end of the turn that closed the client.
    assert!(wait_until(Duration::from_secs(5), || running
        .stats()
        .total()
        .connect_failures
        == 2));
}

/// An upstream whose connect times out (one that never answers, a 300 ms connect timeout) is
/// skipped for that client: the next upstream serves it, the bytes it sent meanwhile first;
/// and during its back-off a later client goes to the next one at once.
#[test]
fn a_connect_timeout_moves_on_to_the_next_upstream() {
    let (silent, _listener, _fillers) = util::black_hole();
    let echo = echo_upstream();
    let timeout = Duration::from_millis(300);
    let running = proxy(&[silent, echo.local_addr()], timeout, one_reactor());
    let began = Instant::now();
    let got = exchange(
        connect(running.local_addr()),
        b"sent while connecting".to_vec(),
    );
    assert_eq!(got, b"sent while connecting");
    let took = began.elapsed();
    assert!(
        took >= timeout - Duration::from_millis(50),
        "served after {took:?}"
    );
    assert_eq!(running.stats().total().connect_failures, 1);

    let got = exchange(connect(running.local_addr()), b"later".to_vec());
    assert_eq!(got, b"later");
    assert_eq!(
        running.stats().total().connect_failures,
        1,
        "the silent upstream is backing off: not tried again"
    );
}

/// A proxy with `config` in front of a scripted upstream, a client through it that sent `first`,
/// and the upstream's side of the pair once it has read exactly those bytes.
fn relayed_pair(config: Config, first: &[u8]) -> (Running, TcpStream, TcpStream) {
    let (addr, accepting) = scripted_upstream();
    let running = proxy(&[addr], Duration::from_secs(3), config);
    let mut client = connect(running.local_addr());
    client.write_all(first).unwrap();
    let mut upstream = accepting.join().unwrap();
    let mut got = vec![0; first.len()];
    upstream
        .read_exact(&mut got)
        .expect("the client's first bytes");
    assert_eq!(got, first);
    (running, client, upstream)
}

/// A scripted upstream: accepts one connection from the proxy and hands it to the test.
fn scripted_upstream() -> (SocketAddr, JoinHandle<TcpStream>) {
    accept_one(TcpListener::bind("127.0.0.1:0").unwrap())
}

/// Accepts one connection on `listener` (from the proxy) on another thread and hands it to
/// the test, with 10 s read and write timeouts.
fn accept_one(listener: TcpListener) -> (SocketAddr, JoinHandle<TcpStream>) {
    let addr = listener.local_addr().unwrap();
    let accepting = std::thread::spawn(move || {
        let (conn, _) = listener.accept().expect("the proxy connects");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn
    });
    (addr, accepting)
}

/// Half-close both ways: the client's FIN reaches the upstream after every byte before it,
/// while the upstream can still send; then the upstream's FIN reaches the client after its last
/// bytes, and the pair closes.
#[test]
fn half_close_is_relayed_both_ways() {
    let (running, mut client, mut upstream) = relayed_pair(one_reactor(), b"request");
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    upstream
        .read_to_end(&mut rest)
        .expect("after the client's bytes, its FIN");
    assert_eq!(rest, b"");
    upstream.write_all(b"reply after the client's FIN").unwrap();
    upstream.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client
        .read_to_end(&mut reply)
        .expect("the reply, then a clean EOF");
    assert_eq!(reply, b"reply after the client's FIN");
    assert!(wait_until(Duration::from_secs(5), || running
        .stats()
        .total()
        .open
        == 0));
}

/// Half-close the other way round: the upstream's FIN reaches the client after its bytes while
/// the client goes on sending, and those bytes still reach the upstream; the client's FIN
/// then ends the pair.
#[test]
fn upstream_fin_first_while_the_client_still_sends() {
    let (running, mut client, mut upstream) = relayed_pair(one_reactor(), b"hello");
    upstream.write_all(b"bye").unwrap();
    upstream.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client
        .read_to_end(&mut reply)
        .expect("the upstream's bytes, then a clean EOF");
    assert_eq!(reply, b"bye");

    client.write_all(b"still sending after your FIN").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    upstream
        .read_to_end(&mut rest)
        .expect("the client's later bytes, then its FIN");
    assert_eq!(rest, b"still sending after your FIN");
    assert!(wait_until(Duration::from_secs(5), || running
        .stats()
        .total()
        .open
        == 0));
}

/// A reset on one side closes the other promptly with a reset: the client's reset reaches the
/// upstream as `ECONNRESET`, and the upstream's reaches the client.
#[test]
fn resets_propagate_both_ways() {
    let (running, client, mut upstream) = relayed_pair(one_reactor(), b"hi");
    reset(client);
    let mut rest = Vec::new();
    let error = upstream
        .read_to_end(&mut rest)
        .expect_err("a reset, not an end");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);

    let (_second, mut client, upstream) = relayed_pair(one_reactor(), b"hi");
    reset(upstream);
    let (_, end) = read_until_end(&mut client, Duration::from_secs(10));
    assert_eq!(end, End::Reset);
    drop(running);
}

/// Backpressure: a client that sends 16 MiB without reading its echo makes the proxy stop
/// reading from it once the client-side output passes the high watermark; the proxy's output
/// per connection stays within the watermark plus one read, whatever the peers do.
///
/// Every socket's kernel buffers are fixed small (64 KiB), as loopback's autotuned ones would
/// otherwise grow, on some runs, to hold most of the 16 MiB along the three connections.
#[test]
fn backpressure_bounds_memory_per_pair() {
    let small = Some(64 << 10);
    let echo = start(
        util::config()
            .reactors(1)
            .send_buffer(small)
            .recv_buffer(small),
        |_| Echo::raw(),
    );
    let config = one_reactor()
        .write_low_watermark(32 << 10)
        .write_high_watermark(64 << 10)
        .write_limit(256 << 10)
        .read_buffer(64 << 10)
        .send_buffer(small)
        .recv_buffer(small);
    let running = proxy(&[echo.local_addr()], Duration::from_secs(3), config);
    let client = util::small_window_client(running.local_addr(), 64 << 10);
    socket2::SockRef::from(&client)
        .set_send_buffer_size(64 << 10)
        .unwrap();
    let mut writer = client.try_clone().unwrap();
    writer
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let data = vec![b'x'; 16 << 20];
    let mut sent = 0;
    for piece in data.chunks(64 << 10) {
        if writer.write_all(piece).is_err() {
            break; // the proxy stopped reading: the point of the test
        }
        sent += piece.len();
    }
    std::thread::sleep(Duration::from_millis(300));
    let peak = running.stats().total().output_peak;
    assert!(sent < data.len(), "all 16 MiB went in: nothing pushed back");
    assert!(
        peak <= (64 << 10) + (64 << 10),
        "the proxy held {peak} bytes for one connection"
    );
    eprintln!("sent {sent} bytes before the proxy pushed back; output peaked at {peak}");
}

/// The server's idle timeout applies to the client side, and the upstream side gets it too: an
/// idle pair is closed, both connections.
#[test]
fn idle_timeout_closes_the_pair() {
    let echo = echo_upstream();
    let config = one_reactor().idle_timeout(Some(Duration::from_millis(300)));
    let running = proxy(&[echo.local_addr()], Duration::from_secs(3), config);
    let mut client = connect(running.local_addr());
    client.write_all(b"x").unwrap();
    let mut echoed = [0; 1];
    client.read_exact(&mut echoed).unwrap();
    let (_, end) = read_until_end(&mut client, Duration::from_secs(10));
    assert_eq!(end, End::Eof);
    assert!(wait_until(Duration::from_secs(5), || {
        let total = running.stats().total();
        (total.open, total.closed) == (0, 2)
    }));
}

/// Graceful shutdown: the listener closes at once, and a pair in the middle of a session is
/// relayed until it finishes (here the client sends more after the shutdown began and gets it
/// all back).
#[test]
fn shutdown_relays_pairs_to_their_end() {
    let echo = echo_upstream();
    let running = proxy(&[echo.local_addr()], Duration::from_secs(3), one_reactor());
    let addr = running.local_addr();
    let mut client = connect(addr);
    client.write_all(b"before ").unwrap();
    let mut got = [0; 7];
    client.read_exact(&mut got).unwrap();
    let shutdown = running.shutdown_handle();
    let stopping = std::thread::spawn(move || running.shutdown());
    shutdown.shutdown();
    assert!(
        wait_until(Duration::from_secs(5), || TcpStream::connect(addr).is_err()),
        "the listener closed"
    );
    let got = exchange(client, b"after the shutdown began".to_vec());
    assert_eq!(got, b"after the shutdown began");
    stopping.join().unwrap().expect("the proxy stopped");
}

/// The proxy binary with `vars` set (and nothing else of the environment); its exit status and
/// stderr.
fn run_binary(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(util::example_binary("proxy"));
    command.env_clear().envs(vars.iter().copied());
    let output = command.output().expect("run the proxy");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `PROXY_UPSTREAMS` missing or not a list of `IP:port`, or a bad `PROXY_CONNECT_TIMEOUT`:
/// a message naming the variable and exit code 2, before anything is bound: the address is
/// held by another socket meanwhile, which good settings fail to bind (exit 1), the control.
#[test]
fn bad_settings_exit_2_naming_the_variable() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (vars, named) in [
        (vec![("TURBINE_ADDR", addr.as_str())], "PROXY_UPSTREAMS"),
        (
            vec![
                ("TURBINE_ADDR", addr.as_str()),
                ("PROXY_UPSTREAMS", "localhost:80"),
            ],
            "PROXY_UPSTREAMS",
        ),
        (
            vec![
                ("TURBINE_ADDR", addr.as_str()),
                ("PROXY_UPSTREAMS", "127.0.0.1:1"),
                ("PROXY_CONNECT_TIMEOUT", "3"),
            ],
            "PROXY_CONNECT_TIMEOUT",
        ),
    ] {
        let (code, stderr) = run_binary(&vars);
        assert_eq!(code, Some(2), "{vars:?}: {stderr}");
        assert!(stderr.contains(named), "{vars:?}: {stderr}");
        assert!(!stderr.contains("cannot listen"), "bound first: {stderr}");
    }
    let good = [
        ("TURBINE_ADDR", addr.as_str()),
        ("PROXY_UPSTREAMS", "127.0.0.1:1"),
    ];
    let (code, stderr) = run_binary(&good);
    assert_eq!(code, Some(1), "the control binds, and fails to: {stderr}");
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

/// The settings: `TURBINE_ADDR` defaults to `127.0.0.1:7881`, `PROXY_CONNECT_TIMEOUT` to 3 s;
/// `PROXY_UPSTREAMS` takes 1 to 64 `IP:port`, spaces around entries allowed.
#[test]
fn settings() {
    let from = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    };
    let (config, settings) = from(&[("PROXY_UPSTREAMS", "127.0.0.1:9000, [::1]:9001")]).unwrap();
    assert_eq!(config.addr, config::DEFAULT_ADDR);
    assert_eq!(config.addr.to_string(), "127.0.0.1:7881");
    assert_eq!(settings.connect_timeout, Duration::from_secs(3));
    let upstreams: Vec<String> = settings.upstreams.iter().map(|a| a.to_string()).collect();
    assert_eq!(upstreams, ["127.0.0.1:9000", "[::1]:9001"]);
    let too_many = vec!["127.0.0.1:1"; config::MAX_UPSTREAMS + 1].join(",");
    for bad in ["", ",", "127.0.0.1", too_many.as_str()] {
        let error = from(&[("PROXY_UPSTREAMS", bad)]).unwrap_err();
        assert_eq!(error.var, "PROXY_UPSTREAMS", "{bad:?}");
    }
    let (_, settings) = from(&[
        ("PROXY_UPSTREAMS", "127.0.0.1:1"),
        ("PROXY_CONNECT_TIMEOUT", "250ms"),
    ])
    .unwrap();
    assert_eq!(settings.connect_timeout, Duration::from_millis(250));
    let _: config::Settings = settings;
    // Every other TURBINE_* setting applies, and is refused by name.
    let (config, _) = from(&[
        ("PROXY_UPSTREAMS", "127.0.0.1:1"),
        ("TURBINE_ADDR", "127.0.0.1:9999"),
        ("TURBINE_REACTORS", "3"),
        ("TURBINE_IDLE_TIMEOUT", "5s"),
    ])
    .unwrap();
    assert_eq!(config.addr.to_string(), "127.0.0.1:9999");
    assert_eq!(
        (config.reactors, config.idle_timeout),
        (3, Some(Duration::from_secs(5)))
    );
    let error = from(&[
        ("PROXY_UPSTREAMS", "127.0.0.1:1"),
        ("TURBINE_REACTORS", "0"),
    ])
    .unwrap_err();
    assert_eq!(error.var, "TURBINE_REACTORS");
}

/// Least connections, not round robin: when a connection to the second upstream closes, the
/// next client goes to it again; ties go in list order; upstreams a client already tried are
/// left out.
#[test]
fn choice_is_least_connections() {
    let down = [util::Refusing::new(), util::Refusing::new()];
    let upstreams = Upstreams::new(&[down[0].addr(), down[1].addr()]);
    let now = Instant::now();
    let pick = |tried| upstreams.choose(tried, now).map(|c| c.index);
    assert_eq!(pick(0), Some(0));
    assert_eq!(pick(0), Some(1));
    upstreams.release(1);
    assert_eq!(pick(0), Some(1), "the second has the fewest again");
    assert_eq!(pick(0), Some(0), "a tie: list order");
    // Back to one connection on the second, none on the first: the first has the fewest, but
    // a client that tried it goes to the second.
    upstreams.release(0);
    upstreams.release(0);
    assert_eq!(
        pick(0b01),
        Some(1),
        "a client that tried the first goes to the second"
    );
    assert_eq!(pick(0b11), None, "every upstream tried");
}

/// The back-off of a failing upstream: 1 s after its first failure, doubling with each one to
/// 30 s at most; a success starts it over at 1 s.
#[test]
fn back_off_doubles_to_30_s() {
    let down = util::Refusing::new();
    let upstreams = Upstreams::new(&[down.addr()]);
    let mut now = Instant::now();
    for secs in [1, 2, 4, 8, 16, 30, 30] {
        let choice = upstreams.choose(0, now).expect("in service");
        upstreams.release(choice.index);
        upstreams.failed(choice.index, &"refused", now);
        let wait = Duration::from_secs(secs);
        assert!(
            upstreams
                .choose(0, now + wait - Duration::from_millis(1))
                .is_none(),
            "out of service for {wait:?}"
        );
        now += wait;
    }
    upstreams.succeeded(0);
    upstreams.failed(0, &"refused", now);
    assert!(
        upstreams.choose(0, now + Duration::from_secs(1)).is_some(),
        "back to 1 s after a success"
    );
}

/// Connects under way when an upstream goes down all fail, but they are one outage: the first
/// failure sets the 1 s back-off and the others within it leave it as it is, so the next
/// outage waits 2 s, not 2^n.
#[test]
fn concurrent_failures_are_one_back_off_step() {
    let down = util::Refusing::new();
    let upstreams = Upstreams::new(&[down.addr()]);
    let now = Instant::now();
    let choices: Vec<_> = (0..5)
        .map(|_| upstreams.choose(0, now).expect("in service"))
        .collect();
    for (i, choice) in choices.into_iter().enumerate() {
        upstreams.release(choice.index);
        upstreams.failed(
            choice.index,
            &"refused",
            now + Duration::from_millis(i as u64),
        );
    }
    let second = Duration::from_secs(1);
    assert!(
        upstreams
            .choose(0, now + second - Duration::from_millis(1))
            .is_none()
    );
    let later = now + second;
    let choice = upstreams.choose(0, later).expect("back after 1 s");
    upstreams.release(choice.index);
    upstreams.failed(choice.index, &"refused", later);
    assert!(
        upstreams
            .choose(0, later + 2 * second - Duration::from_millis(1))
            .is_none(),
        "the second outage waits 2 s"
    );
    assert!(
        upstreams.choose(0, later + 2 * second).is_some(),
        "and no more: the five failures of the first counted once"
    );
}

/// Warnings about failing upstreams are rate-limited: a burst of ten logs one line; one more, a
/// second later, is logged and counts the nine left out.
#[test]
fn warnings_are_rate_limited() {
    let log = LogCapture::install();
    let down = util::Refusing::new();
    let upstreams = Upstreams::new(&[down.addr()]);
    for i in 0..10 {
        upstreams.warn(format_args!("rate-limit probe {i}"));
    }
    let probes = || -> Vec<String> {
        log.lines()
            .into_iter()
            .filter(|l| l.contains("rate-limit probe"))
            .collect()
    };
    assert_eq!(probes().len(), 1, "{:?}", probes());
    assert!(probes()[0].starts_with("WARN "), "{:?}", probes());
    std::thread::sleep(Duration::from_millis(1100));
    upstreams.warn(format_args!("rate-limit probe 10"));
    let lines = probes();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].contains("(9 more warnings in the last second)"),
        "{lines:?}"
    );
}

/// Each upstream connection lives on its client's reactor: with two reactors and eight relayed
/// clients open, every reactor holds one upstream connection per client.
#[test]
fn upstream_on_the_clients_reactor() {
    let echo = echo_upstream();
    let running = proxy(
        &[echo.local_addr()],
        Duration::from_secs(3),
        util::config().reactors(2),
    );
    let clients: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut client = connect(running.local_addr());
            client.write_all(b"x").unwrap();
            let mut echoed = [0; 1];
            client.read_exact(&mut echoed).expect("the echo");
            client
        })
        .collect();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let stats = running.stats();
            stats.total().outbound == 8 && stats.reactors.iter().all(|r| r.open == 2 * r.outbound)
        }),
        "{:?}",
        running.stats()
    );
    drop(clients);
}

// ----- stalled peers: write timeouts, idle sides, backpressure, shutdown deadline -------------

/// Kernel buffer size (`SO_SNDBUF`, `SO_RCVBUF`) of every socket in the tests where a peer
/// stops reading: small and fixed, so that little data fills them (loopback's autotuned buffers
/// would otherwise grow, on some runs, to megabytes).
const SMALL: usize = 64 << 10;
/// The proxy's high watermark in those tests (the default, spelled out).
const HIGH_WATERMARK: usize = 64 << 10;
/// The proxy's read buffer in those tests (the default, spelled out): the most one read takes.
const READ_BUFFER: usize = 64 << 10;

/// One reactor, small socket buffers, the default watermarks and read buffer spelled out.
fn small_buffers() -> Config {
    one_reactor()
        .write_low_watermark(32 << 10)
        .write_high_watermark(HIGH_WATERMARK)
        .read_buffer(READ_BUFFER)
        .send_buffer(Some(SMALL))
        .recv_buffer(Some(SMALL))
}

/// A scripted upstream whose connection has [`SMALL`] kernel buffers (set on the listener before
/// it listens: the accepted socket inherits them).
fn small_upstream() -> (SocketAddr, JoinHandle<TcpStream>) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_send_buffer_size(SMALL).unwrap();
    socket.set_recv_buffer_size(SMALL).unwrap();
    socket.bind(&util::localhost().into()).unwrap();
    socket.listen(8).unwrap();
    accept_one(socket.into())
}

/// A client of the proxy at `addr` with [`SMALL`] kernel buffers (the receive one set before it
/// connects, so the window it announces is small).
fn small_client(addr: SocketAddr) -> TcpStream {
    let client = util::small_window_client(addr, SMALL);
    SockRef::from(&client).set_send_buffer_size(SMALL).unwrap();
    client
}

/// One end of a relayed pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The client's end (its connection to the proxy).
    Client,
    /// The upstream's end (the connection the proxy opened to it).
    Upstream,
}

/// `(this side's stream, the other side's)` out of a pair's two ends.
fn by_side(side: Side, client: TcpStream, upstream: TcpStream) -> (TcpStream, TcpStream) {
    match side {
        Side::Client => (client, upstream),
        Side::Upstream => (upstream, client),
    }
}

/// The write timeout applies on both sides of a pair: a client that stops reading while its
/// upstream sends without end is closed once the proxy's output towards it has not moved for
/// `TURBINE_WRITE_TIMEOUT` (not sooner), and its upstream with it (the upstream's writes fail);
/// likewise an upstream that stops reading while its client sends without end.
#[test]
fn write_timeout_applies_to_both_sides() {
    const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
    for stuck in [Side::Client, Side::Upstream] {
        let (addr, accepting) = small_upstream();
        let config = small_buffers().write_timeout(Some(WRITE_TIMEOUT));
        let running = proxy(&[addr], Duration::from_secs(3), config);
        let client = small_client(running.local_addr());
        let upstream = accepting.join().unwrap();
        let (mut not_reading, sender) = by_side(stuck, client, upstream);
        sender
            .set_write_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let began = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicU64::new(0));
        let flooding = flood(sender, 1 << 30, stop, Arc::clone(&progress));
        let closed = wait_until(Duration::from_secs(5), || {
            let total = running.stats().total();
            (total.open, total.closed) == (0, 2)
        });
        let took = began.elapsed();
        let total = running.stats().total();
        assert!(
            closed,
            "{stuck:?} not reading: the pair stayed open: {total:?}"
        );
        assert_eq!(
            total.closed_by.write_timeout, 1,
            "{stuck:?} not reading: one side closed by its write timeout: {total:?}"
        );
        assert!(
            took >= WRITE_TIMEOUT,
            "{stuck:?} not reading: closed after {took:?}, before the write timeout"
        );
        // The sending side was closed with it: its writes fail instead of blocking.
        let error = flooding
            .join()
            .unwrap()
            .expect_err("the sender's writes fail once the pair is closed");
        assert!(
            matches!(
                error.kind(),
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
            ),
            "{stuck:?} not reading: the sender got {error} after {} bytes",
            progress.load(std::sync::atomic::Ordering::Relaxed)
        );
        // The side that stopped reading finds its connection closed after what was sent.
        let (_, end) = read_until_end(&mut not_reading, Duration::from_secs(5));
        assert!(end.is_closed(), "{stuck:?} not reading: {end:?}");
    }
}

/// Sends a byte on `stream` every 20 ms for `talk`; returns how many went, and when the last.
fn keep_talking(stream: &mut TcpStream, talk: Duration) -> (usize, Instant) {
    let began = Instant::now();
    let mut sent = 0;
    let mut last = began;
    while began.elapsed() < talk {
        stream
            .write_all(b".")
            .expect("the pair is open while bytes flow");
        last = Instant::now();
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    (sent, last)
}

/// The idle timeout applies to both sides, and partners are idle together: while one side
/// sends a byte every 20 ms for three idle timeouts and the other sends nothing (a one-way
/// stream), the pair stays open and every byte is relayed; once both are silent, the pair is
/// closed by the idle timeout, not sooner than the timeout after the last byte,
/// and both ends see their connection end. Either side may be the silent one.
#[test]
fn a_pair_is_idle_only_when_both_sides_are() {
    const IDLE: Duration = Duration::from_millis(500);
    for silent in [Side::Upstream, Side::Client] {
        let config = one_reactor().idle_timeout(Some(IDLE));
        let (running, client, upstream) = relayed_pair(config, b"");
        let (mut quiet, mut talker) = by_side(silent, client, upstream);
        let (sent, last) = keep_talking(&mut talker, 3 * IDLE);
        let (heard, end) = read_until_end(&mut quiet, Duration::from_secs(5));
        let took = last.elapsed();
        assert_eq!(
            end,
            End::Eof,
            "{silent:?} silent: closed by the idle timeout once both were"
        );
        assert!(
            took >= IDLE,
            "{silent:?} silent: closed {took:?} after the last byte, before the idle timeout"
        );
        assert_eq!(
            heard,
            vec![b'.'; sent],
            "{silent:?} silent: every byte of the one-way stream was relayed"
        );
        let (_, end) = read_until_end(&mut talker, Duration::from_secs(5));
        assert!(
            end.is_closed(),
            "{silent:?} silent: the talking side: {end:?}"
        );
        assert!(wait_until(Duration::from_secs(5), || {
            let total = running.stats().total();
            (total.open, total.closed) == (0, 2)
        }));
        // Both were idle: both may time out in the same turn, or one, its partner following.
        let closed_by = running.stats().total().closed_by;
        assert!(
            closed_by.idle_timeout >= 1,
            "{silent:?} silent: closed by {closed_by:?}"
        );
    }
}

/// A slow download is not idle: the upstream sends 2 MiB and its FIN while the client, which
/// never sends a byte, reads 16 KiB every 20 ms (over three idle timeouts in all, the upstream
/// held by backpressure much of the time). Every byte arrives, in order, then the FIN; the
/// half-closed pair, with nothing moving either way, is then closed by the idle timeout.
#[test]
fn a_slow_download_outlives_the_idle_timeout() {
    const IDLE: Duration = Duration::from_millis(500);
    let (addr, accepting) = small_upstream();
    let running = proxy(
        &[addr],
        Duration::from_secs(3),
        small_buffers().idle_timeout(Some(IDLE)),
    );
    let mut client = small_client(running.local_addr());
    let mut upstream = accepting.join().unwrap();
    let mut sent = vec![0; 2 << 20];
    ByteStream::new(7).fill(&mut sent);
    let sending = std::thread::spawn(move || {
        upstream.write_all(&sent).unwrap();
        upstream.shutdown(Shutdown::Write).unwrap();
        (sent, upstream)
    });
    let began = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0; 16 << 10];
    loop {
        std::thread::sleep(Duration::from_millis(20));
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the download was cut after {} bytes: {e}", got.len()),
        }
    }
    let took = began.elapsed();
    let (sent, _upstream) = sending.join().unwrap();
    assert!(took > 3 * IDLE, "the download took only {took:?}");
    assert_same_bytes(&got, &sent, "the download");
    // Then nothing moves either way: the half-closed pair is idle, and closed for it.
    assert!(wait_until(Duration::from_secs(5), || {
        let total = running.stats().total();
        (total.open, total.closed) == (0, 2)
    }));
    assert!(running.stats().total().closed_by.idle_timeout >= 1);
}

/// How many bytes the backpressure tests send through the proxy: well over what the kernel
/// buffers and the proxy's output can hold along the way (well under 1 MiB with [`SMALL`]).
const FLOOD: usize = 4 << 20;

/// Backpressure stops reading, and resumes it, in each direction: a sender floods 4 MiB through
/// the proxy towards a peer that does not read. The sender's writes stall with most of it unsent
/// and the proxy reads nothing more (its `bytes_in` stays put), its output staying within the
/// high watermark plus one read; once the peer reads again (draining the output below the low
/// watermark) every byte arrives, intact and in order, then the sender's FIN.
#[test]
fn backpressure_stops_reading_then_resumes() {
    for sender_side in [Side::Client, Side::Upstream] {
        let (addr, accepting) = small_upstream();
        let running = proxy(&[addr], Duration::from_secs(3), small_buffers());
        let mut client = small_client(running.local_addr());
        let mut upstream = accepting.join().unwrap();
        // One byte through first, so the upstream is connected before the flood: bytes a
        // client sends before then wait in the proxy, one read more than the bound below.
        client.write_all(b"!").unwrap();
        let mut first = [0; 1];
        upstream.read_exact(&mut first).unwrap();
        let (sender, mut receiver) = by_side(sender_side, client, upstream);
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicU64::new(0));
        let flooding = flood(sender, FLOOD as u64, stop, Arc::clone(&progress));
        let held = wait_stalled(
            &progress,
            Duration::from_millis(300),
            Duration::from_secs(10),
        )
        .expect("the sender's writes never stalled");
        assert!(
            held < FLOOD as u64,
            "{sender_side:?} sending: all of it went in, nothing pushed back"
        );
        let read_before = running.stats().total().bytes_in;
        std::thread::sleep(Duration::from_millis(200));
        let total = running.stats().total();
        assert_eq!(
            total.bytes_in, read_before,
            "{sender_side:?} sending: the proxy kept reading while held"
        );
        assert!(
            total.output_peak <= (HIGH_WATERMARK + READ_BUFFER) as u64,
            "{sender_side:?} sending: the proxy held {} bytes for one connection",
            total.output_peak
        );
        // The peer reads again: reading resumes, and everything arrives.
        let got = read_to_eof(&mut receiver);
        flooding
            .join()
            .unwrap()
            .expect("every write goes through once the peer reads");
        let mut want = vec![0; FLOOD];
        ByteStream::new(0xF100D).fill(&mut want);
        assert_same_bytes(&got, &want, &format!("{sender_side:?} sending"));
        eprintln!(
            "{sender_side:?} sending: held after {held} bytes, output peak {}",
            total.output_peak
        );
    }
}

/// Nothing spins while a pair is held by backpressure (the proxy binary, one reactor, 64 KiB
/// socket buffers through `TURBINE_SEND_BUFFER` and `TURBINE_RECV_BUFFER`): the client and the
/// upstream each flood the other and neither reads, so both directions are held (reading paused,
/// output stuck); over the next second the proxy process uses under a fifth of a second of CPU.
///
/// A spin check, not a speed check: a proxy that polled or retried while held would burn a
/// whole core (about 1 s of CPU in that second), while a sleeping one uses next to nothing;
/// the bound sits far from both, so a busy machine cannot fail it.
#[test]
fn nothing_spins_while_held_by_backpressure() {
    let (addr, accepting) = small_upstream();
    let upstreams = addr.to_string();
    let example = Example::spawn_binary(
        util::example_binary("proxy"),
        &[
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("TURBINE_REACTORS", "1"),
            ("TURBINE_SEND_BUFFER", "64KiB"),
            ("TURBINE_RECV_BUFFER", "64KiB"),
            ("PROXY_UPSTREAMS", upstreams.as_str()),
            ("RUST_LOG", "info"),
        ],
    );
    let client = small_client(example.listening_addr());
    let upstream = accepting.join().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = [client, upstream]
        .into_iter()
        .map(|stream| {
            let progress = Arc::new(AtomicU64::new(0));
            let thread = flood(stream, 1 << 30, Arc::clone(&stop), Arc::clone(&progress));
            (thread, progress)
        })
        .collect();
    for (side, (_, progress)) in [Side::Client, Side::Upstream].iter().zip(&floods) {
        let held = wait_stalled(
            progress,
            Duration::from_millis(300),
            Duration::from_secs(10),
        );
        assert!(held.is_some(), "the {side:?}'s writes never stalled");
    }
    let pid = example.pid();
    let cpu_before = process_cpu(pid);
    let since = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    let cpu = process_cpu(pid) - cpu_before;
    let held = since.elapsed();
    eprintln!("proxy CPU while held by backpressure: {cpu:?} in {held:?}");
    assert!(
        floods.iter().all(|(thread, _)| !thread.is_finished()),
        "the pair should still be held; output:\n{}",
        example.output()
    );
    assert!(
        cpu < held / 5,
        "the proxy spun: {cpu:?} of CPU in {held:?} while held by backpressure"
    );
    // Killing the proxy resets both connections: the floods end with an error.
    drop(example);
    for (thread, _) in floods {
        let _ = thread.join().expect("flooding thread");
    }
}

/// Graceful shutdown with a deadline (the proxy binary, `TURBINE_SHUTDOWN_TIMEOUT=2s`, SIGTERM):
/// the listener closes; a pair that finishes meanwhile (the client sends 64 KiB after SIGTERM
/// and half-closes) is relayed to its end while the other pair is still open; the other pair,
/// whose ends both keep the connection open, is cut when the deadline passes (not sooner), its
/// upstream connection too; and the process exits with code 0, counting one pair drained and
/// one closed by force.
#[test]
fn shutdown_deadline_cuts_pairs_that_never_finish() {
    const DEADLINE: Duration = Duration::from_secs(2);
    let echo = echo_upstream();
    let upstreams = echo.local_addr().to_string();
    let mut example = Example::spawn_binary(
        util::example_binary("proxy"),
        &[
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("TURBINE_REACTORS", "1"),
            ("TURBINE_SHUTDOWN_TIMEOUT", "2s"),
            ("PROXY_UPSTREAMS", upstreams.as_str()),
            ("RUST_LOG", "info"),
        ],
    );
    let addr = example.listening_addr();
    let relayed = |what: &[u8]| {
        let mut client = connect(addr);
        client.write_all(what).unwrap();
        let mut back = vec![0; what.len()];
        client.read_exact(&mut back).expect("the echo");
        assert_eq!(back, what);
        client
    };
    let mut endless = relayed(b"endless");
    let finishing = relayed(b"finishing");
    assert!(wait_until(Duration::from_secs(5), || echo
        .stats()
        .total()
        .open
        == 2));

    let began = Instant::now();
    example.signal("TERM");
    example
        .wait_line(Duration::from_secs(10), |l| {
            l.contains("reactor 0: shutting down")
        })
        .unwrap_or_else(|| panic!("no shutdown line; output:\n{}", example.output()));
    assert!(TcpStream::connect(addr).is_err(), "the listener closed");

    let data = Rng::new(5).bytes(64 << 10);
    let got = exchange(finishing, data.clone());
    assert_same_bytes(&got, &data, "the pair that finishes");
    let mut early = Vec::new();
    assert_eq!(
        read_available(&mut endless, &mut early),
        None,
        "the endless pair should still be open while the other finished"
    );

    let (_, end) = read_until_end(&mut endless, Duration::from_secs(10));
    let cut_after = began.elapsed();
    assert!(end.is_closed(), "the endless pair was not cut: {end:?}");
    assert!(
        cut_after >= DEADLINE,
        "the endless pair was cut {cut_after:?} after SIGTERM, before the deadline"
    );
    assert!(
        wait_until(Duration::from_secs(5), || echo.stats().total().open == 0),
        "the endless pair's upstream connection stayed open: {:?}",
        echo.stats().total()
    );
    let status = example
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no exit after the deadline:\n{}", example.output()));
    let output = example.output();
    assert_eq!(status.code(), Some(0), "exit status; output:\n{output}");
    assert_eq!(
        stopped_lines(&example.log()),
        [Stopped {
            drained: 2,
            forced: 2
        }],
        "one pair drained, one closed by force:\n{output}"
    );
}
