//! The PROXY protocol on real loopback sockets: headers of both versions sent by hand (whole,
//! byte by byte, missing, malformed, from an untrusted address, LOCAL), the handler and the
//! per-IP cap seeing the header's client, TLS after the header, and HAProxy in front.

mod util;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use turbine::{Cidr, Config, Context, Handler, LinesCodec, ProxyProtocol, Running, Stats};
use util::haproxy::Haproxy;
use util::hardening::{connect_from, read_available, read_line, read_until_end};
use util::proxy_header::proxy_v2;
use util::{config, connect, start, wait_until};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// Describes on open what the handler was told of its connection, then echoes lines.
struct Whoami {
    /// The address the handler factory was given.
    factory: SocketAddr,
    /// Handlers opened, across the server.
    opened: Arc<AtomicUsize>,
}

impl Handler for Whoami {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        self.opened.fetch_add(1, Ordering::SeqCst);
        let (via, version, local_cmd, tlvs) = match ctx.proxy() {
            Some(h) => (
                h.balancer().to_string(),
                h.version().to_string(),
                h.is_local().to_string(),
                h.tlvs()
                    .iter()
                    .map(|t| format!("{:02x}:{}", t.kind(), String::from_utf8_lossy(t.value())))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            None => ("-".into(), "-".into(), "-".into(), String::new()),
        };
        ctx.send(format!(
            "peer={} local={} factory={} via={via} version={version} local_cmd={local_cmd} tlvs={tlvs}",
            ctx.peer_addr(),
            ctx.local_addr(),
            self.factory
        ));
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }
}

/// A [`Whoami`] server with `config`, and how many handlers it opened.
fn whoami(config: Config) -> (Running, Arc<AtomicUsize>) {
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&opened);
    let running = start(config, move |factory| Whoami {
        factory,
        opened: Arc::clone(&counter),
    });
    (running, opened)
}

/// The tests' configuration taking PROXY headers of `version`.
fn proxied(version: ProxyProtocol) -> Config {
    config().proxy_protocol(version)
}

/// Connects, sends `header` and a line, and returns the greeting after checking the echo.
fn greeting(addr: SocketAddr, header: &[u8]) -> (TcpStream, String) {
    let mut stream = connect(addr);
    stream.write_all(&[header, b"ping\n"].concat()).unwrap();
    let hello = read_line(&mut stream).expect("a greeting");
    assert_eq!(read_line(&mut stream).expect("the echo"), "ping");
    (stream, hello)
}

/// Whether the server closed `stream` (end of stream or reset) within [`PATIENCE`] without a
/// byte for it; what came instead is printed for the failing assertion.
fn closed_silently(stream: &mut TcpStream) -> bool {
    let (got, end) = read_until_end(stream, PATIENCE);
    let silent = got.is_empty() && end.is_closed();
    if !silent {
        eprintln!(
            "expected a silent close, got {:?} then {end:?}",
            String::from_utf8_lossy(&got)
        );
    }
    silent
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn totals(running: &Running) -> Stats {
    running.stats()
}

/// A v1 header: the handler, its factory and `local_addr` see the client and the address it
/// reached, and `ctx.proxy()` names the balancer (this socket's peer).
#[test]
fn v1_header_names_the_client() {
    let (running, _) = whoami(proxied(ProxyProtocol::V1));
    let (stream, hello) = greeting(
        running.local_addr(),
        b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 7000\r\n",
    );
    let via = stream.local_addr().unwrap();
    assert_eq!(
        hello,
        format!(
            "peer=203.0.113.7:51000 local=192.0.2.1:7000 factory=203.0.113.7:51000 via={via} \
             version=v1 local_cmd=false tlvs="
        )
    );
}

/// v2 headers, IPv4 and IPv6 with TLVs: the same, with the TLVs handed to the handler.
#[test]
fn v2_headers_name_the_client_and_carry_tlvs() {
    let (running, _) = whoami(proxied(ProxyProtocol::V2));
    let header = proxy_v2(1, addr("203.0.113.7:51000"), addr("192.0.2.1:7000"), &[]);
    let (_stream, hello) = greeting(running.local_addr(), &header);
    assert!(
        hello.starts_with("peer=203.0.113.7:51000 local=192.0.2.1:7000 factory=203.0.113.7:51000"),
        "{hello}"
    );
    assert!(
        hello.ends_with("version=v2 local_cmd=false tlvs="),
        "{hello}"
    );

    let header = proxy_v2(
        1,
        addr("[2001:db8::7]:51000"),
        addr("[2001:db8::1]:7000"),
        &[(0x02, b"example.com"), (0xE0, b"tenant-42")],
    );
    let (_stream, hello) = greeting(running.local_addr(), &header);
    assert!(
        hello.starts_with("peer=[2001:db8::7]:51000 local=[2001:db8::1]:7000"),
        "{hello}"
    );
    assert!(
        hello.ends_with("tlvs=02:example.com,e0:tenant-42"),
        "{hello}"
    );
}

/// A header written one byte at a time is read whole (the handler sees its addresses and
/// TLVs); after every byte but the last, nothing has been sent and no handler opened (checked at
/// once after each byte, and again after 30 ms every few bytes and before the last byte); the
/// bytes after it reach the codec intact.
#[test]
fn header_split_at_every_byte() {
    /// How long to leave the server, every few bytes and before the last one, to act early.
    const SETTLE: Duration = Duration::from_millis(30);
    let (running, opened) = whoami(proxied(ProxyProtocol::Any));
    for (header, starts, ends) in [
        (
            b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 7000\r\n".to_vec(),
            "peer=[2001:db8::7]:51000 local=[2001:db8::1]:7000 factory=[2001:db8::7]:51000",
            "version=v1 local_cmd=false tlvs=",
        ),
        (
            proxy_v2(
                1,
                addr("203.0.113.9:4000"),
                addr("192.0.2.1:7000"),
                &[(0x05, b"id")],
            ),
            "peer=203.0.113.9:4000 local=192.0.2.1:7000 factory=203.0.113.9:4000",
            "version=v2 local_cmd=false tlvs=05:id",
        ),
    ] {
        let before = opened.load(Ordering::SeqCst);
        let mut stream = connect(running.local_addr());
        let (head, last) = header.split_at(header.len() - 1);
        for (i, &byte) in head.iter().enumerate() {
            stream.write_all(&[byte]).unwrap();
            // 1 ms so that the server most likely reads each byte on its own.
            std::thread::sleep(if i % 8 == 7 || i + 1 == head.len() {
                SETTLE
            } else {
                Duration::from_millis(1)
            });
            // Nothing yet: no greeting (the handler cannot have greeted a connection it was
            // not given), no close, and no handler.
            let mut early = Vec::new();
            let end = read_available(&mut stream, &mut early);
            assert!(
                end.is_none() && early.is_empty(),
                "after {} of {} bytes: got {:?}, {end:?}",
                i + 1,
                header.len(),
                String::from_utf8_lossy(&early)
            );
            assert_eq!(
                opened.load(Ordering::SeqCst),
                before,
                "a handler after {} of {} bytes",
                i + 1,
                header.len()
            );
        }
        stream.write_all(last).unwrap();
        stream.write_all(b"after\n").unwrap();
        let hello = read_line(&mut stream).expect("a greeting");
        assert!(hello.starts_with(starts), "{hello}");
        assert!(hello.ends_with(ends), "{hello}");
        assert_eq!(read_line(&mut stream).expect("the echo"), "after");
        assert_eq!(opened.load(Ordering::SeqCst), before + 1);
    }
}

/// Without a header, with a malformed one or one of the version not taken, the connection is
/// closed, counted, and never reaches a handler; the server serves the next client.
#[test]
fn missing_or_malformed_headers_are_closed() {
    let (running, opened) = whoami(proxied(ProxyProtocol::V2));
    let mut too_long = proxy_v2(1, addr("1.2.3.4:1"), addr("5.6.7.8:2"), &[]);
    too_long[14..16].copy_from_slice(&2000u16.to_be_bytes());
    let mut unspec = proxy_v2(1, addr("1.2.3.4:1"), addr("5.6.7.8:2"), &[]);
    unspec[13] = 0x00; // the PROXY command with AF_UNSPEC
    let mut bad_signature = proxy_v2(1, addr("1.2.3.4:1"), addr("5.6.7.8:2"), &[]);
    bad_signature[3] = b'X';
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", b"ping\n".to_vec()),
        ("plain HTTP", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        (
            "a v1 header on a v2 listener",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
        ),
        ("a bad signature", bad_signature),
        ("a v2 length over 1 KiB", too_long),
        ("PROXY with an unknown family", unspec),
    ];
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let mut stream = connect(running.local_addr());
        stream.write_all(bytes).unwrap();
        assert!(closed_silently(&mut stream), "{what}");
        assert!(
            wait_until(PATIENCE, || totals(&running).total().proxy_failures
                == i as u64 + 1),
            "{what}: not counted"
        );
    }
    assert_eq!(opened.load(Ordering::SeqCst), 0);
    let header = proxy_v2(1, addr("203.0.113.7:1"), addr("192.0.2.1:2"), &[]);
    let _served = greeting(running.local_addr(), &header);
    assert!(wait_until(PATIENCE, || totals(&running).total().open == 1));
}

/// A connection that sends no header is closed at the frame timeout, not before.
#[test]
fn silent_connection_closes_at_the_frame_timeout() {
    let timeout = Duration::from_millis(300);
    let (running, opened) = whoami(proxied(ProxyProtocol::Any).frame_timeout(Some(timeout)));
    let started = Instant::now();
    let mut stream = connect(running.local_addr());
    stream.write_all(b"PROXY TCP4 1.2.3.4").unwrap(); // half a header, then nothing
    assert!(closed_silently(&mut stream));
    assert!(started.elapsed() >= timeout - Duration::from_millis(20));
    assert_eq!(opened.load(Ordering::SeqCst), 0);
    assert!(wait_until(PATIENCE, || totals(&running)
        .total()
        .proxy_failures
        == 1));
}

/// Only the addresses in `TURBINE_PROXY_TRUSTED` may send headers: a connection from any
/// other is closed at once, before a byte is read.
#[test]
fn untrusted_sources_are_closed_at_once() {
    let only: Cidr = "127.0.0.2/32".parse().unwrap();
    let (running, opened) = whoami(proxied(ProxyProtocol::V1).proxy_trusted(vec![only]));
    let header = b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 7000\r\n";
    // From 127.0.0.1: refused without reading the header.
    let mut stream = connect(running.local_addr());
    let _ = stream.write_all(header);
    assert!(closed_silently(&mut stream));
    assert!(wait_until(PATIENCE, || totals(&running)
        .total()
        .proxy_failures
        == 1));
    assert_eq!(opened.load(Ordering::SeqCst), 0);
    // From 127.0.0.2: served.
    let mut stream = connect_from(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        running.local_addr(),
    );
    stream
        .write_all(&[&header[..], b"ping\n"].concat())
        .unwrap();
    let hello = read_line(&mut stream).expect("a greeting");
    assert!(hello.starts_with("peer=203.0.113.7:51000"), "{hello}");
    assert!(hello.contains("via=127.0.0.2:"), "{hello}");
}

/// A v2 LOCAL header (a balancer's health check) and a v1 UNKNOWN one keep the socket's own
/// addresses; the header is still there for the handler.
#[test]
fn local_and_unknown_keep_the_socket_addresses() {
    let (running, _) = whoami(proxied(ProxyProtocol::Any));
    let header = proxy_v2(0, addr("203.0.113.7:1"), addr("192.0.2.1:2"), &[]);
    let (stream, hello) = greeting(running.local_addr(), &header);
    let me = stream.local_addr().unwrap();
    assert_eq!(
        hello,
        format!(
            "peer={me} local={} factory={me} via={me} version=v2 local_cmd=true tlvs=",
            running.local_addr()
        )
    );
    let (stream, hello) = greeting(running.local_addr(), b"PROXY UNKNOWN\r\n");
    let me = stream.local_addr().unwrap();
    assert!(hello.starts_with(&format!("peer={me} ")), "{hello}");
    assert!(
        hello.ends_with("version=v1 local_cmd=true tlvs="),
        "{hello}"
    );
}

/// `TURBINE_MAX_CONNECTIONS_PER_IP` counts the header's client, not the balancer: a second
/// connection for one client is refused, another client's is served, and a slot freed by a
/// close is taken again.
#[test]
fn per_ip_cap_counts_the_header_client() {
    let (running, _) = whoami(proxied(ProxyProtocol::V2).max_connections_per_ip(1));
    let alice = proxy_v2(1, addr("203.0.113.7:1000"), addr("192.0.2.1:7000"), &[]);
    let bob = proxy_v2(1, addr("203.0.113.8:1000"), addr("192.0.2.1:7000"), &[]);
    let (first, _) = greeting(running.local_addr(), &alice);
    let mut second = connect(running.local_addr());
    second.write_all(&[&alice[..], b"ping\n"].concat()).unwrap();
    assert!(closed_silently(&mut second));
    assert!(wait_until(PATIENCE, || totals(&running).total().rejected == 1));
    let (_bob, hello) = greeting(running.local_addr(), &bob);
    assert!(hello.starts_with("peer=203.0.113.8:1000"), "{hello}");
    // Stats are published once per loop turn: see both open before watching one close.
    assert!(wait_until(PATIENCE, || totals(&running).total().open == 2));
    drop(first);
    assert!(wait_until(PATIENCE, || totals(&running).total().open == 1));
    greeting(running.local_addr(), &alice);
}

/// The header comes before the TLS ClientHello: the session is made over what follows it,
/// and the handler sees the header's client.
#[test]
fn tls_after_the_header() {
    use util::tls::{Pair, client_config};
    let pair = Pair::new("proxied");
    let config = proxied(ProxyProtocol::V1);
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&opened);
    let running = turbine::Server::bind(config)
        .unwrap()
        .with_tls(pair.server_config(&[]))
        .start(move |factory| Whoami {
            factory,
            opened: Arc::clone(&counter),
        })
        .unwrap();
    let mut tcp = connect(running.local_addr());
    tcp.write_all(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n")
        .unwrap();
    let client = client_config(&[&pair], &[&rustls::version::TLS13], &[]);
    let conn = rustls::ClientConnection::new(client, "localhost".try_into().unwrap()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"ping\n").unwrap();
    let mut got = Vec::new();
    let mut byte = [0];
    while got.iter().filter(|&&b| b == b'\n').count() < 2 {
        tls.read_exact(&mut byte).unwrap();
        got.push(byte[0]);
    }
    let got = String::from_utf8(got).unwrap();
    assert!(
        got.starts_with("peer=203.0.113.7:51000 local=192.0.2.1:443"),
        "{got}"
    );
    assert!(got.ends_with("\nping\n"), "{got}");
}

/// HAProxy in front, with `send-proxy-v2` and with `send-proxy` (v1), health checks
/// included: each client is seen with its own address, as HAProxy saw it, and the health checks
/// (v2 LOCAL headers; at least one is seen to open a handler) are taken as connections, not
/// counted as failures.
#[test]
fn behind_haproxy() {
    let (running, opened) = whoami(proxied(ProxyProtocol::Any));
    // Handlers opened for the test's own clients; any more were opened for health checks.
    let mut clients = 0;
    for options in [
        "send-proxy-v2 check check-send-proxy inter 200ms",
        "send-proxy",
    ] {
        let Some(haproxy) = Haproxy::start(&[running.local_addr()], options) else {
            return;
        };
        for _ in 0..3 {
            let mut stream = connect(haproxy.addr());
            stream.write_all(b"ping\n").unwrap();
            let hello = read_line(&mut stream).expect("a greeting through HAProxy");
            assert_eq!(read_line(&mut stream).expect("the echo"), "ping");
            clients += 1;
            let me = stream.local_addr().unwrap();
            assert!(
                hello.starts_with(&format!("peer={me} local={} ", haproxy.addr())),
                "{options}: {hello}"
            );
            let version = if options.starts_with("send-proxy-v2") {
                "v2"
            } else {
                "v1"
            };
            assert!(
                hello.contains(&format!("version={version} local_cmd=false")),
                "{hello}"
            );
        }
        if options.contains(" check ") {
            // Checks run every 200 ms: wait (while this HAProxy still runs) until one came.
            assert!(
                wait_until(PATIENCE, || opened.load(Ordering::SeqCst) > clients),
                "{options}: no health check opened a handler"
            );
        }
    }
    // The health checks (v2 LOCAL headers) were taken as connections, not failures.
    assert_eq!(totals(&running).total().proxy_failures, 0);
}
