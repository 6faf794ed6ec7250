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
use std::time::{Duration, Instant};

use turbine::{Config, Running};
use util::hardening::{End, LogCapture, read_until_end, reset};
use util::{Echo, Rng, assert_same_bytes, connect, start, wait_until};

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

/// An address on loopback where nothing listens: connects to it are refused.
fn refusing() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
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
    let down = refusing();
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
            .any(|l| l.contains(&format!("upstream {down} failed"))),
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
    let warned = |l: &String| l.contains(&format!("upstream {first} failed"));
    assert!(wait_until(Duration::from_secs(5), || log
        .lines()
        .iter()
        .any(warned)));
    assert_eq!(running.stats().total().connect_failures, 2);
}

/// A scripted upstream: accepts one connection from the proxy and hands it to the test.
fn scripted_upstream() -> (SocketAddr, std::thread::JoinHandle<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepting = std::thread::spawn(move || {
        let (conn, _) = listener.accept().expect("the proxy connects");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
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
    let (addr, accepting) = scripted_upstream();
    let running = proxy(&[addr], Duration::from_secs(3), one_reactor());
    let mut client = connect(running.local_addr());
    client.write_all(b"request").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut upstream = accepting.join().unwrap();
    let mut request = Vec::new();
    upstream
        .read_to_end(&mut request)
        .expect("the client's bytes, then its FIN");
    assert_eq!(request, b"request");
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

/// A reset on one side closes the other promptly with a reset: the client's reset reaches the
/// upstream as `ECONNRESET`, and the upstream's reaches the client.
#[test]
fn resets_propagate_both_ways() {
    let (addr, accepting) = scripted_upstream();
    let running = proxy(&[addr], Duration::from_secs(3), one_reactor());
    let mut client = connect(running.local_addr());
    client.write_all(b"hi").unwrap();
    let mut upstream = accepting.join().unwrap();
    let mut hi = [0; 2];
    upstream.read_exact(&mut hi).unwrap();
    reset(client);
    let mut rest = Vec::new();
    let error = upstream
        .read_to_end(&mut rest)
        .expect_err("a reset, not an end");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);

    let (addr, accepting) = scripted_upstream();
    let running2 = proxy(&[addr], Duration::from_secs(3), one_reactor());
    let mut client = connect(running2.local_addr());
    client.write_all(b"hi").unwrap();
    let mut upstream = accepting.join().unwrap();
    upstream.read_exact(&mut hi).unwrap();
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
    let upstreams = Upstreams::new(&[refusing(), refusing()]);
    let now = Instant::now();
    let pick = |tried| upstreams.choose(tried, now).map(|c| c.index);
    assert_eq!(pick(0), Some(0));
    assert_eq!(pick(0), Some(1));
    upstreams.release(1);
    assert_eq!(pick(0), Some(1), "the second has the fewest again");
    assert_eq!(pick(0), Some(0), "a tie: list order");
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
    let upstreams = Upstreams::new(&[refusing()]);
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

/// Warnings about failing upstreams are rate-limited: a burst of ten logs one line; one more, a
/// second later, is logged and counts the nine left out.
#[test]
fn warnings_are_rate_limited() {
    let log = LogCapture::install();
    let upstreams = Upstreams::new(&[refusing()]);
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
