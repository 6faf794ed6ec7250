//! Outbound connections over TLS (`Connect::tls`): the handshake after the connect, `on_open`
//! once it is done, and a handshake that fails or stalls reported through
//! `on_connect_failed`, against real TLS servers on loopback.

mod util;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use turbine::rustls::pki_types::ServerName;
use turbine::{
    CloseReason, Config, Connect, Context, Handler, LinesCodec, Running, Server, tls_client_config,
};
use util::tls::{CertFiles, Pair};
use util::{config, start, wait_until};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// The outbound side: says `hello` once open, and reports everything it hears.
struct Probe {
    events: Sender<String>,
}

impl Handler for Probe {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let tls = ctx.tls().expect("an outbound TLS connection has TLS facts");
        let alpn = tls.alpn.as_deref().map(String::from_utf8_lossy);
        let _ = self.events.send(format!(
            "open {} name={} alpn={}",
            tls.version,
            tls.server_name.as_deref().unwrap_or("-"),
            alpn.as_deref().unwrap_or("-")
        ));
        ctx.send("hello".to_string());
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let _ = self.events.send(format!("echo {line}"));
        ctx.close();
    }

    fn on_connect_failed(&mut self, _ctx: &mut Context<'_, Self>, error: io::Error) {
        let _ = self
            .events
            .send(format!("failed {:?}: {error}", error.kind()));
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        let _ = self.events.send(format!("close {reason:?}"));
    }
}

/// A Turbine TLS echo serving `pair`, offering ALPN `echo/1`.
fn tls_echo(pair: &Pair) -> Running {
    Server::bind(config())
        .unwrap()
        .with_tls(pair.server_config(&["echo/1"]))
        .start(|_| util::Echo::lines())
        .unwrap()
}

/// The server whose reactor opens the outbound connections (its own listener is unused).
fn client_host(config: Config) -> Running {
    start(config, |_| util::Echo::lines())
}

/// Opens a `Probe` connection to `to` on reactor 0 of `host`; its events.
fn probe(host: &Running, to: Connect) -> Receiver<String> {
    let (events, received) = channel();
    host.connector()
        .connect(0, to, move || Probe { events })
        .unwrap();
    received
}

fn next(events: &Receiver<String>) -> String {
    events.recv_timeout(PATIENCE).expect("an event")
}

/// A handler connects over TLS 1.3, trusting the server's certificate from a CA file: it opens
/// once the handshake is done, knows the version, name and ALPN, and its lines go through.
#[test]
fn connects_over_tls() {
    let pair = Pair::new("upstream");
    let files = CertFiles::new(&pair);
    let server = tls_echo(&pair);
    let host = client_host(config());
    let mut tls = tls_client_config(&files.cert).unwrap();
    std::sync::Arc::get_mut(&mut tls).unwrap().alpn_protocols = vec![b"echo/1".to_vec()];
    let name = ServerName::try_from("localhost").unwrap();
    let events = probe(&host, Connect::to(server.local_addr()).tls(tls, name));
    assert_eq!(next(&events), "open TLSv1.3 name=localhost alpn=echo/1");
    assert_eq!(next(&events), "echo hello");
    assert_eq!(next(&events), "close Closed");
    let stats = host.stats().total();
    assert_eq!(
        (stats.connects, stats.connect_failures, stats.tls_failures),
        (1, 0, 0)
    );
}

/// A certificate not valid for the name asked for fails the handshake: `on_connect_failed`
/// hears why, the close reason is TLS's, and the failure counts as a connect and a TLS one.
#[test]
fn wrong_name_fails_the_connect() {
    let pair = Pair::new("upstream");
    let files = CertFiles::new(&pair);
    let server = tls_echo(&pair);
    let host = client_host(config());
    let tls = tls_client_config(&files.cert).unwrap();
    let name = ServerName::try_from("not-localhost.example").unwrap();
    let events = probe(&host, Connect::to(server.local_addr()).tls(tls, name));
    let failed = next(&events);
    assert!(failed.starts_with("failed InvalidData"), "{failed}");
    assert!(failed.contains("certificate"), "{failed}");
    assert!(next(&events).starts_with("close Tls("));
    assert!(wait_until(PATIENCE, || {
        let stats = host.stats().total();
        stats.connect_failures == 1 && stats.tls_failures == 1
    }));
}

/// An untrusted certificate and a plaintext server both fail the connect, never opening it.
#[test]
fn untrusted_or_plaintext_servers_fail_the_connect() {
    let trusted = Pair::new("trusted");
    let files = CertFiles::new(&trusted);
    let stranger = tls_echo(&Pair::new("stranger"));
    let plain = start(config(), |_| util::Echo::lines());
    let host = client_host(config());
    for server in [stranger.local_addr(), plain.local_addr()] {
        let tls = tls_client_config(&files.cert).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let events = probe(&host, Connect::to(server).tls(tls, name));
        let failed = next(&events);
        assert!(failed.starts_with("failed "), "{server}: {failed}");
        assert!(next(&events).starts_with("close "), "{server}");
    }
}

/// A server that accepts and never answers the ClientHello: the handshake times out
/// (`TURBINE_TLS_HANDSHAKE_TIMEOUT`) and the handler hears `TimedOut`.
#[test]
fn stalled_handshake_times_out() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = silent.local_addr().unwrap();
    let pair = Pair::new("any");
    let files = CertFiles::new(&pair);
    let host = client_host(config().tls_handshake_timeout(Duration::from_millis(200)));
    let tls = tls_client_config(&files.cert).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let events = probe(&host, Connect::to(addr).tls(tls, name));
    let failed = next(&events);
    assert!(failed.starts_with("failed TimedOut"), "{failed}");
    assert_eq!(next(&events), "close HandshakeTimeout");
    drop(silent);
}

/// A CA file that holds no certificate is refused with the reason.
#[test]
fn bad_ca_file_is_refused() {
    let dir = util::tls::TempDir::new();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = tls_client_config(&empty).unwrap_err();
    assert!(error.to_string().contains("no CERTIFICATE"), "{error}");
    assert!(tls_client_config(dir.join("missing.pem")).is_err());
}
