//! A TLS echo server for tests: a self-signed ECDSA P-256 certificate for `localhost`, made
//! at test time and written to a temporary directory for the client to trust (no key is
//! committed), and a rustls server over blocking std sockets, one thread per connection, that
//! records what each handshake negotiated.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::{HandshakeKind, ProtocolVersion, ServerConfig, ServerConnection, StreamOwned};
use turbine_load::TlsConfig;

/// What a [`TlsServer`] accepts and does.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// The versions it allows.
    pub(crate) versions: &'static [&'static rustls::SupportedProtocolVersion],
    /// The ALPN protocols it knows; when not empty, a client offering none of them is refused.
    pub(crate) alpn: Vec<Vec<u8>>,
    /// Whether it flips the lowest bit of the first plaintext byte of every read.
    pub(crate) corrupting: bool,
}

/// TLS 1.3 alone.
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

impl Default for Options {
    /// TLS 1.3 only, no ALPN, faithful echo.
    fn default() -> Options {
        Options {
            versions: TLS13_ONLY,
            alpn: Vec::new(),
            corrupting: false,
        }
    }
}

/// What the server saw of one handshake it completed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Handshake {
    /// The version negotiated.
    pub(crate) version: Option<ProtocolVersion>,
    /// Full or resumed.
    pub(crate) kind: Option<HandshakeKind>,
    /// The ALPN protocol chosen.
    pub(crate) alpn: Option<Vec<u8>>,
}

/// A running TLS echo server on `127.0.0.1:0` and the file of its certificate. Its threads
/// live until the test process exits; the certificate's directory goes when this is dropped.
#[derive(Debug)]
pub(crate) struct TlsServer {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    /// The PEM file of its self-signed certificate, for `--ca`.
    pub(crate) ca: PathBuf,
    /// The handshakes it completed, in order.
    handshakes: Arc<Mutex<Vec<Handshake>>>,
    /// The temporary directory holding `ca`.
    dir: PathBuf,
}

impl TlsServer {
    /// Starts a server with a new certificate for `localhost`.
    pub(crate) fn start(options: Options) -> TlsServer {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate a key");
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .expect("certificate parameters")
            .self_signed(&key)
            .expect("self-sign");
        let dir = std::env::temp_dir().join(format!(
            "turbine-load-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let ca = dir.join("cert.pem");
        std::fs::write(&ca, cert.pem()).expect("write the certificate");

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(options.versions)
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
            )
            .expect("server certificate");
        config.alpn_protocols = options.alpn;
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
        let addr = listener.local_addr().expect("local address");
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&handshakes);
        let corrupting = options.corrupting;
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (config, seen) = (Arc::clone(&config), Arc::clone(&seen));
                thread::spawn(move || serve(stream, config, &seen, corrupting));
            }
        });
        TlsServer {
            addr,
            ca,
            handshakes,
            dir,
        }
    }

    /// Client settings that trust this server: TLS 1.3 to `localhost`.
    pub(crate) fn client(&self) -> TlsConfig {
        TlsConfig::new(&self.ca)
    }

    /// The handshakes completed so far.
    pub(crate) fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes.lock().expect("handshakes").clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Completes one connection's handshake, records it, and echoes until the client closes or
/// anything fails.
fn serve(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    seen: &Mutex<Vec<Handshake>>,
    corrupting: bool,
) {
    let _ = stream.set_nodelay(true);
    let Ok(session) = ServerConnection::new(config) else {
        return;
    };
    let mut tls = StreamOwned::new(session, stream);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    seen.lock().expect("handshakes").push(Handshake {
        version: tls.conn.protocol_version(),
        kind: tls.conn.handshake_kind(),
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
    });
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if corrupting {
            buf[0] ^= 0x01;
        }
        if tls.write_all(&buf[..n]).and_then(|()| tls.flush()).is_err() {
            return;
        }
    }
}
