//! TLS on the listeners (issue 13): the `echo`, `chat` and `kv` examples served over TLS with
//! the same bytes as over plain TCP; rustls and `openssl s_client` clients on TLS 1.2 and 1.3;
//! old versions, garbage, plaintext and stalled handshakes refused, counted and isolated; 200
//! concurrent sessions; SIGHUP reloading the certificate; every bad TLS setting refused with exit
//! code 2; ALPN and SNI as a handler sees them; and how `close_notify` shows in the close
//! reason.
//!
//! Certificates are made at test time with rcgen in a temporary directory; nothing binds
//! anything but 127.0.0.1 port 0. `openssl` tests skip, saying so, where the command is missing.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::ProtocolVersion;
use turbine::{CloseReason, Config, Context, Handler, LinesCodec, Running, Server, TlsInfo};

use util::hardening::{Closes, End, Pinger, assert_echoes, read_line, read_until_end};
use util::tls::{
    ALERT, BOTH, CertFiles, Client, Pair, SClient, TLS12, TLS13, alert_description, client_config,
    client_hello, close_notify, have_openssl, legacy_client_hello, peer_cert, tls_client,
    tls_connect, tls_connect_as,
};
use util::{Example, Rng, assert_same_bytes, connect, localhost, start, wait_until};

/// How long a process may take to start, reload or exit, and a connection to close.
const PATIENCE: Duration = Duration::from_secs(20);

// ----- servers ------------------------------------------------------------------------------

/// Starts example `name` on 127.0.0.1 port 0 with two reactors and `env` (nothing else of the
/// test's environment); returns it and its address once it listens.
fn example(name: &str, env: &[(&str, &str)]) -> (Example, SocketAddr) {
    let mut command = util::example_command(
        util::example_binary(name),
        &[("TURBINE_ADDR", "127.0.0.1:0"), ("TURBINE_REACTORS", "2")],
    );
    command.envs(env.iter().copied());
    let process = Example::spawn_command(command);
    let addr = process.listening_addr();
    (process, addr)
}

/// The tests' in-process configuration with TLS from `files` (`TURBINE_TLS_CERT`/`KEY`).
fn tls_config(files: &CertFiles) -> Config {
    util::config()
        .tls_cert(Some(files.cert.clone()))
        .tls_key(Some(files.key.clone()))
}

/// A lines echo that first tells its client what it knows of the connection's TLS session
/// (`Context::tls`): `TLSv1.3 alpn=redis sni=localhost`, `-` for what is absent, or `plain`;
/// and records why each connection closed.
struct Reporter {
    /// Where the close reasons go.
    closes: Closes,
}

impl Handler for Reporter {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let line = describe(ctx.tls());
        ctx.send(line);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        self.closes.push(reason);
    }
}

/// What [`Reporter`] says of a session.
fn describe(tls: Option<&TlsInfo>) -> String {
    let Some(tls) = tls else {
        return "plain".into();
    };
    let alpn = tls
        .alpn
        .as_deref()
        .map_or("-".into(), |p| String::from_utf8_lossy(p).into_owned());
    let sni = tls.server_name.as_deref().unwrap_or("-");
    format!("{} alpn={alpn} sni={sni}", tls.version)
}

/// Starts a [`Reporter`] server with `config`; returns it and its close reasons.
fn reporter(config: Config) -> (Running, Closes) {
    let closes = Closes::default();
    let shared = closes.clone();
    let running = start(config, move |_| Reporter {
        closes: shared.clone(),
    });
    (running, closes)
}

/// Waits until `closes` holds `n` reasons; fails the test otherwise.
#[track_caller]
fn wait_closes(closes: &Closes, n: usize) -> Vec<CloseReason> {
    assert!(
        wait_until(PATIENCE, || closes.all().len() >= n),
        "expected {n} closes, got {:?}",
        closes.all()
    );
    closes.all()
}

// ----- the examples over TLS: same bytes as plaintext -----------------------------------------

/// A session with the raw echo: lines, then 256 KiB of random bytes in 48 KiB round trips
/// (many TLS records each), then our close; returns everything received before the server's
/// clean close (a `close_notify` on TLS).
fn echo_session(mut client: Client) -> Vec<u8> {
    let mut received = Vec::new();
    for line in ["hello", "over", "the wire"] {
        client.send_line(line);
        let back = client.read_line().expect("an echoed line");
        received.extend_from_slice(back.as_bytes());
        received.push(b'\n');
    }
    let mut rng = Rng::new(13);
    let blob = rng.bytes(256 << 10);
    for piece in blob.chunks(48 << 10) {
        client.write_all(piece).expect("write a piece");
        let mut back = vec![0; piece.len()];
        client.read_exact(&mut back).expect("the piece echoed");
        received.extend_from_slice(&back);
    }
    client.finish();
    let rest = client
        .read_to_end_clean()
        .expect("a clean end of stream (close_notify on TLS)");
    assert!(rest.is_empty(), "bytes after our close: {rest:?}");
    received
}

/// The `echo` example with `TURBINE_TLS_CERT`/`KEY` set echoes a rustls client's lines and
/// 256 KiB of random bytes exactly as the plaintext example echoes them, and ends the session
/// with a `close_notify` (the handler is the same; only the transport changed).
#[test]
fn echo_example_over_tls_same_bytes_as_plaintext() {
    let pair = Pair::new("echo");
    let files = CertFiles::new(&pair);
    let (_plain_server, plain) = example("echo", &[]);
    let (_tls_server, tls) = example("echo", &files.env());
    let config = client_config(&[&pair], BOTH, &[]);

    let over_plain = echo_session(Client::plain(plain));
    let over_tls = echo_session(Client::tls(tls, &config));
    let mut expected = b"hello\nover\nthe wire\n".to_vec();
    expected.extend_from_slice(&Rng::new(13).bytes(256 << 10));
    assert_same_bytes(&over_plain, &expected, "plain echo");
    assert_same_bytes(&over_tls, &over_plain, "TLS echo against plain echo");
}

/// Reads a line from `client` and notes it in `log` as `who < line`.
fn take(client: &mut Client, who: &str, log: &mut Vec<String>) -> String {
    let line = client
        .read_line()
        .unwrap_or_else(|e| panic!("{who}: no line ({e}); so far: {log:#?}"));
    log.push(format!("{who} < {line}"));
    line
}

/// Two chat members go through welcome, join notice, room message, `/nick`, `/who`, `/msg` and
/// `/quit`; returns every line each received, in order per member.
fn chat_session(mut connect: impl FnMut() -> Client) -> Vec<String> {
    let mut log = Vec::new();
    let mut a = connect();
    take(&mut a, "a", &mut log);
    let mut b = connect();
    take(&mut b, "b", &mut log);
    take(&mut a, "a", &mut log);
    a.send_line("hello over the wire");
    take(&mut b, "b", &mut log);
    b.send_line("/nick bob");
    take(&mut b, "b", &mut log);
    take(&mut a, "a", &mut log);
    a.send_line("/who");
    take(&mut a, "a", &mut log);
    b.send_line("/msg guest1 psst");
    take(&mut a, "a", &mut log);
    a.send_line("/quit");
    take(&mut a, "a", &mut log);
    let rest = a
        .read_to_end_clean()
        .expect("a clean end after /quit (close_notify on TLS)");
    assert!(rest.is_empty(), "bytes after bye: {rest:?}");
    take(&mut b, "b", &mut log);
    b.finish();
    let rest = b.read_to_end_clean().expect("a clean end after our close");
    assert!(rest.is_empty(), "bytes after our close: {rest:?}");
    log
}

/// The `chat` example over TLS: two rustls members see exactly the lines two plaintext members
/// see (welcome, join, message, nick change, who, private message, bye, left), and `/quit` ends
/// the TLS session cleanly; a plaintext client refused on the TLS port never became a member.
#[test]
fn chat_example_over_tls_same_lines_as_plaintext() {
    let pair = Pair::new("chat");
    let files = CertFiles::new(&pair);
    let (_plain_server, plain) = example("chat", &[]);
    let (_tls_server, tls) = example("chat", &files.env());
    let config = client_config(&[&pair], BOTH, &[]);

    // A plaintext client on the TLS port never becomes a member: no `guest` number is used up.
    let mut stray = connect(tls);
    stray.write_all(b"/nick stray\n").unwrap();
    let (got, end) = read_until_end(&mut stray, PATIENCE);
    assert!(
        end.is_closed() && alert_description(&got).is_some(),
        "{got:?} {end:?}"
    );

    let over_plain = chat_session(|| Client::plain(plain));
    let over_tls = chat_session(|| Client::tls(tls, &config));
    let expected = [
        "a < * welcome guest1",
        "b < * welcome guest2",
        "a < * guest2 joined lobby",
        "b < guest1: hello over the wire",
        "b < * you are bob",
        "a < * guest2 is now bob",
        "a < * in lobby: bob guest1",
        "a < bob (private): psst",
        "a < * bye",
        "b < * guest1 left lobby",
    ];
    assert_eq!(over_plain, expected, "plaintext chat");
    assert_eq!(over_tls, over_plain, "TLS chat against plaintext chat");
}

/// Sends a pipeline of RESP commands ending in `QUIT` and returns every reply byte up to the
/// server's clean close.
fn kv_session(mut client: Client) -> Vec<u8> {
    let commands: &[&[&str]] = &[
        &["PING"],
        &["SET", "greeting", "hello over tls"],
        &["GET", "greeting"],
        &["INCR", "counter"],
        &["INCRBY", "counter", "41"],
        &["SET", "greeting", "hello over tls!", "GET"],
        &["EXISTS", "greeting", "counter", "nothing"],
        &["GET", "greeting"],
        &["DEL", "greeting"],
        &["GET", "greeting"],
        &["NOSUCHCOMMAND", "x"],
        &["QUIT"],
    ];
    for command in commands {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        client
            .write_all(&util::resp_client::multibulk(&args))
            .expect("write a command");
    }
    client
        .read_to_end_clean()
        .expect("every reply, then a clean end after QUIT (close_notify on TLS)")
}

/// The `kv` example over TLS: a pipeline of RESP commands (`PING`, `SET`, `GET`, `INCR`,
/// `EXISTS`, `DEL`, an unknown command, `QUIT`) gets byte for byte the replies it gets over
/// plain TCP, and `QUIT` ends the TLS session cleanly.
#[test]
fn kv_example_over_tls_same_replies_as_plaintext() {
    let pair = Pair::new("kv");
    let files = CertFiles::new(&pair);
    let (_plain_server, plain) = example("kv", &[]);
    let (_tls_server, tls) = example("kv", &files.env());
    let config = client_config(&[&pair], BOTH, &[]);

    let over_plain = kv_session(Client::plain(plain));
    let over_tls = kv_session(Client::tls(tls, &config));
    let text = String::from_utf8_lossy(&over_plain);
    let expected = "+PONG\r\n+OK\r\n$14\r\nhello over tls\r\n:1\r\n:42\r\n\
                    $14\r\nhello over tls\r\n:2\r\n$15\r\nhello over tls!\r\n:1\r\n$-1\r\n\
                    -ERR unknown command";
    assert!(text.starts_with(expected), "plaintext replies: {text:?}");
    assert!(text.ends_with("+OK\r\n"), "plaintext replies: {text:?}");
    assert_same_bytes(
        &over_tls,
        &over_plain,
        "TLS replies against plaintext replies",
    );
}

// ----- versions -----------------------------------------------------------------------------

/// `openssl s_client` echoes a line through the `echo` example over TLS 1.2 (`-tls1_2`) and
/// TLS 1.3 (`-tls1_3`), verifying the certificate against our CA file, says that version was
/// negotiated, and exits 0 when its stdin closes (skipped without `openssl`).
#[test]
fn openssl_s_client_echoes_over_tls12_and_tls13() {
    if !have_openssl() {
        return;
    }
    let pair = Pair::new("openssl");
    let files = CertFiles::new(&pair);
    let (_server, addr) = example("echo", &files.env());
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let mut client = SClient::spawn(addr, &files.cert, &[flag]);
        let line = format!("hello over {version}");
        client.send_line(&line);
        let back = client.next_line(PATIENCE);
        assert_eq!(
            back.as_deref(),
            Some(line.as_str()),
            "{flag}: no echo; stderr: {}",
            client.stderr()
        );
        client.close_stdin();
        let status = client.wait_exit(PATIENCE);
        let stderr = client.stderr();
        assert!(
            status.is_some_and(|s| s.success()),
            "{flag}: s_client exit {status:?}; stderr: {stderr}"
        );
        assert!(
            stderr.contains(&format!("Protocol version: {version}")),
            "{flag}: version not reported as {version}: {stderr}"
        );
    }
}

/// A rustls client limited to TLS 1.2, or to TLS 1.3, negotiates that version: its session says
/// so, and so does the server's handler through `Context::tls` (with the SNI the client sent); a
/// client offering both gets TLS 1.3.
#[test]
fn rustls_negotiates_tls12_and_tls13() {
    let pair = Pair::new("versions");
    let files = CertFiles::new(&pair);
    let (running, _closes) = reporter(tls_config(&files));
    let addr = running.local_addr();
    for (versions, want, name) in [
        (TLS12, ProtocolVersion::TLSv1_2, "TLSv1.2"),
        (TLS13, ProtocolVersion::TLSv1_3, "TLSv1.3"),
        (BOTH, ProtocolVersion::TLSv1_3, "TLSv1.3"),
    ] {
        let mut client = tls_client(addr, &client_config(&[&pair], versions, &[]));
        assert_eq!(client.conn.protocol_version(), Some(want));
        let told = read_line(&mut client).expect("the handler's report");
        assert_eq!(told, format!("{name} alpn=- sni=localhost"));
        assert_echoes(&mut client, "after the report", name);
    }
    assert_eq!(running.stats().total().tls_failures, 0);
}

/// Connects a TLS 1.3 client to `addr`, reads the server's flight, then sends its own last
/// flight (Finished), `line`, a `close_notify` if asked, and its FIN, in one write; returns
/// the client to read the answers with.
fn last_flight_with(
    addr: SocketAddr,
    pair: &Pair,
    line: &[u8],
    close_notify: bool,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let config = client_config(&[pair], TLS13, &[]);
    let mut tcp = connect(addr);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut tcp).expect("send the ClientHello");
    }
    // Read the server's flight; what the client answers stays queued.
    while conn.is_handshaking() {
        conn.read_tls(&mut tcp).expect("the server's flight");
        conn.process_new_packets().expect("a good server flight");
    }
    conn.writer().write_all(line).unwrap();
    if close_notify {
        conn.send_close_notify();
    }
    let mut flight = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut flight).unwrap();
    }
    tcp.write_all(&flight).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Data that arrives with the client's last handshake flight (TLS 1.3: its Finished, a line
/// and its `close_notify` in one write, then its FIN) is served: the line comes back, then the
/// server's `close_notify`, and the connection closes as `PeerClosed`.
#[test]
fn data_with_the_last_handshake_flight_is_served() {
    let pair = Pair::new("first flight");
    let files = CertFiles::new(&pair);
    let (running, closes) = reporter(tls_config(&files));
    let mut client = last_flight_with(running.local_addr(), &pair, b"along with Finished\n", true);
    let mut received = Vec::new();
    client
        .read_to_end(&mut received)
        .expect("the replies, then the server's close_notify");
    assert_eq!(
        String::from_utf8_lossy(&received),
        "TLSv1.3 alpn=- sni=localhost\nalong with Finished\n"
    );
    assert_eq!(wait_closes(&closes, 1), [CloseReason::PeerClosed]);
}

/// Data and a FIN that arrive with the client's Finished, with no `close_notify`: the line
/// is served and the connection closes as a truncation (`Io(UnexpectedEof)`) at once, though
/// the FIN was reported while the handshake was still under way.
#[test]
fn data_and_fin_with_the_last_handshake_flight_are_served() {
    let pair = Pair::new("first flight, no close_notify");
    let files = CertFiles::new(&pair);
    let (running, closes) = reporter(tls_config(&files));
    let mut client = last_flight_with(running.local_addr(), &pair, b"then gone\n", false);
    let mut received = Vec::new();
    let _ = client.read_to_end(&mut received); // the server's close_notify, or a reset
    assert!(
        String::from_utf8_lossy(&received).ends_with("then gone\n"),
        "{received:?}"
    );
    assert_eq!(
        wait_closes(&closes, 1),
        [CloseReason::Io(std::io::ErrorKind::UnexpectedEof)]
    );
}

/// TLS 1.3 key updates in the middle of a session (the client asks for one, so the server must
/// answer with its own) do not disturb the echo.
#[test]
fn key_updates_mid_session_keep_echoing() {
    let pair = Pair::new("key update");
    let files = CertFiles::new(&pair);
    let (running, _closes) = reporter(tls_config(&files));
    let mut client = tls_client(running.local_addr(), &client_config(&[&pair], TLS13, &[]));
    read_line(&mut client).unwrap();
    for round in 0..3 {
        client.conn.refresh_traffic_keys().expect("a key update");
        assert_echoes(&mut client, &format!("after key update {round}"), "client");
    }
    close_notify(&mut client).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("a clean end");
    assert!(rest.is_empty(), "{rest:?}");
}

/// `openssl s_client -tls1_1` (allowed to try with `@SECLEVEL=0`) fails its handshake with the
/// `echo` example and gets nothing echoed, while a rustls client connected before and one
/// connected after are served (skipped without `openssl`).
#[test]
fn openssl_tls11_client_is_refused() {
    if !have_openssl() {
        return;
    }
    let pair = Pair::new("tls11");
    let files = CertFiles::new(&pair);
    let (_server, addr) = example("echo", &files.env());
    let config = client_config(&[&pair], BOTH, &[]);
    let mut before = tls_client(addr, &config);
    assert_echoes(&mut before, "before", "earlier client");

    let mut old = SClient::spawn(
        addr,
        &files.cert,
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    // s_client handshakes before it reads its stdin: nothing to write, it fails first.
    let status = old.wait_exit(PATIENCE);
    let stderr = old.stderr();
    assert!(
        status.is_some_and(|s| !s.success()),
        "s_client -tls1_1 should fail: {status:?}; stderr: {stderr}"
    );
    assert_eq!(old.next_line(Duration::ZERO), None, "stderr: {stderr}");
    if stderr.contains("no protocols available") || stderr.contains("nknown option") {
        eprintln!("skipped the TLS 1.1 attempt: this openssl cannot offer TLS 1.1: {stderr}");
    } else {
        // The server refused it (rustls says handshake_failure), not openssl giving up.
        assert!(
            stderr.contains("alert"),
            "no alert from the server in: {stderr}"
        );
    }

    assert_echoes(&mut before, "after", "earlier client");
    let mut after = tls_client(addr, &config);
    assert_echoes(&mut after, "after", "later client");
}

/// A ClientHello offering only TLS 1.0 or TLS 1.1 (made by hand, no `openssl` needed) gets a
/// fatal alert (rustls sends `handshake_failure`) and the connection closes; each is counted as
/// a TLS failure, the handler's `on_close` hears `CloseReason::Tls` saying TLS 1.2 was not
/// offered, and a TLS 1.2 client is still served.
#[test]
fn tls10_and_tls11_hellos_get_a_fatal_alert() {
    let pair = Pair::new("old hellos");
    let files = CertFiles::new(&pair);
    let (running, closes) = reporter(tls_config(&files));
    let addr = running.local_addr();
    for version in [[3, 1], [3, 2]] {
        let mut old = connect(addr);
        old.write_all(&legacy_client_hello(version)).unwrap();
        let (got, end) = read_until_end(&mut old, PATIENCE);
        assert!(end.is_closed(), "{version:?}: still open ({end:?})");
        // rustls answers handshake_failure (40); protocol_version (70) would do as well.
        assert!(
            matches!(alert_description(&got), Some(40 | 70)),
            "{version:?}: expected a handshake_failure or protocol_version alert, got {got:?}"
        );
        assert_eq!(got[5], 2, "{version:?}: the alert should be fatal: {got:?}");
    }
    // Refused for its version (rustls: the peer did not offer TLS 1.2), not for something
    // else missing from the hello.
    let reasons = wait_closes(&closes, 2);
    assert!(
        reasons
            .iter()
            .all(|r| matches!(r, CloseReason::Tls(why) if why.contains("Tls12NotOffered"))),
        "{reasons:?}"
    );
    assert!(
        wait_until(PATIENCE, || running.stats().total().tls_failures == 2),
        "{:?}",
        running.stats().total()
    );
    let mut good = tls_client(addr, &client_config(&[&pair], TLS12, &[]));
    assert_eq!(
        read_line(&mut good).unwrap(),
        "TLSv1.2 alpn=- sni=localhost"
    );
}

// ----- refusals -----------------------------------------------------------------------------

/// Plaintext and garbage sent to a TLS listener (`Server::with_tls`) instead of a ClientHello —
/// a RESP `PING`, an HTTP request, random bytes, a handshake record with a garbage body — each
/// closes that connection (an alert at most, never an echo), is counted in `tls_failures` and
/// reported as `CloseReason::Tls`, while a TLS client pinging throughout is never disturbed.
#[test]
fn garbage_and_plaintext_are_refused_and_isolated() {
    let pair = Pair::new("garbage");
    let closes = Closes::default();
    let shared = closes.clone();
    let running = Server::bind(util::config())
        .expect("bind")
        .with_tls(pair.server_config(&[]))
        .start(move |_| shared.lines())
        .expect("start");
    let addr = running.local_addr();
    let pinger = Pinger::over(tls_client(addr, &client_config(&[&pair], BOTH, &[])));

    let mut rng = Rng::new(0x6a7b);
    // A handshake record holding a ClientHello of 60 bytes of noise.
    let mut noise_hello = vec![0x16, 3, 1, 0, 64, 1, 0, 0, 60];
    noise_hello.extend_from_slice(&rng.bytes(60));
    // A handshake record announcing a 16 MiB message: rustls gives up without an alert.
    let mut too_large = vec![0x16, 3, 1, 0, 64, 1, 0xff, 0xff, 0xff];
    too_large.extend_from_slice(&rng.bytes(60));
    let inputs: Vec<(&str, Vec<u8>, bool)> = vec![
        ("RESP ping", b"PING\r\n".to_vec(), true),
        (
            "HTTP request",
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            true,
        ),
        ("random bytes", rng.bytes(300), true),
        ("a ClientHello of noise", noise_hello, true),
        ("an oversized handshake message", too_large, false),
    ];
    for (what, bytes, alert) in &inputs {
        let mut stream = connect(addr);
        stream.write_all(bytes).unwrap();
        let (got, end) = read_until_end(&mut stream, PATIENCE);
        assert!(end.is_closed(), "{what}: still open ({end:?})");
        if let Some(first) = got.first() {
            assert_eq!(
                *first, ALERT,
                "{what}: expected at most an alert, got {got:?}"
            );
            assert!(got.len() <= 7, "{what}: more than one alert: {got:?}");
        }
        if *alert && end == End::Eof {
            // The server read all we sent, so its close was a FIN, after its alert.
            assert!(
                alert_description(&got).is_some(),
                "{what}: closed without an alert: {got:?}"
            );
        }
    }
    let n = inputs.len();
    assert!(
        wait_until(PATIENCE, || running.stats().total().tls_failures
            == n as u64),
        "tls_failures: {:?}",
        running.stats().total()
    );
    let reasons = wait_closes(&closes, n);
    assert!(
        reasons.iter().all(|r| matches!(r, CloseReason::Tls(_))),
        "{reasons:?}"
    );
    assert!(pinger.finish() > 0);
    let total = running.stats().total();
    assert_eq!(total.frames_in, total.frames_out, "only the pinger's lines");
}

/// A handshake that stalls — a client that sends nothing, one that sends half a ClientHello —
/// is closed by the `echo` example once `TURBINE_TLS_HANDSHAKE_TIMEOUT=300ms` has passed (not
/// before, and well within 20 s), while a client that finished its handshake stays served
/// after idling longer than that.
#[test]
fn stalled_handshakes_close_at_the_handshake_timeout() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let pair = Pair::new("stall");
    let files = CertFiles::new(&pair);
    let mut env = files.env().to_vec();
    env.push(("TURBINE_TLS_HANDSHAKE_TIMEOUT", "300ms"));
    let (_server, addr) = example("echo", &env);
    let config = client_config(&[&pair], BOTH, &[]);
    let mut good = tls_client(addr, &config);
    assert_echoes(&mut good, "before", "finished handshake");

    let silent_since = Instant::now();
    let mut silent = connect(addr);
    let hello = client_hello(&config);
    let half_since = Instant::now();
    let mut half = connect(addr);
    half.write_all(&hello[..hello.len() / 2]).unwrap();

    for (what, stream, since) in [
        ("silent", &mut silent, silent_since),
        ("half a ClientHello", &mut half, half_since),
    ] {
        let (got, end) = read_until_end(stream, PATIENCE);
        let after = since.elapsed();
        assert!(end.is_closed(), "{what}: not closed within {PATIENCE:?}");
        assert!(got.is_empty() || got[0] == ALERT, "{what}: got {got:?}");
        // Some slack for the reactor's clock, read once per turn.
        assert!(
            after >= TIMEOUT - Duration::from_millis(50),
            "{what}: closed after {after:?}, before the {TIMEOUT:?} timeout"
        );
    }
    std::thread::sleep(TIMEOUT);
    assert_echoes(&mut good, "after", "finished handshake");
}

/// In process, a stalled handshake closes with `CloseReason::HandshakeTimeout` (its handler
/// never opened, yet hears `on_close`) and counts in `tls_failures`.
#[test]
fn stalled_handshake_is_counted_with_its_reason() {
    let pair = Pair::new("stall reason");
    let files = CertFiles::new(&pair);
    let config = tls_config(&files).tls_handshake_timeout(Duration::from_millis(200));
    let (running, closes) = reporter(config);
    let mut silent = connect(running.local_addr());
    let (got, end) = read_until_end(&mut silent, PATIENCE);
    assert!(end.is_closed() && got.is_empty(), "{got:?} {end:?}");
    assert_eq!(wait_closes(&closes, 1), [CloseReason::HandshakeTimeout]);
    assert!(
        wait_until(PATIENCE, || running.stats().total().tls_failures == 1),
        "{:?}",
        running.stats().total()
    );
    assert_eq!(running.stats().total().frames_out, 0);
}

// ----- load ---------------------------------------------------------------------------------

/// 200 TLS connections open at once (the server counts them all open together) each echo five
/// lines of their own exactly, then close cleanly with `close_notify`.
#[test]
fn two_hundred_concurrent_tls_connections_echo() {
    const CONNECTIONS: usize = 200;
    let pair = Pair::new("load");
    let files = CertFiles::new(&pair);
    let running = start(tls_config(&files), |_| util::Echo::lines());
    let addr = running.local_addr();
    let config = client_config(&[&pair], BOTH, &[]);
    let connected = Arc::new(AtomicUsize::new(0));
    let go = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (config, connected) = (Arc::clone(&config), Arc::clone(&connected));
            let (go, failed) = (Arc::clone(&go), Arc::clone(&failed));
            std::thread::spawn(move || -> Result<(), String> {
                let outcome = (|| {
                    let mut client =
                        tls_connect(addr, &config).map_err(|e| format!("handshake: {e}"))?;
                    connected.fetch_add(1, Ordering::SeqCst);
                    if !wait_until(PATIENCE, || {
                        go.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst)
                    }) {
                        return Err("never told to go".to_string());
                    }
                    for j in 0..5 {
                        let line = format!("connection {i} line {j} {}", "x".repeat(i % 37));
                        let back = util::hardening::echo_line(&mut client, &line)
                            .map_err(|e| format!("line {j}: {e}"))?;
                        if back != line {
                            return Err(format!("line {j}: got {back:?}"));
                        }
                    }
                    close_notify(&mut client).map_err(|e| format!("close_notify: {e}"))?;
                    let mut rest = Vec::new();
                    client
                        .read_to_end(&mut rest)
                        .map_err(|e| format!("clean end: {e}"))?;
                    if rest.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("bytes after our close: {rest:?}"))
                    }
                })();
                if outcome.is_err() {
                    failed.store(true, Ordering::SeqCst);
                }
                outcome.map_err(|e| format!("connection {i}: {e}"))
            })
        })
        .collect();
    let all_connected = wait_until(PATIENCE, || {
        connected.load(Ordering::SeqCst) == CONNECTIONS || failed.load(Ordering::SeqCst)
    }) && !failed.load(Ordering::SeqCst);
    let all_open = all_connected
        && wait_until(PATIENCE, || {
            running.stats().total().open == CONNECTIONS as u64
        });
    go.store(true, Ordering::SeqCst);
    let errors: Vec<String> = threads
        .into_iter()
        .filter_map(|t| t.join().expect("client thread").err())
        .collect();
    assert!(errors.is_empty(), "{} failed: {errors:#?}", errors.len());
    assert!(all_connected, "not every client completed its handshake");
    assert!(
        all_open,
        "the server never had all {CONNECTIONS} open: {:?}",
        running.stats().total()
    );
    assert!(
        wait_until(PATIENCE, || running.stats().total().closed
            == CONNECTIONS as u64),
        "{:?}",
        running.stats().total()
    );
    let total = running.stats().total();
    assert_eq!(total.tls_failures, 0);
    assert_eq!(total.frames_in, 5 * CONNECTIONS as u64);
    assert_eq!(total.frames_out, 5 * CONNECTIONS as u64);
}

// ----- reload -------------------------------------------------------------------------------

/// SIGHUP reloads the certificate: after the files are rewritten with pair B and SIGHUP, new
/// connections get certificate B while one opened on certificate A keeps echoing; then a key
/// that does not match and a certificate file that is not PEM are each refused on SIGHUP with
/// an error naming the variable and why, and new connections still get B.
#[test]
fn sighup_reloads_the_certificate_and_keeps_it_on_a_bad_pair() {
    let a = Pair::new("turbine test A");
    let b = Pair::new("turbine test B");
    let files = CertFiles::new(&a);
    let (server, addr) = example("echo", &files.env());
    let config = client_config(&[&a, &b], BOTH, &[]);
    let mut old = tls_client(addr, &config);
    assert_eq!(peer_cert(&old), a.der, "the first certificate");
    // An echo means the reactors run, so the signal handlers (installed before they start) are
    // in place: SIGHUP cannot hit the default action and end the process.
    assert_echoes(&mut old, "on A", "connection on A");

    files.write(&b);
    server.signal("HUP");
    server
        .wait_line(PATIENCE, |l| l.contains("TLS certificate reloaded"))
        .unwrap_or_else(|| panic!("no reload line: {}", server.output()));
    let mut new = tls_client(addr, &config);
    assert_eq!(peer_cert(&new), b.der, "a new connection after the reload");
    assert_echoes(&mut new, "on B", "connection on B");
    assert_echoes(&mut old, "still on A", "connection on A after the reload");
    assert_eq!(peer_cert(&old), a.der);

    let bad_pairs = [
        (
            "a key of another certificate",
            a.cert_pem.as_str(),
            b.key_pem.as_str(),
            "TURBINE_TLS_KEY",
            "the private key of the certificate",
        ),
        (
            "a certificate file without PEM",
            "not a certificate\n",
            b.key_pem.as_str(),
            "TURBINE_TLS_CERT",
            "at least one CERTIFICATE block",
        ),
    ];
    for (what, cert, key, var, why) in bad_pairs {
        files.write_raw(cert, key);
        server.signal("HUP");
        let line = server
            .wait_line(PATIENCE, |l| l.contains("not reloaded"))
            .unwrap_or_else(|| panic!("{what}: no error line: {}", server.output()));
        assert!(
            line.contains("ERROR"),
            "{what}: not logged as an error: {line}"
        );
        assert!(line.contains("the old one stays"), "{what}: {line}");
        assert!(line.contains(var), "{what}: {var} not named: {line}");
        assert!(line.contains(why), "{what}: does not say why: {line}");
        assert!(
            line.contains(files.dir.path().to_str().unwrap()),
            "{what}: no path: {line}"
        );
        let mut client = tls_client(addr, &config);
        assert_eq!(
            peer_cert(&client),
            b.der,
            "{what}: B should stay in service"
        );
        assert_echoes(&mut client, "still B", what);
    }
    assert_echoes(&mut old, "A to the end", "connection on A");
    assert_echoes(&mut new, "B to the end", "connection on B");
}

// ----- bad configuration --------------------------------------------------------------------

/// Runs the `echo` example with `bad` and the address of a listener of ours: it must exit with
/// code 2 naming `var` on stderr, without having tried to bind (a bind would fail on our
/// listener with exit code 1). Returns the output.
fn refused(bad: &[(&str, &str)], var: &str) -> String {
    let occupied = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = occupied.local_addr().unwrap().to_string();
    let mut env = vec![("TURBINE_ADDR", addr.as_str())];
    env.extend_from_slice(bad);
    let mut example = Example::spawn(&env);
    let status = example
        .wait_exit(PATIENCE)
        .unwrap_or_else(|| panic!("{bad:?}: did not exit; output: {}", example.output()));
    let output = example.output();
    assert_eq!(
        status.code(),
        Some(2),
        "{bad:?}: exit code; output:\n{output}"
    );
    assert!(
        output.contains(var),
        "{bad:?}: {var} not named in:\n{output}"
    );
    assert!(output.contains("configuration error"), "{bad:?}:\n{output}");
    assert!(
        !output.contains("listening"),
        "{bad:?}: it listened:\n{output}"
    );
    assert!(
        !output.contains("cannot listen"),
        "{bad:?}: it tried to bind:\n{output}"
    );
    output
}

/// `TURBINE_TLS_CERT` without `TURBINE_TLS_KEY` exits 2 naming `TURBINE_TLS_KEY`.
#[test]
fn cert_without_key_exits_2() {
    let files = CertFiles::new(&Pair::new("lonely cert"));
    refused(&[("TURBINE_TLS_CERT", files.cert_str())], "TURBINE_TLS_KEY");
}

/// `TURBINE_TLS_KEY` without `TURBINE_TLS_CERT` exits 2 naming `TURBINE_TLS_CERT`.
#[test]
fn key_without_cert_exits_2() {
    let files = CertFiles::new(&Pair::new("lonely key"));
    refused(&[("TURBINE_TLS_KEY", files.key_str())], "TURBINE_TLS_CERT");
}

/// A certificate path that cannot be read (no such file; a directory) exits 2 naming
/// `TURBINE_TLS_CERT` and the path.
#[test]
fn unreadable_cert_exits_2() {
    let files = CertFiles::new(&Pair::new("unreadable"));
    let missing = files.dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let dir = files.dir.path().to_str().unwrap();
    for path in [missing, dir] {
        let output = refused(
            &[
                ("TURBINE_TLS_CERT", path),
                ("TURBINE_TLS_KEY", files.key_str()),
            ],
            "TURBINE_TLS_CERT",
        );
        assert!(output.contains(path), "{path} not named in:\n{output}");
    }
}

/// A key path that cannot be read exits 2 naming `TURBINE_TLS_KEY`.
#[test]
fn unreadable_key_exits_2() {
    let files = CertFiles::new(&Pair::new("unreadable key"));
    let missing = files.dir.join("missing.pem");
    refused(
        &[
            ("TURBINE_TLS_CERT", files.cert_str()),
            ("TURBINE_TLS_KEY", missing.to_str().unwrap()),
        ],
        "TURBINE_TLS_KEY",
    );
}

/// A certificate file that holds no PEM certificate, and a key file that holds no PEM key, each
/// exit 2 naming their variable.
#[test]
fn invalid_pem_exits_2() {
    let pair = Pair::new("invalid pem");
    let files = CertFiles::new(&pair);
    files.write_raw("this is not PEM\n", &pair.key_pem);
    refused(&files.env(), "TURBINE_TLS_CERT");
    // A certificate where the key should be is PEM, but no key.
    files.write_raw(&pair.cert_pem, &pair.cert_pem);
    refused(&files.env(), "TURBINE_TLS_KEY");
    files.write_raw(
        &pair.cert_pem,
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    );
    refused(&files.env(), "TURBINE_TLS_KEY");
}

/// A key that is not the certificate's exits 2 naming `TURBINE_TLS_KEY`.
#[test]
fn key_not_matching_the_cert_exits_2() {
    let pair = Pair::new("cert");
    let other = Pair::new("other");
    let files = CertFiles::new(&pair);
    files.write_raw(&pair.cert_pem, &other.key_pem);
    refused(&files.env(), "TURBINE_TLS_KEY");
}

/// `TURBINE_TLS_HANDSHAKE_TIMEOUT` that is not a duration exits 2 naming it and the value.
#[test]
fn bad_handshake_timeout_exits_2() {
    let files = CertFiles::new(&Pair::new("timeout"));
    let mut env = files.env().to_vec();
    env.push(("TURBINE_TLS_HANDSHAKE_TIMEOUT", "soon"));
    let output = refused(&env, "TURBINE_TLS_HANDSHAKE_TIMEOUT");
    assert!(output.contains("soon"), "{output}");
}

/// A malformed `TURBINE_TLS_ALPN` (an empty name, a name with a space) exits 2 naming it.
#[test]
fn bad_alpn_exits_2() {
    let files = CertFiles::new(&Pair::new("alpn"));
    for value in ["h2,,redis", "has space"] {
        let mut env = files.env().to_vec();
        env.push(("TURBINE_TLS_ALPN", value));
        refused(&env, "TURBINE_TLS_ALPN");
    }
}

// ----- ALPN, SNI, close_notify --------------------------------------------------------------

/// With `TURBINE_TLS_ALPN=h2,redis` the `echo` example negotiates what the client offers of
/// those (the server's order wins when both are offered), negotiates nothing with a client that
/// offers no ALPN, and refuses a client that offers only protocols it does not know.
#[test]
fn alpn_is_negotiated_by_the_example() {
    let pair = Pair::new("alpn");
    let files = CertFiles::new(&pair);
    let mut env = files.env().to_vec();
    env.push(("TURBINE_TLS_ALPN", "h2,redis"));
    let (_server, addr) = example("echo", &env);
    for (offered, want) in [
        (&["redis"][..], Some(&b"redis"[..])),
        (&["redis", "h2"][..], Some(&b"h2"[..])),
        (&[][..], None),
    ] {
        let mut client = tls_client(addr, &client_config(&[&pair], BOTH, offered));
        assert_eq!(client.conn.alpn_protocol(), want, "offering {offered:?}");
        assert_echoes(&mut client, "with alpn", "ALPN client");
    }
    let refused = tls_connect(addr, &client_config(&[&pair], BOTH, &["http/1.1"]));
    assert!(
        refused.is_err(),
        "a client offering only http/1.1 was accepted"
    );
    let mut client = tls_client(addr, &client_config(&[&pair], BOTH, &["redis"]));
    assert_echoes(&mut client, "still serving", "ALPN client after a refusal");
}

/// The handler sees through `Context::tls` the ALPN protocol negotiated (`TURBINE_TLS_ALPN`
/// set in the configuration) and the SNI the client sent: a DNS name as given, and none when the
/// client connects by IP address.
#[test]
fn handler_sees_alpn_and_sni() {
    let pair = Pair::new("sni");
    let files = CertFiles::new(&pair);
    let config = tls_config(&files).tls_alpn(vec!["h2".into(), "redis".into()]);
    let (running, _closes) = reporter(config);
    let addr = running.local_addr();
    let cases = [
        (
            &["redis"][..],
            "localhost",
            "TLSv1.3 alpn=redis sni=localhost",
        ),
        (
            &["h2", "redis"][..],
            "localhost",
            "TLSv1.3 alpn=h2 sni=localhost",
        ),
        (&[][..], "localhost", "TLSv1.3 alpn=- sni=localhost"),
        (&["redis"][..], "127.0.0.1", "TLSv1.3 alpn=redis sni=-"),
    ];
    for (offered, name, want) in cases {
        let config = client_config(&[&pair], BOTH, offered);
        let mut client = tls_connect_as(addr, &config, name).expect("handshake");
        assert_eq!(read_line(&mut client).unwrap(), want);
    }
}

/// A peer that ends its TLS session with `close_notify` closes as `PeerClosed` (and gets the
/// server's own `close_notify`); one that sends a bare FIN closes as `Io(UnexpectedEof)`, which
/// a truncation attack would look like; a graceful shutdown sends `close_notify` to a client
/// still connected.
#[test]
fn close_notify_and_bare_fin_close_differently() {
    let pair = Pair::new("close");
    let files = CertFiles::new(&pair);
    let (running, closes) = reporter(tls_config(&files));
    let addr = running.local_addr();
    let config = client_config(&[&pair], BOTH, &[]);

    let mut clean = tls_client(addr, &config);
    read_line(&mut clean).unwrap();
    assert_echoes(&mut clean, "bye", "clean client");
    close_notify(&mut clean).unwrap();
    let mut rest = Vec::new();
    clean
        .read_to_end(&mut rest)
        .expect("the server's close_notify, then its FIN");
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(wait_closes(&closes, 1), [CloseReason::PeerClosed]);

    let mut abrupt = tls_client(addr, &config);
    read_line(&mut abrupt).unwrap();
    assert_echoes(&mut abrupt, "bye", "abrupt client");
    abrupt.sock.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(
        wait_closes(&closes, 2)[1],
        CloseReason::Io(std::io::ErrorKind::UnexpectedEof)
    );
    drop(abrupt);

    let mut last = tls_client(addr, &config);
    read_line(&mut last).unwrap();
    running.shutdown_handle().shutdown();
    let mut rest = Vec::new();
    last.read_to_end(&mut rest)
        .expect("a close_notify at shutdown, not a bare FIN");
    assert!(rest.is_empty(), "{rest:?}");
    drop(last);
    running.join().expect("shutdown");
    assert_eq!(closes.all()[2], CloseReason::Shutdown);
}

/// `Server::listen_tls` adds a TLS listener, with its own rustls configuration and ALPN,
/// beside a plain main listener: the handler sees TLS on one and `None` on the other.
#[test]
fn listen_tls_adds_a_tls_listener_beside_a_plain_one() {
    let pair = Pair::new("second listener");
    let closes = Closes::default();
    let (one, two) = (closes.clone(), closes.clone());
    let server = Server::bind(util::config())
        .expect("bind")
        .listen_tls(localhost(), pair.server_config(&["echo"]), move |_| {
            Reporter {
                closes: one.clone(),
            }
        })
        .expect("listen_tls");
    let [plain, tls] = server.local_addrs()[..] else {
        panic!("two listeners: {:?}", server.local_addrs());
    };
    let running = server
        .start(move |_| Reporter {
            closes: two.clone(),
        })
        .expect("start");
    let mut client = Client::plain(plain);
    assert_eq!(client.read_line().unwrap(), "plain");
    let mut client = tls_client(tls, &client_config(&[&pair], BOTH, &["echo"]));
    assert_eq!(
        read_line(&mut client).unwrap(),
        "TLSv1.3 alpn=echo sni=localhost"
    );
    assert_echoes(&mut client, "second listener", "TLS listener");
    drop(running);
}

/// A TLS peer that stops reading is closed by `TURBINE_WRITE_TIMEOUT` as a plaintext one is,
/// even when the bytes it does not take wait in the TLS session rather than in the
/// connection's output (22 KiB of echo against a 4 KiB window and a 4 KiB send buffer: more
/// than the kernel holds, less than the kernel and the session's buffer together).
#[test]
fn write_timeout_closes_a_tls_peer_that_stops_reading() {
    let pair = Pair::new("stalled reader");
    let files = CertFiles::new(&pair);
    let config = tls_config(&files)
        .reactors(1)
        .send_buffer(Some(4 << 10))
        .write_timeout(Some(Duration::from_millis(500)));
    let closes = Closes::default();
    let shared = closes.clone();
    let running = start(config, move |_| shared.lines());
    let tcp = util::small_window_client(running.local_addr(), 4 << 10);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[&pair], BOTH, &[]), name).unwrap();
    let mut client = rustls::StreamOwned::new(conn, tcp);
    while client.conn.is_handshaking() {
        client
            .conn
            .complete_io(&mut client.sock)
            .expect("handshake");
    }
    let line = format!("{}\n", "y".repeat(1023));
    for _ in 0..22 {
        client.write_all(line.as_bytes()).unwrap();
    }
    client.flush().unwrap();
    // Never read: the server's echo stops moving, and the write timeout must close it.
    assert_eq!(wait_closes(&closes, 1), [CloseReason::WriteTimeout]);
}
