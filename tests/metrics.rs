//! The metrics endpoint (`TURBINE_METRICS_ADDR`) over real sockets: the families, their types
//! and labels while traffic flows, counters that only grow, each close reason under its label,
//! rejections by reason, format negotiation, `/health` and 404, hostile scrapers closed without disturbing the main
//! listener, 1,000 scrapes without a leak, TLS and PROXY protocol families, the configuration
//! error of a bad address, and the chat's and kv's own figures; exact values through the
//! endpoint of per-IP rejections, the worker pool, outbound connections, open connections and
//! bytes, a forced close at shutdown, an idle scraper's close, and the listener off by default.
//!
//! The tests run one at a time (`serial`): the leak test counts this process's descriptors and
//! memory, which another test running beside it would disturb.

mod util;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use turbine::{
    CloseReason, ClosedBy, Config, Context, Handler, JobError, LinesCodec, MetricsFormat,
    OffloadError, ProxyProtocol, Running,
};

use util::hardening::{End, assert_echoes, open_fds, read_until_end, reset, serial};
use util::scrape::{Exposition, Scraper, get, read_reply, scrape};
use util::{Echo, Example, config, connect, example_binary, localhost, start, wait_until};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(20);

/// The tests' configuration with the metrics listener on 127.0.0.1, any free port.
fn metrics_config() -> Config {
    config().metrics_addr(Some(localhost()))
}

/// The metrics listener's address of `running`.
fn metrics_addr(running: &Running) -> SocketAddr {
    running.metrics_addr().expect("the metrics listener is on")
}

/// The families every server writes, with their type as a `# TYPE` line of the text format
/// names them.
const FAMILIES: &[(&str, &str)] = &[
    ("turbine_connections_open", "gauge"),
    ("turbine_connections_accepted_total", "counter"),
    ("turbine_connections_rejected_total", "counter"),
    ("turbine_connections_closed_total", "counter"),
    ("turbine_bytes_received_total", "counter"),
    ("turbine_bytes_sent_total", "counter"),
    ("turbine_frames_received_total", "counter"),
    ("turbine_frames_sent_total", "counter"),
    ("turbine_loop_iterations_total", "counter"),
    ("turbine_loop_busy_seconds", "histogram"),
    ("turbine_outbound_connections_open", "gauge"),
    ("turbine_outbound_connect_failures_total", "counter"),
    ("turbine_pool_queued", "gauge"),
    ("turbine_pool_running", "gauge"),
    ("turbine_pool_completed_total", "counter"),
    ("turbine_pool_rejected_total", "counter"),
    ("turbine_pool_panicked_total", "counter"),
];

/// While clients echo lines on two reactors, every family is there with its type, per-reactor
/// values carry `reactor="0"` and `reactor="1"`, reasons carry their labels, and no counter or
/// histogram sample ever goes down from one scrape to the next.
#[test]
fn scrape_while_traffic_flows() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let addr = running.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut stream = connect(addr);
                let mut echoed = 0u64;
                let mut buf = [0; 64];
                while !stop.load(Ordering::Relaxed) {
                    stream
                        .write_all(format!("client {i}\n").as_bytes())
                        .unwrap();
                    let mut got = 0;
                    while got < 9 {
                        got += stream.read(&mut buf[got..]).unwrap();
                    }
                    echoed += 1;
                }
                echoed
            })
        })
        .collect();
    let mut scraper = Scraper::connect(metrics_addr(&running));
    let mut last = scraper.scrape();
    assert!(
        wait_until(PATIENCE, || {
            let now = scraper.scrape();
            assert_grew(&last, &now);
            last = now;
            last.total("turbine_frames_received_total", &[]) >= 100.0
        }),
        "no traffic counted"
    );
    for _ in 0..20 {
        let now = scraper.scrape();
        assert_grew(&last, &now);
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let echoed: u64 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(echoed > 0);

    let text = scraper.request("GET", "/metrics", "").body;
    let exposition = Exposition::parse(&text);
    for (name, kind) in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "no `# TYPE {name} {kind}` line in:\n{text}"
        );
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no help for {name}"
        );
    }
    for reactor in ["0", "1"] {
        for (name, kind) in FAMILIES {
            let sample = match *kind {
                "histogram" => format!("{name}_count"),
                _ => name.to_string(),
            };
            if name.starts_with("turbine_pool_") {
                assert!(exposition.sum(&sample, &[]).is_some(), "no {sample}");
                continue;
            }
            assert!(
                exposition.sum(&sample, &[("reactor", reactor)]).is_some(),
                "no {sample} of reactor {reactor}"
            );
        }
        for reason in ClosedBy::LABELS {
            let labels = [("reactor", reactor), ("reason", *reason)];
            assert!(
                exposition
                    .sum("turbine_connections_closed_total", &labels)
                    .is_some()
            );
        }
        for reason in ["max_connections", "per_ip", "descriptors"] {
            let labels = [("reactor", reactor), ("reason", reason)];
            assert!(
                exposition
                    .sum("turbine_connections_rejected_total", &labels)
                    .is_some()
            );
        }
        let inf = [("reactor", reactor), ("le", "+Inf")];
        assert_eq!(
            exposition.total("turbine_loop_busy_seconds_bucket", &inf),
            exposition.total("turbine_loop_busy_seconds_count", &[("reactor", reactor)]),
        );
    }
    // Frames and bytes at least as many as the clients saw echoed (the last turn may lag).
    assert!(exposition.total("turbine_frames_received_total", &[]) >= echoed as f64 - 4.0);
    assert!(exposition.total("turbine_bytes_sent_total", &[]) > 0.0);
    assert!(exposition.total("turbine_loop_iterations_total", &[]) > 0.0);
    // No TLS, no PROXY protocol: their families are not written.
    assert!(!text.contains("turbine_tls_"), "{text}");
    assert!(!text.contains("turbine_proxy_"), "{text}");
    // The stats API reads the same counters.
    let stats = running.stats().total();
    assert!(stats.loop_iterations() > 0 && stats.loop_busy.count() > 0);
}

/// Every counter and histogram sample of `before` is in `after`, no smaller.
#[track_caller]
fn assert_grew(before: &Exposition, after: &Exposition) {
    let after = after.monotonic();
    for (series, value) in before.monotonic() {
        let now = after.get(&series).copied();
        assert!(
            now.is_some_and(|now| now >= value),
            "{series} went from {value} to {now:?}"
        );
    }
}

/// A line protocol that misbehaves on command: `panic`, `close`, `overflow`, `reset`, `flood`
/// (16 MiB of lines); anything else is echoed. It records why it closed.
struct Provoke {
    /// Where each connection's close reason goes.
    closes: Arc<Mutex<Vec<CloseReason>>>,
}

impl Handler for Provoke {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        match line.as_str() {
            "panic" => panic!("asked to panic"),
            "close" => ctx.close(),
            "overflow" => ctx.close_for_overflow(),
            "reset" => ctx.reset(),
            "flood" => {
                for _ in 0..256 {
                    ctx.send("x".repeat(64 << 10));
                }
            }
            _ => ctx.send(line),
        }
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        self.closes.lock().unwrap().push(reason);
    }
}

/// Sends `line` and a newline on a new connection to `addr`, and returns the connection.
fn send_line(addr: SocketAddr, line: &str) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    stream
}

/// Ten connections, each closed for its own reason (peer close, `close`, decode error, idle
/// timeout, frame timeout, write timeout, overflow, panic, reset by us, reset by the peer): each
/// is counted under its label, the metric agrees with the stats API and with what the
/// handlers' `on_close` saw, and every other reason stays at zero.
#[test]
fn each_close_reason_is_counted() {
    let _serial = serial();
    let closes = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&closes);
    let config = metrics_config()
        .max_frame(64)
        .idle_timeout(Some(Duration::from_secs(2)))
        .frame_timeout(Some(Duration::from_millis(500)))
        .write_timeout(Some(Duration::from_millis(500)))
        .linger_timeout(Some(Duration::from_millis(200)))
        .send_buffer(Some(16 << 10));
    let running = start(config, move |_| Provoke {
        closes: Arc::clone(&recorded),
    });
    let addr = running.local_addr();
    // One keep-alive scrape connection for the whole test, so that no close of its own is
    // counted; scraping while waiting keeps it from the idle timeout.
    let mut scraper = Scraper::connect(metrics_addr(&running));

    // peer: our FIN after an echo.
    let mut peer = send_line(addr, "hello");
    let mut line = [0; 6];
    peer.read_exact(&mut line).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let mut clients = vec![peer];
    // closed, overflow, panic, reset: on command.
    for command in ["close", "overflow", "panic", "reset"] {
        clients.push(send_line(addr, command));
    }
    // decode: a line longer than TURBINE_MAX_FRAME (64 bytes).
    let mut decode = connect(addr);
    decode.write_all(&[b'a'; 200]).unwrap();
    clients.push(decode);
    // idle_timeout: nothing sent. frame_timeout: half a line.
    clients.push(connect(addr));
    let mut partial = connect(addr);
    partial.write_all(b"half a").unwrap();
    clients.push(partial);
    // write_timeout: 16 MiB to a client that never reads.
    let flood = util::small_window_client(addr, 4096);
    (&flood).write_all(b"flood\n").unwrap();
    // io: the peer resets.
    let mut io = send_line(addr, "bye");
    let mut line = [0; 4];
    io.read_exact(&mut line).unwrap();
    reset(io);

    let reasons = |closes: &Arc<Mutex<Vec<CloseReason>>>| closes.lock().unwrap().clone();
    assert!(
        wait_until(PATIENCE, || {
            scraper.scrape();
            reasons(&closes).len() == 10
        }),
        "not every connection closed: {:?}",
        reasons(&closes)
    );
    drop(flood);
    drop(clients);

    let mut seen: HashMap<&str, u64> = HashMap::new();
    for reason in reasons(&closes) {
        *seen.entry(reason.label()).or_default() += 1;
    }
    let expected: HashMap<&str, u64> = [
        "peer",
        "closed",
        "decode",
        "idle_timeout",
        "frame_timeout",
        "write_timeout",
        "overflow",
        "panic",
        "reset",
        "io",
    ]
    .into_iter()
    .map(|label| (label, 1))
    .collect();
    assert_eq!(seen, expected, "{:?}", reasons(&closes));

    // The reactors publish once per turn: wait for the last close to show.
    let mut exposition = scraper.scrape();
    assert!(wait_until(PATIENCE, || {
        exposition = scraper.scrape();
        exposition.total("turbine_connections_closed_total", &[]) == 10.0
    }));
    let stats = running.stats().total().closed_by;
    for (label, count) in stats.iter() {
        let metric = exposition.total("turbine_connections_closed_total", &[("reason", label)]);
        let want = seen.get(label).copied().unwrap_or(0);
        assert_eq!(metric, want as f64, "reason {label}");
        assert_eq!(count, want, "stats of reason {label}");
    }
    assert_eq!(exposition.total("turbine_handler_panics_total", &[]), 1.0);
}

/// A connection past `TURBINE_MAX_CONNECTIONS` is counted under `reason="max_connections"`,
/// and the metrics listener's own connections count against the cap like any other.
#[test]
fn rejections_are_counted_by_reason() {
    let _serial = serial();
    let running = start(metrics_config().max_connections(3), |_| Echo::lines());
    let mut scraper = Scraper::connect(metrics_addr(&running));
    scraper.scrape();
    let held: Vec<_> = (0..2)
        .map(|_| send_line(running.local_addr(), "hi"))
        .collect();
    assert!(wait_until(PATIENCE, || running.stats().total().open == 3));
    let mut refused = connect(running.local_addr());
    let (_, end) = read_until_end(&mut refused, PATIENCE);
    assert!(end.is_closed(), "{end:?}");
    let rejected = |scraper: &mut Scraper, reason| {
        let labels = [("reason", reason)];
        scraper
            .scrape()
            .total("turbine_connections_rejected_total", &labels)
    };
    assert!(wait_until(PATIENCE, || rejected(
        &mut scraper,
        "max_connections"
    ) == 1.0));
    assert_eq!(rejected(&mut scraper, "per_ip"), 0.0);
    assert_eq!(rejected(&mut scraper, "descriptors"), 0.0);
    assert_eq!(running.stats().total().rejected_by.max_connections, 1);
    drop(held);
}

/// `Accept` picks the format as Prometheus asks for it: OpenMetrics (`# EOF`, counters' types
/// without `_total`, units) for Prometheus's own header, the 0.0.4 text format for none, for
/// `text/plain` and for what is not served.
#[test]
fn openmetrics_is_negotiated() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let prometheus = "Accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;\
                      q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;\
                      version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,\
                      */*;q=0.1\r\n";
    let open = get(metrics, "/metrics", prometheus);
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0")
    );
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);
    assert!(
        open.body
            .contains("# TYPE turbine_connections_accepted counter\n")
    );
    assert!(
        open.body
            .contains("turbine_connections_accepted_total{reactor=\"0\"} ")
    );
    assert!(
        open.body
            .contains("# UNIT turbine_loop_busy_seconds seconds\n")
    );
    assert!(
        open.body
            .contains("# TYPE turbine_loop_busy_seconds histogram\n")
    );

    for accept in [
        "",
        "Accept: text/plain;version=0.0.4\r\n",
        "Accept: */*\r\n",
        "Accept: application/json\r\n",
    ] {
        let text = get(metrics, "/metrics", accept);
        assert_eq!(text.status, 200);
        assert_eq!(
            text.header("content-type"),
            Some("text/plain; version=0.0.4"),
            "{accept}"
        );
        assert!(!text.body.contains("# EOF"));
        assert!(!text.body.contains("# UNIT"));
        assert!(
            text.body
                .contains("# TYPE turbine_connections_accepted_total counter\n")
        );
    }
}

/// `GET /health` answers `200 ok`; `HEAD` gets the head alone; a query string is ignored;
/// another path or method gets 404; a request can follow another on the same connection, and
/// `Connection: close` is honoured.
#[test]
fn health_and_not_found() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let mut scraper = Scraper::connect(metrics);
    let health = scraper.request("GET", "/health", "");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let head = scraper.request("HEAD", "/metrics", "");
    assert_eq!(head.status, 200);
    assert!(
        head.header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap()
            > 100
    );
    assert!(head.body.is_empty());
    assert_eq!(scraper.request("GET", "/metrics?x=1", "").status, 200);
    for (method, path) in [("GET", "/"), ("GET", "/metricsx"), ("POST", "/metrics")] {
        let reply = scraper.request(method, path, "Content-Length: 0\r\n");
        assert_eq!(reply.status, 404, "{method} {path}");
    }
    let last = get(metrics, "/health", "");
    assert_eq!(last.header("connection"), Some("close"));
}

/// Garbage, an oversized head, a stalled half request and a scraper that never reads are each
/// closed, counted like any connection; meanwhile a client of the main listener is echoed
/// throughout, and the metrics listener still serves.
#[test]
fn hostile_scrapers_are_closed() {
    let _serial = serial();
    let config = metrics_config()
        .frame_timeout(Some(Duration::from_millis(300)))
        .write_timeout(Some(Duration::from_millis(300)))
        .linger_timeout(Some(Duration::from_millis(100)))
        .send_buffer(Some(16 << 10));
    let running = start(config, |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let mut user = connect(running.local_addr());

    // Not HTTP: 400, then the close.
    let mut garbage = TcpStream::connect(metrics).unwrap();
    garbage
        .write_all(b"\x16\x03\x01\x00\xffhello\r\n\r\n")
        .unwrap();
    let (got, end) = read_until_end(&mut garbage, PATIENCE);
    assert!(
        got.starts_with(b"HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(end.is_closed(), "{end:?}");
    assert_echoes(&mut user, "garbage", "after the garbage scraper");

    // A head past 8 KiB: 431, then the close.
    let mut long = TcpStream::connect(metrics).unwrap();
    let _ = long.write_all(format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(9000)).as_bytes());
    let (got, end) = read_until_end(&mut long, PATIENCE);
    assert!(
        got.starts_with(b"HTTP/1.1 431 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(end.is_closed());
    assert_echoes(&mut user, "long", "after the long scraper");

    // Half a request, then silence: the frame timeout.
    let mut stalled = TcpStream::connect(metrics).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    let (got, end) = read_until_end(&mut stalled, PATIENCE);
    assert!(got.is_empty() && end.is_closed(), "{end:?}");
    assert_echoes(&mut user, "stalled", "after the stalled scraper");

    // Scrapes asked for and never read: the write timeout.
    let mut deaf = util::small_window_client(metrics, 4096);
    let requests = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(200);
    let _ = deaf.write_all(requests.as_bytes());
    let before = running.stats().total().closed_by.write_timeout;
    assert!(
        wait_until(PATIENCE, || running.stats().total().closed_by.write_timeout
            > before),
        "the deaf scraper was not closed"
    );
    let (_, end) = read_until_end(&mut deaf, PATIENCE);
    assert!(matches!(end, End::Eof | End::Reset), "{end:?}");
    assert_echoes(&mut user, "deaf", "after the deaf scraper");

    let exposition = scrape(metrics);
    assert!(
        exposition.total(
            "turbine_connections_closed_total",
            &[("reason", "frame_timeout")]
        ) >= 1.0
    );
    assert!(
        exposition.total(
            "turbine_connections_closed_total",
            &[("reason", "write_timeout")]
        ) >= 1.0
    );
}

/// Thousands of scrapes pipelined in one write get a bounded number of answers: once answers
/// pile up unread, the next request gets 503 and the connection closes, so one read of small
/// requests never makes the reactor encode the registry thousands of times; the listener
/// serves on.
#[test]
fn pipelined_scrapes_are_bounded() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let mut scraper = TcpStream::connect(metrics).unwrap();
    let requests = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3000);
    let _ = scraper.write_all(requests.as_bytes());
    let _ = scraper.shutdown(std::net::Shutdown::Write);
    let (got, end) = read_until_end(&mut scraper, PATIENCE);
    let text = String::from_utf8_lossy(&got);
    let answered = text.matches("HTTP/1.1 200 ").count();
    assert!((1..3000).contains(&answered), "{answered} scrapes answered");
    assert!(
        text.contains("HTTP/1.1 503 "),
        "no 503 after {answered} answers"
    );
    assert!(end.is_closed(), "{end:?}");
    // The listener still serves a scraper that reads.
    scrape(metrics);
}

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// 1,000 scrapes, each on its own connection, leave the process's descriptors where they were
/// and its memory within 4 MiB (one scrape's text is about 11 KiB with two reactors: a leak of
/// it per scrape would be 11 MiB).
#[test]
fn a_thousand_scrapes_leave_nothing_behind() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let metrics = metrics_addr(&running);
    for _ in 0..50 {
        scrape(metrics); // warm up: buffers, the allocator's pools
    }
    let settled = |running: &Running| running.stats().total().open == 0;
    assert!(wait_until(PATIENCE, || settled(&running)));
    let (fds, memory) = (open_fds(), rss());
    for _ in 0..1000 {
        let exposition = scrape(metrics);
        assert!(exposition.sum("turbine_connections_open", &[]).is_some());
    }
    assert!(wait_until(PATIENCE, || settled(&running)));
    assert!(
        wait_until(PATIENCE, || open_fds() <= fds),
        "descriptors: {fds} before, {} after",
        open_fds()
    );
    let grown = rss().saturating_sub(memory);
    assert!(
        grown < 4 << 20,
        "memory grew by {grown} bytes over 1,000 scrapes"
    );
    let accepted = scrape(metrics).total("turbine_connections_accepted_total", &[]);
    assert!(accepted >= 1050.0, "{accepted}");
}

/// With TLS on the main listener, the TLS families are written: a completed handshake and a
/// failed one (plaintext sent to the TLS port) are counted.
#[test]
fn tls_handshakes_are_counted() {
    let _serial = serial();
    let pair = util::tls::Pair::new("localhost");
    let running = turbine::Server::bind(metrics_config())
        .unwrap()
        .with_tls(pair.server_config(&[]))
        .start(|_| Echo::lines())
        .unwrap();
    let metrics = metrics_addr(&running);
    let text = get(metrics, "/metrics", "").body;
    assert!(
        text.contains("# TYPE turbine_tls_handshakes_total counter\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE turbine_tls_handshake_failures_total counter\n"));

    let client_config = util::tls::client_config(&[&pair], util::tls::BOTH, &[]);
    let mut client = util::tls::tls_client(running.local_addr(), &client_config);
    assert_echoes(&mut client, "secret", "TLS client");
    let mut plain = connect(running.local_addr());
    plain.write_all(b"not a ClientHello\r\n\r\n").unwrap();
    let _ = read_until_end(&mut plain, PATIENCE);
    let counted = |name: &str| scrape(metrics).total(name, &[]);
    assert!(wait_until(PATIENCE, || {
        counted("turbine_tls_handshakes_total") == 1.0
            && counted("turbine_tls_handshake_failures_total") == 1.0
    }));
}

/// With the PROXY protocol on, the metrics listener still takes plain requests (a scraper
/// sends no header), and `turbine_proxy_failures_total` counts a client of the main listener
/// that sent none.
#[test]
fn proxy_failures_are_counted() {
    let _serial = serial();
    let config = metrics_config().proxy_protocol(ProxyProtocol::V1);
    let running = start(config, |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let mut client = connect(running.local_addr());
    client.write_all(b"no header here\r\n").unwrap();
    let (_, end) = read_until_end(&mut client, PATIENCE);
    assert!(end.is_closed());
    assert!(wait_until(PATIENCE, || {
        scrape(metrics).sum("turbine_proxy_failures_total", &[]) == Some(1.0)
    }));
}

/// Waits for the `metrics on http://127.0.0.1:PORT/metrics` line of `example` and returns the
/// address.
fn example_metrics_addr(example: &Example) -> SocketAddr {
    let line = example
        .wait_line(PATIENCE, |l| l.contains("metrics on http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no `metrics on` line: {:?}", example.log()));
    let port = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|digits| digits.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Starts example `name` with only `env` set.
fn spawn_example(name: &str, env: &[(&str, &str)]) -> Example {
    Example::spawn_binary(example_binary(name), env)
}

/// A `TURBINE_METRICS_ADDR` that is not an address stops the program with exit code 2 and a
/// message naming the variable; one that is in use exits 1 naming the metrics listener; a good
/// one is logged and served.
#[test]
fn metrics_address_from_the_environment() {
    let _serial = serial();
    let mut bad = Example::spawn(&[("TURBINE_METRICS_ADDR", "localhost:nine")]);
    let status = bad.wait_exit(PATIENCE).expect("exits");
    assert_eq!(status.code(), Some(2), "{}", bad.output());
    assert!(
        bad.output().contains("TURBINE_METRICS_ADDR"),
        "{}",
        bad.output()
    );

    let taken = std::net::TcpListener::bind(localhost()).unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let mut in_use = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_METRICS_ADDR", &busy),
    ]);
    let status = in_use.wait_exit(PATIENCE).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", in_use.output());
    assert!(
        in_use.output().contains("metrics listener"),
        "{}",
        in_use.output()
    );

    let echo = Example::spawn(&[
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_METRICS_ADDR", "127.0.0.1:0"),
        ("RUST_LOG", "info"),
    ]);
    let metrics = example_metrics_addr(&echo);
    assert!(
        scrape(metrics)
            .sum("turbine_connections_open", &[])
            .is_some()
    );
}

/// The chat example's members and rooms (as members come and go), and the kv example's keys,
/// appear beside the server's own figures.
#[test]
fn examples_add_their_own_figures() {
    let _serial = serial();
    let env = [
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_METRICS_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", "2"),
    ];
    let chat = spawn_example("chat", &env);
    let addr = chat.listening_addr(); // logged before the metrics line
    let metrics = example_metrics_addr(&chat);
    let mut ann = connect(addr);
    let mut bob = connect(addr);
    let mut welcome = [0; 8];
    ann.read_exact(&mut welcome).unwrap();
    bob.read_exact(&mut welcome).unwrap();
    bob.write_all(b"/join games\n").unwrap();
    assert!(
        wait_until(PATIENCE, || {
            let exposition = scrape(metrics);
            exposition.sum("chat_members", &[]) == Some(2.0)
                && exposition.sum("chat_rooms", &[]) == Some(2.0)
        }),
        "chat figures: {:?}",
        get(metrics, "/metrics", "").body
    );
    assert!(scrape(metrics).total("turbine_connections_open", &[]) >= 2.0);
    // Bob leaves: one member, one room left.
    drop(bob);
    assert!(
        wait_until(PATIENCE, || {
            let exposition = scrape(metrics);
            exposition.sum("chat_members", &[]) == Some(1.0)
                && exposition.sum("chat_rooms", &[]) == Some(1.0)
        }),
        "chat figures after a member left: {:?}",
        get(metrics, "/metrics", "").body
    );

    let kv = spawn_example("kv", &env);
    let mut client = connect(kv.listening_addr());
    let metrics = example_metrics_addr(&kv);
    for key in ["a", "b", "c"] {
        client
            .write_all(format!("*3\r\n$3\r\nSET\r\n$1\r\n{key}\r\n$1\r\n1\r\n").as_bytes())
            .unwrap();
        let mut ok = [0; 5];
        client.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"+OK\r\n");
    }
    let exposition = scrape(metrics);
    assert_eq!(exposition.sum("kv_keys", &[]), Some(3.0));
    let reply = {
        let mut stream = TcpStream::connect(metrics).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        read_reply(&mut std::io::BufReader::new(stream), false)
    };
    assert!(
        reply.body.contains("# TYPE kv_keys gauge\n"),
        "{}",
        reply.body
    );
}

/// With `TURBINE_MAX_CONNECTIONS_PER_IP` at 2 and a scraper connection held (one from
/// 127.0.0.1), one client gets in and the next is refused: the endpoint counts exactly that
/// refusal under `reason="per_ip"` and none under `max_connections` or `descriptors`.
#[test]
fn per_ip_rejection_is_counted() {
    let _serial = serial();
    let running = start(metrics_config().max_connections_per_ip(2), |_| {
        Echo::lines()
    });
    let mut scraper = Scraper::connect(metrics_addr(&running));
    scraper.scrape();
    let mut admitted = connect(running.local_addr());
    assert_echoes(&mut admitted, "in", "the second connection");
    assert!(wait_until(PATIENCE, || running.stats().total().open == 2));
    let mut refused = connect(running.local_addr());
    let (_, end) = read_until_end(&mut refused, PATIENCE);
    assert!(end.is_closed(), "{end:?}");

    let mut exposition = scraper.scrape();
    let rejected = |exposition: &Exposition, reason| {
        exposition.total("turbine_connections_rejected_total", &[("reason", reason)])
    };
    assert!(
        wait_until(PATIENCE, || {
            exposition = scraper.scrape();
            rejected(&exposition, "per_ip") >= 1.0
        }),
        "no per-IP rejection counted"
    );
    assert_eq!(rejected(&exposition, "per_ip"), 1.0);
    assert_eq!(rejected(&exposition, "max_connections"), 0.0);
    assert_eq!(rejected(&exposition, "descriptors"), 0.0);
    // The admitted client is still served.
    assert_echoes(&mut admitted, "still", "the admitted client");
}

/// Offloads on command, one job per line: `block` runs a job that waits until the test drops
/// the gate's sender, `panic` a job that panics; the connection gets `done`, `panicked` or, for
/// a job the pool refused, `busy` at once.
struct Jobs {
    /// What a `block` job waits on.
    gate: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Jobs {
    /// Offloads `job` and answers as [`Jobs`] says.
    fn run(ctx: &mut Context<'_, Self>, job: impl FnOnce() + Send + 'static) {
        let offloaded = ctx.offload(job, |_, ctx, result: Result<(), JobError>| {
            ctx.send(if result.is_ok() { "done" } else { "panicked" });
        });
        match offloaded {
            Ok(()) => {}
            Err(OffloadError::Busy(_)) => ctx.send("busy"),
            Err(e) => ctx.send(format!("err {e}")),
        }
    }
}

impl Handler for Jobs {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        match line.as_str() {
            "block" => {
                let gate = Arc::clone(&self.gate);
                Jobs::run(ctx, move || {
                    let _ = gate.lock().unwrap_or_else(PoisonError::into_inner).recv();
                });
            }
            "panic" => Jobs::run(ctx, || panic!("a job panics, as the test asks")),
            _ => ctx.send("?"),
        }
    }
}

/// Reads one `\n`-terminated line from `stream`, without the `\n`.
fn read_line(stream: &mut TcpStream) -> String {
    util::hardening::read_line(stream).expect("a line")
}

/// One worker, a queue of one: a job blocked on a channel shows as `turbine_pool_running 1`,
/// a second as `turbine_pool_queued 1`, a third is refused (`turbine_pool_rejected_total 1`);
/// released, both run to their end (`turbine_pool_completed_total 2`, nothing running or
/// queued), and a job that panics is `turbine_pool_panicked_total 1`, not completed.
#[test]
fn pool_figures_are_exact() {
    let _serial = serial();
    let (release, gate) = mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(gate));
    let running = start(metrics_config().workers(1).worker_queue(1), move |_| Jobs {
        gate: Arc::clone(&gate),
    });
    // Declared after `running`, so dropped before it even if the test fails: the blocked jobs
    // end, and the server can stop.
    let release = release;
    let mut scraper = Scraper::connect(metrics_addr(&running));
    let addr = running.local_addr();
    let pool = |scraper: &mut Scraper| {
        let exposition = scraper.scrape();
        [
            "turbine_pool_running",
            "turbine_pool_queued",
            "turbine_pool_rejected_total",
            "turbine_pool_completed_total",
            "turbine_pool_panicked_total",
        ]
        .map(|name| exposition.total(name, &[]))
    };
    assert_eq!(pool(&mut scraper), [0.0; 5]);

    let mut first = send_line(addr, "block");
    assert!(
        wait_until(PATIENCE, || pool(&mut scraper)[0] == 1.0),
        "the first job is not running: {:?}",
        pool(&mut scraper)
    );
    let mut second = send_line(addr, "block");
    assert!(
        wait_until(PATIENCE, || pool(&mut scraper)[1] == 1.0),
        "the second job is not queued: {:?}",
        pool(&mut scraper)
    );
    let mut third = send_line(addr, "block");
    assert_eq!(read_line(&mut third), "busy");
    assert_eq!(pool(&mut scraper), [1.0, 1.0, 1.0, 0.0, 0.0]);

    drop(release);
    assert_eq!(read_line(&mut first), "done");
    assert_eq!(read_line(&mut second), "done");
    assert!(
        wait_until(PATIENCE, || pool(&mut scraper) == [0.0, 0.0, 1.0, 2.0, 0.0]),
        "after the release: {:?}",
        pool(&mut scraper)
    );

    let mut boom = send_line(addr, "panic");
    assert_eq!(read_line(&mut boom), "panicked");
    assert!(
        wait_until(PATIENCE, || pool(&mut scraper) == [0.0, 0.0, 1.0, 2.0, 1.0]),
        "after the panic: {:?}",
        pool(&mut scraper)
    );
}

/// An outbound connection that only holds its place (it sends nothing).
struct Outbound;

impl Handler for Outbound {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
}

/// On `go <addr>`, connects an [`Outbound`] to `addr` and answers `ok`, or `err <why>` if the
/// connect could not start.
struct Dialer;

impl Handler for Dialer {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let Some(to) = line.strip_prefix("go ") else {
            return ctx.send("?");
        };
        let to: SocketAddr = to.parse().expect("an address");
        match ctx.connect(to, Outbound) {
            Ok(_) => ctx.send("ok"),
            Err(e) => ctx.send(format!("err {:?}", e.error().kind())),
        }
    }
}

/// A handler's connect to a port where nothing listens is one
/// `turbine_outbound_connect_failures_total`, on a sample with a `reactor` label, and leaves
/// no outbound connection open; a connect to a listener kept open is
/// `turbine_outbound_connections_open 1`, back to 0 once the far end closes.
#[test]
fn outbound_figures_are_exact() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Dialer);
    let mut scraper = Scraper::connect(metrics_addr(&running));
    let mut client = connect(running.local_addr());
    let failures =
        |exposition: &Exposition| exposition.total("turbine_outbound_connect_failures_total", &[]);
    let outbound_open =
        |exposition: &Exposition| exposition.total("turbine_outbound_connections_open", &[]);

    // A port held bound and never listening: refused.
    let held = util::Refusing::new();
    let refusing = held.addr();
    let answer = util::hardening::echo_line(&mut client, &format!("go {refusing}")).unwrap();
    assert_eq!(answer, "ok");
    let mut exposition = scraper.scrape();
    assert!(
        wait_until(PATIENCE, || {
            exposition = scraper.scrape();
            failures(&exposition) >= 1.0
        }),
        "no connect failure counted"
    );
    assert_eq!(failures(&exposition), 1.0);
    let labelled: Vec<_> = exposition
        .samples
        .iter()
        .filter(|s| s.name == "turbine_outbound_connect_failures_total" && s.value == 1.0)
        .collect();
    assert_eq!(labelled.len(), 1, "{:?}", exposition.samples);
    assert!(
        labelled[0]
            .labels
            .iter()
            .any(|(k, v)| k == "reactor" && v.parse::<usize>().is_ok()),
        "{:?}",
        labelled[0]
    );
    assert!(wait_until(PATIENCE, || outbound_open(&scraper.scrape()) == 0.0));

    // A listener kept open: one outbound connection while the far end holds it.
    let far = std::net::TcpListener::bind(localhost()).unwrap();
    let to = far.local_addr().unwrap();
    let answer = util::hardening::echo_line(&mut client, &format!("go {to}")).unwrap();
    assert_eq!(answer, "ok");
    let (far_end, _) = far.accept().unwrap();
    assert!(
        wait_until(PATIENCE, || outbound_open(&scraper.scrape()) == 1.0),
        "the outbound connection is not counted open"
    );
    drop(far_end);
    assert!(
        wait_until(PATIENCE, || outbound_open(&scraper.scrape()) == 0.0),
        "the outbound connection is still counted open after the far end closed"
    );
    assert_eq!(failures(&scraper.scrape()), 1.0);
}

/// `turbine_connections_open`, summed over the reactors, is exact: a held scraper and three
/// clients make 4, and once the clients close it is back to 1 (the scraper).
#[test]
fn connections_open_is_exact() {
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::lines());
    let mut scraper = Scraper::connect(metrics_addr(&running));
    let mut open = || scraper.scrape().total("turbine_connections_open", &[]);
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let mut client = connect(running.local_addr());
            assert_echoes(&mut client, &format!("client {i}"), "a client");
            client
        })
        .collect();
    let mut last = 0.0;
    assert!(
        wait_until(PATIENCE, || {
            last = open();
            last == 4.0
        }),
        "connections_open is {last}, not 4"
    );
    drop(clients);
    assert!(
        wait_until(PATIENCE, || {
            last = open();
            last == 1.0
        }),
        "connections_open is {last}, not 1, after the clients closed"
    );
}

/// Between two scrapes on one kept scraper connection, 1,100 bytes echoed through the main
/// listener move `turbine_bytes_received_total` by at least 1,100 and at most 1,100 plus twice
/// the scrape request's length (the scrapes' own requests are the only other input), and
/// `turbine_bytes_sent_total` by at least 1,100.
#[test]
fn bytes_counters_follow_the_traffic() {
    const N: usize = 1100;
    let _serial = serial();
    let running = start(metrics_config(), |_| Echo::raw());
    let mut scraper = Scraper::connect(metrics_addr(&running));
    // What `Scraper::scrape` sends (`Scraper::request` with no extra header).
    let request = "GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n".len() as f64;
    let bytes = |exposition: &Exposition| {
        (
            exposition.total("turbine_bytes_received_total", &[]),
            exposition.total("turbine_bytes_sent_total", &[]),
        )
    };
    scraper.scrape(); // the connection is open and counted
    let (in_before, out_before) = bytes(&scraper.scrape());

    let mut client = connect(running.local_addr());
    let data = util::Rng::new(5).bytes(N);
    client.write_all(&data).unwrap();
    let mut back = vec![0; N];
    client.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
    // Waited for through the stats API, which reads the same published counters: another
    // scrape would add a request of its own.
    let published = |running: &Running| {
        let total = running.stats().total();
        total.bytes_in as f64 >= in_before + N as f64
            && total.bytes_out as f64 >= out_before + N as f64
    };
    assert!(
        wait_until(PATIENCE, || published(&running)),
        "the echo is not published: {:?}",
        running.stats().total()
    );

    let (in_after, out_after) = bytes(&scraper.scrape());
    let received = in_after - in_before;
    let sent = out_after - out_before;
    assert!(
        received >= N as f64 && received <= N as f64 + 2.0 * request,
        "bytes_received_total grew by {received}, not {N} to {N} + 2 x {request}"
    );
    assert!(
        sent >= N as f64,
        "bytes_sent_total grew by {sent}, less than {N}"
    );
}

/// Echoes lines, and keeps its connection open through a graceful shutdown
/// (`Context::keep_open`) until the deadline closes it by force.
struct Stubborn;

impl Handler for Stubborn {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }

    fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.keep_open();
    }
}

/// A connection still open at the shutdown deadline (200 ms) is closed by force, and the
/// registry, encoded after `shutdown` returned, counts it: the reactors' final counters are
/// published as they stop, `closed_total{reason="forced"}` sums to 1.
#[test]
fn forced_close_at_shutdown_is_counted() {
    let _serial = serial();
    let config = metrics_config().shutdown_timeout(Duration::from_millis(200));
    let running = start(config, |_| Stubborn);
    let mut client = connect(running.local_addr());
    assert_echoes(&mut client, "stay", "the stubborn client");
    assert!(wait_until(PATIENCE, || running.stats().total().open == 1));
    let metrics = running.metrics();
    running.shutdown().expect("shutdown");
    let (_, end) = read_until_end(&mut client, PATIENCE);
    assert!(end.is_closed(), "{end:?}");

    let text = metrics
        .encode(MetricsFormat::Prometheus)
        .expect("the registry encodes");
    let exposition = Exposition::parse(&text);
    let closed =
        |reason| exposition.total("turbine_connections_closed_total", &[("reason", reason)]);
    assert_eq!(closed("forced"), 1.0, "{text}");
    assert_eq!(
        exposition.total("turbine_connections_closed_total", &[]),
        1.0,
        "{text}"
    );
    assert_eq!(exposition.total("turbine_connections_open", &[]), 0.0);
}

/// `TURBINE_IDLE_TIMEOUT` applies to the metrics listener: a scraper that scrapes once and
/// then keeps a quiet connection gets a clean EOF, and once it closes its side too a fresh
/// scrape counts it under `closed_total{reason="idle_timeout"}`.
#[test]
fn idle_scraper_is_closed() {
    let _serial = serial();
    let config = metrics_config().idle_timeout(Some(Duration::from_millis(300)));
    let running = start(config, |_| Echo::lines());
    let metrics = metrics_addr(&running);
    let mut stream = connect(metrics);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let reply = read_reply(&mut reader, false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("connection"), None, "a keep-alive answer");
    assert!(reader.buffer().is_empty());
    let (got, end) = read_until_end(&mut stream, PATIENCE);
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(end, End::Eof);
    // Our FIN ends the server's lingering close (it waits up to `TURBINE_LINGER_TIMEOUT` for
    // it, since the scraper sent input within that time), and the close is counted.
    stream.shutdown(Shutdown::Write).unwrap();
    let idle = || {
        scrape(metrics).total(
            "turbine_connections_closed_total",
            &[("reason", "idle_timeout")],
        )
    };
    assert!(
        wait_until(PATIENCE, || idle() >= 1.0),
        "the idle close is not counted"
    );
}

/// `TURBINE_METRICS_ADDR` is off by default, and `off` or `0` turn it off even over a
/// program's own address: read through `Config::with_vars`, each gives a server without a
/// metrics listener; an address turns it on.
#[test]
fn metrics_address_off_by_default() {
    let _serial = serial();
    let from = |base: Config, value: Option<&str>| {
        base.with_vars(|name| {
            (name == "TURBINE_METRICS_ADDR")
                .then_some(value)
                .flatten()
                .map(str::to_string)
        })
        .unwrap_or_else(|e| panic!("{value:?}: {e}"))
    };
    let default = from(config(), None);
    assert_eq!(default.metrics_addr, None);
    assert_eq!(start(default, |_| Echo::lines()).metrics_addr(), None);
    for off in ["off", "OFF", "0", " off "] {
        let config = from(metrics_config(), Some(off));
        assert_eq!(config.metrics_addr, None, "{off:?}");
        assert_eq!(
            start(config, |_| Echo::lines()).metrics_addr(),
            None,
            "{off:?}"
        );
    }
    let on = from(config(), Some("127.0.0.1:0"));
    assert_eq!(on.metrics_addr, Some(localhost()));
    let running = start(on, |_| Echo::lines());
    assert!(
        scrape(metrics_addr(&running))
            .sum("turbine_connections_open", &[])
            .is_some()
    );
}
