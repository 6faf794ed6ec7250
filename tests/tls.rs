//! TLS on the reactors: the examples over TLS with rustls and `openssl s_client` as clients, what
//! a handler learns of a session, how TLS connections close, what happens to plaintext,
//! garbage and silent clients on a TLS port, many sessions at once, certificate reload on
//! SIGHUP, and the configuration errors of the TLS variables.
//!
//! Every certificate is made while the tests run (`util::tls::TestCert`); no key is committed.

mod util;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rustls::ProtocolVersion;
use turbine::{CloseReason, Config, Context, Handler, LinesCodec, Running};
// `turbine` does not re-export `TlsInfo`; the reactor crate does.
use turbine::TlsInfo;

use util::hardening::Closes;
use util::resp_client::{multibulk, run_with_timeout};
use util::tls::{
    TLS12, TLS13, TestCert, TlsClient, assert_echoes, handshake, have_openssl, line,
    peer_certificate, read_line, s_client, write_line,
};
use util::{Example, Rng, example_binary, wait_until};

/// How long a test waits for something that should happen at once.
const SOON: Duration = Duration::from_secs(10);

// ----- helpers ------------------------------------------------------------------------------

/// Example `name` as a process on a free port of 127.0.0.1 with two reactors, TLS from `cert`,
/// `RUST_LOG=info`, and `extra` variables; nothing else from the test's environment.
fn spawn_example(name: &str, cert: &TestCert, extra: &[(&str, &str)]) -> Example {
    let mut command = Command::new(example_binary(name));
    command
        .env_clear()
        .env("TURBINE_ADDR", "127.0.0.1:0")
        .env("TURBINE_REACTORS", "2")
        .env("RUST_LOG", "info")
        .env("TURBINE_TLS_CERT", cert.cert_path())
        .env("TURBINE_TLS_KEY", cert.key_path())
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Example::spawn_command(command)
}

/// The echo example over TLS with `ECHO_FRAMING=lines`, and where it listens.
fn echo_example(cert: &TestCert) -> (Example, SocketAddr) {
    let example = spawn_example("echo", cert, &[("ECHO_FRAMING", "lines")]);
    let addr = example.listening_addr();
    (example, addr)
}

/// The tests' configuration (127.0.0.1 port 0, two reactors) with TLS from `cert`.
fn tls_config(cert: &TestCert) -> Config {
    util::config()
        .tls_cert(Some(cert.cert_path()))
        .tls_key(Some(cert.key_path()))
}

/// An in-process lines echo over TLS that records why each connection closed.
fn echo_server(config: Config) -> (Running, Closes) {
    let closes = Closes::default();
    let handlers = closes.clone();
    let running = util::start(config, move |_peer| handlers.lines());
    (running, closes)
}

/// Waits until the server has counted `n` TLS failures; fails the test if it does not.
#[track_caller]
fn assert_tls_failures(running: &Running, n: u64) {
    let counted = wait_until(SOON, || running.stats().total().tls_failures >= n);
    let total = running.stats().total().tls_failures;
    assert!(
        counted && total == n,
        "tls_failures is {total}, expected {n}"
    );
}

/// Waits until `closes` holds `n` reasons matching `wanted`; returns them all.
#[track_caller]
fn wait_closes(
    closes: &Closes,
    n: usize,
    wanted: impl Fn(&CloseReason) -> bool,
) -> Vec<CloseReason> {
    let seen = wait_until(SOON, || {
        closes.all().iter().filter(|r| wanted(r)).count() >= n
    });
    let all = closes.all();
    assert!(seen, "expected {n} matching close reasons, got {all:?}");
    all
}

/// Reads a plain socket to its end: what arrived, or a panic if the connection stays open (the
/// read times out). A reset counts as an end.
fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

/// Runs the echo example on `addr` (which the test holds) with only `vars` among the TLS
/// variables; checks that it exits with code 2 and a message naming `blamed`, and that it did
/// not get as far as binding.
#[track_caller]
fn assert_refused(what: &str, addr: SocketAddr, vars: &[(&str, &Path)], blamed: &str) {
    let mut command = Command::new(example_binary("echo"));
    command
        .env_clear()
        .env("TURBINE_ADDR", addr.to_string())
        .env("RUST_LOG", "info")
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    let (status, output) =
        run_with_timeout(command, SOON).unwrap_or_else(|| panic!("{what}: did not exit"));
    assert_eq!(status.code(), Some(2), "{what}: {status}; output: {output}");
    assert!(
        output.contains(&format!("configuration error: {blamed}=")),
        "{what}: the message should name {blamed}: {output}"
    );
    assert!(
        !output.contains("listening on") && !output.contains("cannot listen"),
        "{what}: it got as far as binding: {output}"
    );
}

/// The version a client settled on.
fn version(client: &TlsClient) -> ProtocolVersion {
    client
        .conn
        .protocol_version()
        .expect("a finished handshake")
}

/// The echo example over TLS, with `cert`, echoes lines to TLS 1.3 and TLS 1.2 clients.
fn echo_example_over_both_versions(cert: &TestCert) {
    let (_example, addr) = echo_example(cert);
    for (versions, want) in [
        (TLS13, ProtocolVersion::TLSv1_3),
        (TLS12, ProtocolVersion::TLSv1_2),
    ] {
        let mut client = cert.connect(addr, cert.client_config(versions, &[]));
        assert_eq!(version(&client), want);
        assert_eq!(&peer_certificate(&client), cert.der());
        for i in 0..5 {
            assert_echoes(&mut client, &format!("line {i} over {want:?}"));
        }
    }
}

/// A lines handler that records what `ctx.tls()` says in `on_open` and answers every line with
/// [`describe`] of it.
struct Probe {
    /// What each connection's `on_open` saw, shared with the test.
    opened: Arc<Mutex<Vec<Option<TlsInfo>>>>,
}

impl Handler for Probe {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let info = ctx.tls().cloned();
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(info);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, _line: String) {
        let answer = describe(ctx.tls());
        ctx.send(answer);
    }
}

/// `server_name alpn version` of a session (`-` for what is missing), or `plain`.
fn describe(info: Option<&TlsInfo>) -> String {
    let Some(info) = info else {
        return "plain".into();
    };
    let alpn = info.alpn.as_deref().map(String::from_utf8_lossy);
    format!(
        "{} {} {}",
        info.server_name.as_deref().unwrap_or("-"),
        alpn.as_deref().unwrap_or("-"),
        info.version
    )
}

/// A [`Probe`] server with `config`, and what its `on_open`s saw.
fn probe_server(config: Config) -> (Running, Arc<Mutex<Vec<Option<TlsInfo>>>>) {
    let opened = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::clone(&opened);
    let running = util::start(config, move |_peer| Probe {
        opened: Arc::clone(&shared),
    });
    (running, opened)
}

// ----- the echo example over TLS ------------------------------------------------------------

/// The echo example, given an ECDSA P-256 certificate, echoes lines over TLS 1.3 and TLS 1.2
/// and presents that certificate.
#[test]
fn echo_example_ecdsa_tls13_and_tls12() {
    echo_example_over_both_versions(&TestCert::ecdsa());
}

/// The echo example, given an RSA-2048 certificate, echoes lines over TLS 1.3 and TLS 1.2
/// (TLS 1.2 then uses the ECDHE-RSA suites).
#[test]
fn echo_example_rsa_tls13_and_tls12() {
    let Some(cert) = TestCert::rsa() else {
        return;
    };
    echo_example_over_both_versions(&cert);
}

/// `openssl s_client`, verifying the certificate and the name, gets lines echoed by the echo
/// example over TLS 1.3 and TLS 1.2: the server talks to a TLS stack other than rustls.
#[test]
fn echo_example_with_openssl_s_client() {
    if !have_openssl("echo_example_with_openssl_s_client") {
        return;
    }
    let cert = TestCert::ecdsa();
    let (_example, addr) = echo_example(&cert);
    for version in ["-tls1_3", "-tls1_2"] {
        let mut child = s_client(addr, &cert.cert_path(), &[version])
            .spawn()
            .expect("spawn openssl s_client");
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        let reader = thread::spawn(move || {
            for line in io::BufRead::lines(io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        for text in ["hello from openssl", "a second line"] {
            writeln!(stdin, "{text}").expect("write to s_client");
            stdin.flush().unwrap();
            let got = received.recv_timeout(SOON);
            if got.as_deref() != Ok(text) {
                let _ = child.kill();
                let output = child.wait_with_output().expect("s_client's output");
                panic!(
                    "{version}: expected {text:?} back, got {got:?}; s_client said: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        // With -quiet, s_client ignores the end of its input: it is stopped here.
        let _ = child.kill();
        let _ = child.wait();
        drop(stdin);
        reader.join().unwrap();
    }
}

/// A client that offers only TLS 1.1 gets no session: `s_client -tls1_1` fails with an alert
/// from the server, and the server keeps serving others.
#[test]
fn tls11_client_is_refused() {
    if !have_openssl("tls11_client_is_refused") {
        return;
    }
    let cert = TestCert::ecdsa();
    let (example, addr) = echo_example(&cert);
    // SECLEVEL=0: OpenSSL 3 would otherwise refuse TLS 1.1 itself and never send a hello.
    let mut command = s_client(
        addr,
        &cert.cert_path(),
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    command.stdin(Stdio::null());
    let (status, output) =
        run_with_timeout(command, SOON).expect("s_client -tls1_1 should give up at once");
    if output.contains("no protocols available") {
        eprintln!("tls11_client_is_refused: skipped, this openssl cannot offer TLS 1.1");
        return;
    }
    assert!(!status.success(), "s_client -tls1_1 succeeded: {output}");
    // rustls answers a hello without TLS 1.2 or 1.3 with an alert (`handshake_failure`).
    assert!(
        output.contains("alert"),
        "expected an alert from the server; s_client said: {output}"
    );
    // The server is unharmed: a TLS 1.3 client is still served.
    let mut client = cert.connect(addr, cert.client_config(TLS13, &[]));
    assert_echoes(&mut client, "still here");
    drop(example);
}

// ----- what a handler learns of a session ---------------------------------------------------

/// `ctx.tls()` gives the handler the SNI name, the ALPN protocol settled on and the version,
/// from `on_open` on; with `TURBINE_TLS_ALPN=proto-b,proto-a` the server's order wins.
#[test]
fn handler_sees_server_name_alpn_and_version() {
    let cert = TestCert::ecdsa();
    let alpn = vec!["proto-b".to_string(), "proto-a".to_string()];
    let (running, opened) = probe_server(tls_config(&cert).tls_alpn(alpn));
    let addr = running.local_addr();
    let cases: [(&[_], &[&str], &str); 4] = [
        (TLS13, &["proto-a"], "localhost proto-a TLSv1.3"),
        (TLS12, &["proto-a"], "localhost proto-a TLSv1.2"),
        (TLS13, &["proto-a", "proto-b"], "localhost proto-b TLSv1.3"),
        (TLS13, &[], "localhost - TLSv1.3"),
    ];
    for (versions, offered, want) in cases {
        let mut client = cert.connect(addr, cert.client_config(versions, offered));
        write_line(&mut client, "who am i").unwrap();
        assert_eq!(line(&mut client), want, "offering {offered:?}");
        let chosen = client.conn.alpn_protocol().map(|p| p.to_vec());
        let expected = want.split(' ').nth(1).filter(|p| *p != "-");
        assert_eq!(chosen.as_deref(), expected.map(str::as_bytes));
        let last = opened.lock().unwrap().last().cloned().flatten();
        assert_eq!(describe(last.as_ref()), want, "what on_open saw");
    }
    // No server name: a client connecting to an IP address sends no SNI.
    let mut client = handshake(addr, cert.client_config(TLS13, &[]), "127.0.0.1")
        .expect("a client asking for 127.0.0.1 (in the certificate's names)");
    write_line(&mut client, "and now").unwrap();
    assert_eq!(line(&mut client), "- - TLSv1.3");
}

/// On a plain listener `ctx.tls()` is `None`.
#[test]
fn plain_connection_has_no_tls_info() {
    let (running, opened) = probe_server(util::config());
    let mut tcp = util::connect(running.local_addr());
    tcp.write_all(b"tls?\n").unwrap();
    let mut answer = [0; 6];
    tcp.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"plain\n");
    assert_eq!(opened.lock().unwrap().as_slice(), &[None]);
}

/// A client that offers only ALPN protocols the server does not is refused in the handshake
/// (rustls's `no_application_protocol` alert), counted, and closed with `CloseReason::Tls`.
#[test]
fn client_without_a_common_alpn_protocol_is_refused() {
    let cert = TestCert::ecdsa();
    let config = tls_config(&cert).tls_alpn(vec!["proto-b".into(), "proto-a".into()]);
    let (running, closes) = echo_server(config);
    let refused = handshake(
        running.local_addr(),
        cert.client_config(TLS13, &["proto-c"]),
        "localhost",
    );
    let Err(error) = refused else {
        panic!("the handshake should fail");
    };
    let error = error.to_string();
    assert!(
        error.contains("NoApplicationProtocol"),
        "expected a no_application_protocol alert, got {error}"
    );
    assert_tls_failures(&running, 1);
    wait_closes(&closes, 1, |r| matches!(r, CloseReason::Tls(_)));
}

// ----- how a TLS connection closes ----------------------------------------------------------

/// A client that ends with `close_notify` (and its FIN) closes as `PeerClosed`.
#[test]
fn close_notify_closes_as_peer_closed() {
    let cert = TestCert::ecdsa();
    let (running, closes) = echo_server(tls_config(&cert));
    let mut client = cert.connect(running.local_addr(), cert.client_config(TLS13, &[]));
    assert_echoes(&mut client, "bye soon");
    client.conn.send_close_notify();
    client.flush().unwrap();
    client.sock.shutdown(Shutdown::Write).unwrap();
    let all = wait_closes(&closes, 1, |_| true);
    assert_eq!(all, [CloseReason::PeerClosed]);
    assert_eq!(running.stats().total().tls_failures, 0);
}

/// A client that closes its socket without `close_notify` shows as `Io(UnexpectedEof)`, as a
/// truncation would, and is not a TLS failure.
#[test]
fn bare_fin_closes_as_unexpected_eof() {
    let cert = TestCert::ecdsa();
    let (running, closes) = echo_server(tls_config(&cert));
    let mut client = cert.connect(running.local_addr(), cert.client_config(TLS12, &[]));
    assert_echoes(&mut client, "gone without a word");
    client.sock.shutdown(Shutdown::Write).unwrap();
    let all = wait_closes(&closes, 1, |_| true);
    assert_eq!(all, [CloseReason::Io(io::ErrorKind::UnexpectedEof)]);
    assert_eq!(running.stats().total().tls_failures, 0);
}

/// The server answers a client's `close_notify` with its own before its FIN (RFC 8446 6.1:
/// each side sends one before closing its write side), so the client reads a clean end rather
/// than a truncation.
#[test]
fn server_answers_close_notify_with_its_own() {
    let cert = TestCert::ecdsa();
    let (running, _closes) = echo_server(tls_config(&cert));
    let mut client = cert.connect(running.local_addr(), cert.client_config(TLS13, &[]));
    assert_echoes(&mut client, "bye soon");
    client.conn.send_close_notify();
    client.flush().unwrap();
    match read_line(&mut client) {
        Ok(None) => {}
        other => panic!("expected the server's close_notify and a clean end, got {other:?}"),
    }
}

/// A connection the server closes itself (here at a graceful shutdown) gets `close_notify`
/// before the FIN: the client reads a clean end.
#[test]
fn server_close_sends_close_notify() {
    let cert = TestCert::ecdsa();
    let (running, closes) = echo_server(tls_config(&cert));
    let mut client = cert.connect(running.local_addr(), cert.client_config(TLS13, &[]));
    assert_echoes(&mut client, "until the shutdown");
    let stopping = thread::spawn(move || running.shutdown());
    match read_line(&mut client) {
        Ok(None) => {}
        other => panic!("expected close_notify and a clean end, got {other:?}"),
    }
    stopping.join().unwrap().expect("a clean shutdown");
    assert_eq!(closes.all(), [CloseReason::Shutdown]);
}

// ----- what is not TLS ----------------------------------------------------------------------

/// Random bytes and a plaintext HTTP request sent to the TLS port are each closed with
/// `CloseReason::Tls` and counted in `tls_failures`; the plaintext client gets an alert record
/// (0x15); a TLS client connected at the same time is served throughout.
#[test]
fn garbage_and_plaintext_fail_the_handshake() {
    let cert = TestCert::ecdsa();
    let (running, closes) = echo_server(tls_config(&cert));
    let addr = running.local_addr();
    let mut steady = cert.connect(addr, cert.client_config(TLS13, &[]));
    assert_echoes(&mut steady, "before");

    // Random bytes, the first of which is no TLS record type (0x14..=0x18), so that the very
    // first record header is refused rather than waited on.
    let mut garbage = Rng::new(0x7115).bytes(1024);
    garbage[0] = 0xFF;
    let mut tcp = util::connect(addr);
    tcp.write_all(&garbage).unwrap();
    read_until_closed(&mut tcp);
    assert_tls_failures(&running, 1);
    assert_echoes(&mut steady, "between");

    let mut tcp = util::connect(addr);
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let answer = read_until_closed(&mut tcp);
    assert_eq!(
        answer.first(),
        Some(&0x15),
        "expected a TLS alert record, got {answer:02x?}"
    );
    assert_tls_failures(&running, 2);

    let all = wait_closes(&closes, 2, |r| matches!(r, CloseReason::Tls(_)));
    assert_eq!(
        all.len(),
        2,
        "only the two refused connections closed: {all:?}"
    );
    assert_echoes(&mut steady, "after");
}

/// A client that connects and sends nothing is closed at `TURBINE_TLS_HANDSHAKE_TIMEOUT`
/// (300 ms here) with `CloseReason::HandshakeTimeout`, counted in `tls_failures`.
#[test]
fn silent_client_is_closed_at_the_handshake_timeout() {
    let cert = TestCert::ecdsa();
    let timeout = Duration::from_millis(300);
    let (running, closes) = echo_server(tls_config(&cert).tls_handshake_timeout(timeout));
    let started = Instant::now();
    let mut tcp = util::connect(running.local_addr());
    read_until_closed(&mut tcp);
    let waited = started.elapsed();
    assert!(
        waited >= timeout - Duration::from_millis(20) && waited < Duration::from_secs(5),
        "closed after {waited:?}, expected about {timeout:?}"
    );
    let all = wait_closes(&closes, 1, |_| true);
    assert_eq!(all, [CloseReason::HandshakeTimeout]);
    assert_tls_failures(&running, 1);
}

// ----- many sessions ------------------------------------------------------------------------

/// 200 TLS sessions open at once (4 threads of 50) each get their own line echoed.
#[test]
fn two_hundred_concurrent_sessions_echo() {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 50;
    let cert = Arc::new(TestCert::ecdsa());
    let (running, _closes) = echo_server(tls_config(&cert));
    let addr = running.local_addr();
    let config = cert.client_config(TLS13, &[]);
    let all_open = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (cert, config, all_open) = (Arc::clone(&cert), config.clone(), all_open.clone());
            thread::spawn(move || {
                let mut clients: Vec<TlsClient> = (0..PER_THREAD)
                    .map(|_| cert.connect(addr, config.clone()))
                    .collect();
                all_open.wait();
                for (i, client) in clients.iter_mut().enumerate() {
                    write_line(client, &format!("thread {t} client {i}")).unwrap();
                }
                for (i, client) in clients.iter_mut().enumerate() {
                    assert_eq!(line(client), format!("thread {t} client {i}"));
                }
            })
        })
        .collect();
    all_open.wait();
    let total = THREADS * PER_THREAD;
    assert!(
        wait_until(SOON, || running.stats().total().open == total as u64),
        "expected {total} open connections, stats say {:?}",
        running.stats().total()
    );
    for thread in threads {
        thread.join().expect("a client thread failed");
    }
    assert_eq!(running.stats().total().tls_failures, 0);
}

// ----- the other examples over TLS ----------------------------------------------------------

/// The chat example over TLS: a line one member says reaches the other as `<nick>: text`.
#[test]
fn chat_example_over_tls() {
    let cert = TestCert::ecdsa();
    let chat = spawn_example("chat", &cert, &[]);
    let addr = chat.listening_addr();
    let config = cert.client_config(TLS13, &[]);
    let mut ann = cert.connect(addr, config.clone());
    let welcome = line(&mut ann);
    assert!(welcome.starts_with("* welcome "), "got {welcome:?}");
    let mut bob = cert.connect(addr, config);
    let welcome = line(&mut bob);
    let bob_nick = welcome
        .strip_prefix("* welcome ")
        .unwrap_or_else(|| panic!("expected `* welcome <nick>`, got {welcome:?}"))
        .to_string();
    write_line(&mut bob, "hello over tls").unwrap();
    let want = format!("{bob_nick}: hello over tls");
    // Notices (`* ... joined lobby`) may come first.
    let mut notices = Vec::new();
    let heard = loop {
        let next = line(&mut ann);
        if !next.starts_with("* ") || notices.len() == 5 {
            break next;
        }
        notices.push(next);
    };
    assert_eq!(heard, want, "after the notices {notices:?}");
}

/// The kv example over TLS answers RESP: `PING`, `SET k v`, `GET k`.
#[test]
fn kv_example_over_tls() {
    let cert = TestCert::ecdsa();
    let kv = spawn_example("kv", &cert, &[]);
    let addr = kv.listening_addr();
    let mut client = cert.connect(addr, cert.client_config(TLS12, &[]));
    let mut call = |args: &[&[u8]]| {
        client.write_all(&multibulk(args)).unwrap();
        client.flush().unwrap();
        line(&mut client)
    };
    assert_eq!(call(&[b"PING"]), "+PONG");
    assert_eq!(call(&[b"SET", b"k", b"v"]), "+OK");
    assert_eq!(call(&[b"GET", b"k"]), "$1");
    assert_eq!(line(&mut client), "v");
}

// ----- certificate reload -------------------------------------------------------------------

/// SIGHUP reloads the certificate: a new client gets the new one while an open session keeps
/// working; a reload from a broken file keeps the previous certificate and logs an error.
#[test]
fn sighup_reloads_the_certificate() {
    let first = TestCert::ecdsa();
    let second = TestCert::ecdsa();
    let (example, addr) = echo_example(&first);
    let mut a = first.connect(addr, first.client_config(TLS13, &[]));
    assert_eq!(&peer_certificate(&a), first.der());
    assert_echoes(&mut a, "a, before the reload");

    // The served paths are the first certificate's: the second one's files replace them.
    std::fs::rename(second.cert_path(), first.cert_path()).unwrap();
    std::fs::rename(second.key_path(), first.key_path()).unwrap();
    example.signal("HUP");
    example
        .wait_line(SOON, |l| l.contains("TLS certificate reloaded"))
        .unwrap_or_else(|| panic!("no reload line; log: {:?}", example.log()));
    let mut b = second.connect(addr, second.client_config(TLS13, &[]));
    assert_eq!(
        &peer_certificate(&b),
        second.der(),
        "B sees the new certificate"
    );
    assert_echoes(&mut b, "b, after the reload");
    assert_echoes(&mut a, "a, after the reload");

    std::fs::write(first.cert_path(), b"not a certificate\n").unwrap();
    example.signal("HUP");
    let error = example
        .wait_line(SOON, |l| l.contains("not reloaded"))
        .unwrap_or_else(|| panic!("no failed-reload line; log: {:?}", example.log()));
    assert!(error.contains("ERROR"), "logged as an error: {error:?}");
    let mut c = second.connect(addr, second.client_config(TLS12, &[]));
    assert_eq!(
        &peer_certificate(&c),
        second.der(),
        "C still sees the second one"
    );
    assert_echoes(&mut c, "c, after a failed reload");
    assert_echoes(&mut a, "a, at the end");
}

// ----- configuration errors -----------------------------------------------------------------

/// Every bad TLS configuration stops the echo example with exit code 2 and a message naming
/// the variable at fault, before it binds (the address is taken, and binding would fail with
/// another message and code): a certificate without a key, a key without a certificate, a
/// missing certificate file, a certificate file that is not PEM, and a key that is not the
/// certificate's.
#[test]
fn bad_tls_configuration_exits_2_naming_the_variable() {
    let cert = TestCert::ecdsa();
    let other = TestCert::ecdsa();
    let not_pem = other.cert_path().with_file_name("not-pem.txt");
    std::fs::write(&not_pem, b"hello, I am not a certificate\n").unwrap();
    let missing = other.cert_path().with_file_name("missing.pem");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (cert_file, key_file) = (&cert.cert_path(), &cert.key_path());
    let refused = |what, vars: &[(&str, &Path)], blamed| assert_refused(what, addr, vars, blamed);
    refused(
        "cert without key",
        &[("TURBINE_TLS_CERT", cert_file)],
        "TURBINE_TLS_KEY",
    );
    refused(
        "key without cert",
        &[("TURBINE_TLS_KEY", key_file)],
        "TURBINE_TLS_CERT",
    );
    refused(
        "missing cert file",
        &[
            ("TURBINE_TLS_CERT", &missing),
            ("TURBINE_TLS_KEY", key_file),
        ],
        "TURBINE_TLS_CERT",
    );
    refused(
        "cert not PEM",
        &[
            ("TURBINE_TLS_CERT", &not_pem),
            ("TURBINE_TLS_KEY", key_file),
        ],
        "TURBINE_TLS_CERT",
    );
    refused(
        "key of another certificate",
        &[
            ("TURBINE_TLS_CERT", cert_file),
            ("TURBINE_TLS_KEY", &other.key_path()),
        ],
        "TURBINE_TLS_KEY",
    );
    drop(taken);
}
