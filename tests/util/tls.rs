//! For `tests/tls.rs`: certificates made with rcgen at test time in a temporary directory
//! (removed on drop), rustls client and server configurations, a blocking rustls client, one
//! client type for plain and TLS connections (so a session runs the same code over both), raw
//! ClientHellos, and `openssl s_client` as a child process.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned,
    SupportedProtocolVersion,
};

/// TLS 1.2 alone.
pub(crate) static TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
/// TLS 1.3 alone.
pub(crate) static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
/// TLS 1.3 and 1.2, as the server offers them.
pub(crate) static BOTH: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

// ----- certificates -------------------------------------------------------------------------

/// A self-signed certificate for `localhost` (and 127.0.0.1) and its ECDSA P-256 key.
#[derive(Clone)]
pub(crate) struct Pair {
    /// The certificate, PEM.
    pub(crate) cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub(crate) key_pem: String,
    /// The certificate, DER: what a client sees as the peer's certificate.
    pub(crate) der: CertificateDer<'static>,
    /// The private key, PKCS#8 DER.
    key_der: Vec<u8>,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("der", &self.der.len())
            .finish_non_exhaustive()
    }
}

impl Pair {
    /// A new key and a certificate with subject `CN=common_name`, valid for `localhost`.
    pub(crate) fn new(common_name: &str) -> Pair {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate a key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("certificate parameters");
        let mut subject = DistinguishedName::new();
        subject.push(DnType::CommonName, common_name);
        params.distinguished_name = subject;
        let cert = params.self_signed(&key).expect("self-sign");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A rustls server configuration serving this pair (TLS 1.3 and 1.2), offering `alpn`:
    /// for [`Server::with_tls`](turbine::Server::with_tls) and `listen_tls`.
    pub(crate) fn server_config(&self, alpn: &[&str]) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(BOTH)
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.der.clone()],
                PrivatePkcs8KeyDer::from(self.key_der.clone()).into(),
            )
            .expect("server certificate");
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }
}

/// A directory of its own under the system's temporary directory, removed with what it holds
/// when dropped.
#[derive(Debug)]
pub(crate) struct TempDir {
    /// Its path.
    path: PathBuf,
}

impl TempDir {
    /// Creates `turbine-tls-<pid>-<n>`.
    pub(crate) fn new() -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "turbine-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir { path }
    }

    /// The path of `name` in it.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `cert.pem` and `key.pem` in a temporary directory: what `TURBINE_TLS_CERT` and
/// `TURBINE_TLS_KEY` name.
#[derive(Debug)]
pub(crate) struct CertFiles {
    /// The directory, removed on drop.
    pub(crate) dir: TempDir,
    /// The certificate file.
    pub(crate) cert: PathBuf,
    /// The key file.
    pub(crate) key: PathBuf,
}

impl CertFiles {
    /// The files of `pair`.
    pub(crate) fn new(pair: &Pair) -> CertFiles {
        let dir = TempDir::new();
        let files = CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        files.write(pair);
        files
    }

    /// Rewrites both files with `pair`.
    pub(crate) fn write(&self, pair: &Pair) {
        self.write_raw(&pair.cert_pem, &pair.key_pem);
    }

    /// Rewrites both files with the text given.
    pub(crate) fn write_raw(&self, cert: &str, key: &str) {
        std::fs::write(&self.cert, cert).expect("write the certificate file");
        std::fs::write(&self.key, key).expect("write the key file");
    }

    /// The certificate's path as text.
    pub(crate) fn cert_str(&self) -> &str {
        self.cert.to_str().expect("a UTF-8 temporary path")
    }

    /// The key's path as text.
    pub(crate) fn key_str(&self) -> &str {
        self.key.to_str().expect("a UTF-8 temporary path")
    }

    /// `TURBINE_TLS_CERT` and `TURBINE_TLS_KEY` naming these files.
    pub(crate) fn env(&self) -> [(&'static str, &str); 2] {
        [
            ("TURBINE_TLS_CERT", self.cert_str()),
            ("TURBINE_TLS_KEY", self.key_str()),
        ]
    }
}

// ----- the rustls client --------------------------------------------------------------------

/// A client configuration that trusts the certificates of `trust` (and nothing else), offers
/// `versions` and the ALPN protocols `alpn`, and never resumes a session (every handshake is
/// full, so each sees the certificate served now).
pub(crate) fn client_config(
    trust: &[&Pair],
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&str],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for pair in trust {
        roots.add(pair.der.clone()).expect("a trust anchor");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// A blocking TLS client connection: rustls over a socket with the usual timeouts.
pub(crate) type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// Connects to `addr` with SNI `localhost` and completes the handshake.
///
/// # Errors
///
/// The handshake failed (a rustls error as `InvalidData`, or the socket's error).
pub(crate) fn tls_connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<TlsClient> {
    tls_connect_as(addr, config, "localhost")
}

/// [`tls_connect`] with the server name `name` (sent as SNI when it is a DNS name).
///
/// # Errors
///
/// As for [`tls_connect`].
pub(crate) fn tls_connect_as(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    name: &str,
) -> io::Result<TlsClient> {
    let tcp = super::connect(addr);
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    let conn = ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// [`tls_connect`], failing the test if the handshake fails.
#[track_caller]
pub(crate) fn tls_client(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsClient {
    match tls_connect(addr, config) {
        Ok(client) => client,
        Err(e) => panic!("TLS handshake with {addr} failed: {e}"),
    }
}

/// The certificate the server presented.
pub(crate) fn peer_cert(client: &TlsClient) -> CertificateDer<'static> {
    client
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("the server's certificate")
        .clone()
        .into_owned()
}

/// Sends our `close_notify`, then our FIN: the end of a TLS session done right.
pub(crate) fn close_notify(client: &mut TlsClient) -> io::Result<()> {
    client.conn.send_close_notify();
    while client.conn.wants_write() {
        client.conn.write_tls(&mut client.sock)?;
    }
    client.sock.shutdown(Shutdown::Write)
}

/// The first flight of a rustls client with `config` (its ClientHello), as bytes on the wire.
pub(crate) fn client_hello(config: &Arc<ClientConfig>) -> Vec<u8> {
    let name = ServerName::try_from("localhost").expect("a server name");
    let mut conn = ClientConnection::new(Arc::clone(config), name).expect("a client session");
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).expect("write to a Vec");
    }
    hello
}

/// A ClientHello of an old client that offers `version` alone (`[3, 1]` TLS 1.0, `[3, 2]`
/// TLS 1.1): no `supported_versions`, ECDHE suites, and the extensions a TLS 1.2 server needs
/// besides (signature algorithms, groups, point formats), so that only the version is wrong.
pub(crate) fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    /// An extension: type, length, data.
    fn extension(kind: u16, data: &[u8]) -> Vec<u8> {
        let mut e = kind.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    }
    let mut extensions = Vec::new();
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256.
    extensions.extend(extension(13, &[0, 6, 4, 3, 8, 4, 4, 1]));
    // supported_groups: x25519, secp256r1.
    extensions.extend(extension(10, &[0, 4, 0, 0x1d, 0, 0x17]));
    // ec_point_formats: uncompressed.
    extensions.extend(extension(11, &[1, 0]));
    let mut body = Vec::new();
    body.extend_from_slice(&version); // client_version
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(0); // no session id
    // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 (which a TLS 1.2 server could pick).
    let suites: [u8; 6] = [0xc0, 0x09, 0xc0, 0x13, 0xc0, 0x2b];
    body.extend_from_slice(&(suites.len() as u16).to_be_bytes());
    body.extend_from_slice(&suites);
    body.extend_from_slice(&[1, 0]); // compression: null
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 3, 1]; // handshake, record version TLS 1.0
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

/// The first byte of a TLS alert record.
pub(crate) const ALERT: u8 = 0x15;

/// The alert description of a 7-byte plaintext alert record (content type, version, length 2,
/// level, description), if `bytes` starts with one.
pub(crate) fn alert_description(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [ALERT, 3, _, 0, 2, _, description, ..] => Some(*description),
        _ => None,
    }
}

// ----- one client for plain and TLS connections ---------------------------------------------

/// A client connection, plain or TLS: a session written once runs over both.
pub(crate) enum Client {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS (rustls).
    Tls(Box<TlsClient>),
}

impl Client {
    /// A plain connection to `addr`.
    pub(crate) fn plain(addr: SocketAddr) -> Client {
        Client::Plain(super::connect(addr))
    }

    /// A TLS connection to `addr`, its handshake done.
    #[track_caller]
    pub(crate) fn tls(addr: SocketAddr, config: &Arc<ClientConfig>) -> Client {
        Client::Tls(Box::new(tls_client(addr, config)))
    }

    /// Closes our side: a FIN, after a `close_notify` on TLS.
    pub(crate) fn finish(&mut self) {
        match self {
            Client::Plain(tcp) => tcp.shutdown(Shutdown::Write).expect("shutdown"),
            Client::Tls(tls) => close_notify(tls).expect("close_notify and shutdown"),
        }
    }

    /// Reads one `\n`-terminated line (without the `\n`), a byte at a time.
    ///
    /// # Errors
    ///
    /// The read error, or `UnexpectedEof` if the stream ends first.
    pub(crate) fn read_line(&mut self) -> io::Result<String> {
        super::hardening::read_line(self)
    }

    /// Writes `line` and a `\n`.
    pub(crate) fn send_line(&mut self, line: &str) {
        self.write_all(format!("{line}\n").as_bytes())
            .expect("write a line");
    }

    /// Reads to the end of the stream: a FIN on plain TCP; a `close_notify` on TLS (a FIN
    /// without one fails, as a truncation would).
    ///
    /// # Errors
    ///
    /// The read error.
    pub(crate) fn read_to_end_clean(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        self.read_to_end(&mut all)?;
        Ok(all)
    }
}

impl Read for Client {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Client::Plain(tcp) => tcp.read(buf),
            Client::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Client {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Client::Plain(tcp) => tcp.write(buf),
            Client::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Client::Plain(tcp) => tcp.flush(),
            Client::Tls(tls) => tls.flush(),
        }
    }
}

// ----- openssl s_client ---------------------------------------------------------------------

/// Whether the `openssl` command can be run; if not, says so on stderr (the caller skips).
pub(crate) fn have_openssl() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("skipped: the openssl command is not installed (Debian package openssl)");
    }
    found
}

/// `openssl s_client` connected to a server, as a child process: its stdin written line by
/// line, its stdout and stderr read on threads.
///
/// Dropping it kills the process if it is still running.
pub(crate) struct SClient {
    /// The process.
    child: Child,
    /// Its stdin, until [`close_stdin`](SClient::close_stdin).
    stdin: Option<ChildStdin>,
    /// Each stdout line, as it arrives.
    lines: Receiver<String>,
    /// Everything it wrote on stderr so far.
    stderr: Arc<Mutex<String>>,
    /// The threads reading its output.
    readers: Vec<JoinHandle<()>>,
}

impl SClient {
    /// Runs `openssl s_client -connect ADDR -servername localhost -CAfile CA
    /// -verify_return_error -brief` and the arguments `extra` (`-tls1_2`...).
    pub(crate) fn spawn(addr: SocketAddr, ca: &Path, extra: &[&str]) -> SClient {
        let mut child = Command::new("openssl")
            .arg("s_client")
            .arg("-connect")
            .arg(addr.to_string())
            .args(["-servername", "localhost", "-CAfile"])
            .arg(ca)
            .args(["-verify_return_error", "-brief"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_client");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buf = [0; 4096];
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => collected
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        SClient {
            child,
            stdin,
            lines,
            stderr,
            readers: vec![stdout_reader, stderr_reader],
        }
    }

    /// Writes `line` and a `\n` to its stdin (which it sends to the server).
    pub(crate) fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("write to s_client: {e}; stderr: {}", self.stderr()));
    }

    /// The next line it printed (what the server sent), waiting at most `timeout`.
    pub(crate) fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// Closes its stdin: it then ends the session (`close_notify`) and exits.
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Everything it wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for it to exit, then for its output to be read; `None` (and the
    /// process killed) if it did not exit in time.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Some(status)
    }
}

impl Drop for SClient {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
