//! The file server (`examples/http`) against `shared/specs/http.md`, line by line: the example
//! runs as a process (so its memory can be read from `/proc`), one per test, on port 0 on
//! loopback, driven over raw sockets and with `curl` (skipped, saying why, without it).

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use util::hardening::{End, read_available, read_until_end};
use util::tls::{BOTH, CertFiles, Client, Pair, TempDir, client_config};
use util::{
    ByteStream, Example, assert_same_bytes, connect, example_binary, example_command,
    small_window_client,
};

// ----- the site and the server --------------------------------------------------------------

/// A directory tree made for one test: the root served, and a file beside it (outside the
/// root) that no request may reach.
struct Site {
    /// The parent: `www/` (the root) and `secret.txt`.
    dir: TempDir,
}

/// What `secret.txt`, outside the root, holds.
const SECRET: &[u8] = b"outside the root\n";

impl Site {
    /// A root with `index.html`, `a.txt`, a directory with an index and one without, a
    /// symbolic link out of the root and one within it.
    fn new() -> Site {
        let site = Site {
            dir: TempDir::new(),
        };
        std::fs::create_dir_all(site.root().join("docs")).unwrap();
        std::fs::create_dir_all(site.root().join("empty")).unwrap();
        std::fs::write(site.dir.join("secret.txt"), SECRET).unwrap();
        site.write("index.html", b"<h1>home</h1>\n");
        site.write("a.txt", b"alpha\n");
        site.write("docs/index.html", b"<h1>docs</h1>\n");
        symlink(site.dir.join("secret.txt"), site.root().join("out")).unwrap();
        symlink(site.dir.path(), site.root().join("up")).unwrap();
        symlink("a.txt", site.root().join("alias.txt")).unwrap();
        symlink(site.root().join("a.txt"), site.root().join("absolute.txt")).unwrap();
        site
    }

    /// The root served.
    fn root(&self) -> PathBuf {
        self.dir.join("www")
    }

    /// Writes `bytes` to `name` under the root.
    fn write(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.root().join(name), bytes).unwrap();
    }
}

/// The example running on a site.
struct Server {
    /// The process.
    example: Example,
    /// Where it listens.
    addr: SocketAddr,
}

/// Starts the example on `root`, one reactor, port 0, with `env` added.
fn serve_root(root: &Path, env: &[(&str, &str)]) -> Server {
    let mut command = example_command(
        example_binary("http"),
        &[("TURBINE_ADDR", "127.0.0.1:0"), ("TURBINE_REACTORS", "1")],
    );
    command.env("HTTP_ROOT", root).envs(env.iter().copied());
    let example = Example::spawn_command(command);
    let addr = example.listening_addr();
    Server { example, addr }
}

/// Starts the example on `site`.
fn serve(site: &Site, env: &[(&str, &str)]) -> Server {
    serve_root(&site.root(), env)
}

// ----- the client side ----------------------------------------------------------------------

/// A response as read off the wire.
#[derive(Debug)]
struct Reply {
    /// The status code.
    status: u16,
    /// The header fields, in order.
    headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`, 304).
    body: Vec<u8>,
}

impl Reply {
    /// The value of field `name` (case ignored).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Length`.
    fn length(&self) -> u64 {
        self.header("content-length")
            .expect("a Content-Length")
            .parse()
            .unwrap()
    }
}

/// A connection to the server: requests written raw, responses parsed.
struct Conn {
    /// The socket, read through a buffer kept across responses (pipelining).
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        Conn::over(connect(addr))
    }

    fn over(stream: TcpStream) -> Conn {
        Conn {
            reader: BufReader::with_capacity(64 << 10, stream),
        }
    }

    /// Writes `bytes` as they are.
    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Reads a response's status line and fields.
    fn head(&mut self) -> Reply {
        parse_head(&mut self.reader)
    }

    /// Reads one response; its body unless it answers a `HEAD` or has none (304).
    fn reply(&mut self, head: bool) -> Reply {
        let mut reply = self.head();
        if !head && reply.status != 304 {
            let mut body = vec![0; reply.length() as usize];
            self.reader.read_exact(&mut body).expect("the body");
            reply.body = body;
        }
        reply
    }

    /// `GET path` and its response.
    fn get(&mut self, path: &str) -> Reply {
        self.send(get(path).as_bytes());
        self.reply(false)
    }

    /// Waits (at most 5 s) for the connection's end; what came before it must be nothing.
    fn end(&mut self) -> End {
        assert!(
            self.reader.buffer().is_empty(),
            "bytes after the last response"
        );
        let (rest, end) = read_until_end(self.reader.get_mut(), Duration::from_secs(5));
        assert!(rest.is_empty(), "bytes after the last response: {rest:?}");
        end
    }
}

/// Reads a response's status line and fields from `reader`.
fn parse_head(reader: &mut impl BufRead) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).expect("a status line");
    let status = line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).expect("a header line");
        let field = line.trim_end_matches("\r\n");
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(": ").expect("name: value");
        headers.push((name.to_string(), value.to_string()));
    }
    Reply {
        status,
        headers,
        body: Vec::new(),
    }
}

/// Reads a response head from `stream` a byte at a time (nothing after it is consumed).
fn read_head(stream: &mut impl Read) -> Reply {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("a response head");
        head.push(byte[0]);
    }
    parse_head(&mut &head[..])
}

/// A plain `GET` of `path`, HTTP/1.1.
fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// A `GET` of `path` with one more field.
fn get_with(path: &str, field: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{field}\r\n\r\n")
}

/// Runs `curl -sS --max-time 10 ARGS`; `None`, saying so, if curl is not installed.
fn curl(args: &[&str]) -> Option<Output> {
    match Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
    {
        Ok(output) => Some(output),
        Err(e) => {
            eprintln!("skipping the curl part: cannot run curl ({e}); `.ci/run` installs it");
            None
        }
    }
}

/// The resident memory of process `pid`, in bytes (`VmRSS` of `/proc/<pid>/status`).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// A file of `len` bytes of the stream for `seed`, written in pieces (never whole in memory).
fn write_stream(path: &Path, len: u64, seed: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut stream = ByteStream::new(seed);
    let mut piece = vec![0; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        stream.fill(&mut piece[..n]);
        file.write_all(&piece[..n]).unwrap();
        left -= n as u64;
    }
    file.flush().unwrap();
}

/// Reads `len` body bytes from `reader` in pieces of at most `piece`, pausing `pause` every
/// `every` bytes, and checks them against the stream for `seed` as they come.
fn read_stream(
    reader: &mut impl Read,
    len: u64,
    seed: u64,
    piece: usize,
    pause: Duration,
    every: u64,
) {
    let mut want = ByteStream::new(seed);
    let (mut got, mut expected) = (vec![0; piece], vec![0; piece]);
    let mut read = 0u64;
    let mut since_pause = 0u64;
    while read < len {
        let n = (len - read).min(piece as u64) as usize;
        reader.read_exact(&mut got[..n]).expect("the body");
        want.fill(&mut expected[..n]);
        assert!(
            got[..n] == expected[..n],
            "body differs in bytes {read}..{}",
            read + n as u64
        );
        read += n as u64;
        since_pause += n as u64;
        if since_pause >= every {
            since_pause = 0;
            std::thread::sleep(pause);
        }
    }
}

/// A TLS client, its handshake done, over a socket with a receive buffer of about
/// `recv_buffer` bytes ([`small_window_client`]): the TLS twin of a slow reader's socket.
fn small_window_tls(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    recv_buffer: usize,
) -> Client {
    let tcp = small_window_client(addr, recv_buffer);
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
    let conn = rustls::ClientConnection::new(Arc::clone(config), name).expect("a TLS client");
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the TLS handshake");
    }
    Client::Tls(Box::new(stream))
}

// ----- settings -----------------------------------------------------------------------------

/// `HTTP_ROOT` must exist: otherwise a message naming the variable and exit code 2, before
/// binding (no `listening` line).
#[test]
fn a_missing_root_exits_2_before_binding() {
    let dir = TempDir::new();
    for root in [dir.join("nowhere"), PathBuf::from("/dev/null")] {
        let mut command =
            example_command(example_binary("http"), &[("TURBINE_ADDR", "127.0.0.1:0")]);
        command.env("HTTP_ROOT", &root);
        let mut example = Example::spawn_command(command);
        let status = example
            .wait_exit(Duration::from_secs(10))
            .expect("it exits");
        assert_eq!(status.code(), Some(2), "{}", example.output());
        assert!(
            example.output().contains("HTTP_ROOT"),
            "{}",
            example.output()
        );
        assert!(
            !example.output().contains("listening"),
            "{}",
            example.output()
        );
    }
}

// ----- methods, keep-alive, pipelining ------------------------------------------------------

/// `GET` gets the file with `Content-Length`, `Content-Type`, `Last-Modified`, an `ETag`;
/// `HEAD` the same fields and no body (the next response follows the head directly); `/`
/// serves `index.html`; the query string is ignored.
#[test]
fn get_and_head() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    let got = conn.get("/");
    assert_eq!((got.status, &got.body[..]), (200, &b"<h1>home</h1>\n"[..]));
    assert_eq!(got.length(), 14);
    assert_eq!(got.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        got.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    assert!(got.header("etag").is_some_and(|t| t.starts_with('"')));
    conn.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\nGET /a.txt?x=1&y HTTP/1.1\r\n\r\n");
    let head = conn.reply(true);
    assert_eq!(head.status, 200);
    for field in ["content-length", "content-type", "last-modified", "etag"] {
        assert_eq!(head.header(field), got.header(field), "{field}");
    }
    let next = conn.reply(false);
    assert_eq!((next.status, &next.body[..]), (200, &b"alpha\n"[..]));
}

/// Other methods get 405 with `Allow: GET, HEAD`, and the connection stays usable.
#[test]
fn other_methods_get_405() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get"] {
        conn.send(format!("{method} /a.txt HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        let reply = conn.reply(false);
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD"), "{method}");
    }
    assert_eq!(conn.get("/a.txt").status, 200);
}

/// Another method with a body the server cannot skip (chunked, or longer than the frame
/// limit) is still a 405 with `Allow`, and then the connection closes: what follows the head
/// cannot be told from a next request.
#[test]
fn other_methods_with_unreadable_bodies_get_405_and_close() {
    let site = Site::new();
    let server = serve(&site, &[]);
    for input in [
        &b"POST /a.txt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..],
        b"PUT /a.txt HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
    ] {
        let mut conn = Conn::open(server.addr);
        conn.send(input);
        let reply = conn.reply(false);
        assert_eq!(reply.status, 405, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(reply.header("allow"), Some("GET, HEAD"));
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(conn.end(), End::Eof, "{:?}", String::from_utf8_lossy(input));
    }
}

/// HTTP/1.1 keeps the connection; `Connection: close` is honoured (said, then our FIN);
/// HTTP/1.0 closes after the response unless it asks for keep-alive, which is then said.
#[test]
fn keep_alive_and_close() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    for _ in 0..3 {
        assert_eq!(conn.get("/a.txt").status, 200);
    }
    conn.send(get_with("/a.txt", "Connection: close").as_bytes());
    let last = conn.reply(false);
    assert_eq!(last.header("connection"), Some("close"));
    assert_eq!(conn.end(), End::Eof);

    let mut old = Conn::open(server.addr);
    old.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(old.reply(false).status, 200);
    assert_eq!(old.end(), End::Eof);

    let mut kept = Conn::open(server.addr);
    for _ in 0..2 {
        kept.send(b"GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let reply = kept.reply(false);
        assert_eq!(reply.header("connection"), Some("keep-alive"));
    }
    kept.send(b"GET /a.txt HTTP/1.0\r\n\r\n");
    assert_eq!(kept.reply(false).status, 200);
    assert_eq!(kept.end(), End::Eof);
}

/// 100 pipelined requests, written at once, each for a different file, are answered in order.
#[test]
fn a_hundred_pipelined_requests_in_order() {
    let site = Site::new();
    for i in 0..100 {
        site.write(
            &format!("f{i}.txt"),
            format!("file {i}\n").repeat(i + 1).as_bytes(),
        );
    }
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    let burst: String = (0..100).map(|i| get(&format!("/f{i}.txt"))).collect();
    conn.send(burst.as_bytes());
    for i in 0..100 {
        let reply = conn.reply(false);
        assert_eq!(reply.status, 200, "response {i}");
        assert_eq!(
            reply.body,
            format!("file {i}\n").repeat(i + 1).as_bytes(),
            "{i}"
        );
    }
}

// ----- paths --------------------------------------------------------------------------------

/// Every way out of the root is 404, like a missing file: `..` plain or encoded, an encoded
/// slash, an absolute path, a NUL, a symbolic link out (to a file, to the parent directory);
/// a link within the root is served, relative or absolute (which `RESOLVE_BENEATH` refuses
/// alone: the canonical path decides then).
#[test]
fn traversal_attempts_are_404() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/docs/../../secret.txt",
        "/..%2fsecret.txt",
        "//etc/passwd",
        "/a%00b",
        "/a.txt%00",
        "/out",
        "/up/secret.txt",
        "/missing.txt",
        "/%zz",
    ] {
        let reply = conn.get(path);
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            !reply.body.windows(SECRET.len()).any(|w| w == SECRET),
            "{path}"
        );
    }
    assert_eq!(conn.get("/alias.txt").body, b"alpha\n");
    assert_eq!(conn.get("/absolute.txt").body, b"alpha\n");
    if let Some(out) = curl(&[
        "--path-as-is",
        &format!("http://{}/../secret.txt", server.addr),
    ]) {
        assert_eq!(out.stdout, b"404 Not Found\n");
    }
}

/// `/` and directories serve `index.html`, with or without the slash; a directory without
/// one is 404, and so is a file named as a directory.
#[test]
fn directories_and_index() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    assert_eq!(conn.get("/docs/").body, b"<h1>docs</h1>\n");
    assert_eq!(conn.get("/docs").body, b"<h1>docs</h1>\n");
    assert_eq!(conn.get("/empty/").status, 404);
    assert_eq!(conn.get("/a.txt/").status, 404);
}

// ----- refusals -----------------------------------------------------------------------------

/// A request that could smuggle another (`Content-Length` with `Transfer-Encoding`, whatever
/// the method), a `Transfer-Encoding` on GET or HEAD, and a malformed request get 400 and the
/// connection closes; the request hidden behind is never answered (and a HEAD's 400 has no
/// body: the end follows its head).
#[test]
fn smuggling_and_malformed_get_400_and_close() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let head = b"HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n";
    let mut conn = Conn::open(server.addr);
    conn.send(head);
    let reply = conn.reply(true);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(conn.end(), End::Eof, "nothing after the head");
    for input in [
        &b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 30\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
    ] {
        let mut conn = Conn::open(server.addr);
        conn.send(input);
        let reply = conn.reply(false);
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(reply.header("connection"), Some("close"));
        assert_eq!(conn.end(), End::Eof, "{:?}", String::from_utf8_lossy(input));
    }
}

/// A body on GET longer than the server reads whole (one read buffer, here 4 KiB below a
/// 64 KiB frame limit) gets 400 and the connection closes, rather than a close with no answer.
#[test]
fn a_get_body_longer_than_a_read_gets_400_and_close() {
    let site = Site::new();
    let server = serve(&site, &[("TURBINE_READ_BUFFER", "4096")]);
    let mut conn = Conn::open(server.addr);
    let mut request = b"GET /a.txt HTTP/1.1\r\nContent-Length: 10000\r\n\r\n".to_vec();
    request.resize(request.len() + 10_000, b'b');
    conn.send(&request);
    let reply = conn.reply(false);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(conn.end(), End::Eof);
}

/// 101 header fields get 431, and so does a head over `TURBINE_MAX_FRAME`; each then closes.
#[test]
fn oversized_heads_get_431_and_close() {
    let site = Site::new();
    let server = serve(&site, &[("TURBINE_MAX_FRAME", "8KiB")]);
    let mut many = String::from("GET / HTTP/1.1\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let long = get_with("/", &format!("X-Long: {}", "a".repeat(9000)));
    for input in [many, long] {
        let mut conn = Conn::open(server.addr);
        conn.send(input.as_bytes());
        let reply = conn.reply(false);
        assert_eq!(reply.status, 431);
        assert_eq!(conn.end(), End::Eof);
    }
    // Under the bound, 100 fields are fine.
    let mut hundred = String::from("GET /a.txt HTTP/1.1\r\n");
    for i in 0..99 {
        hundred.push_str(&format!("X-{i}: v\r\n"));
    }
    hundred.push_str("Host: t\r\n\r\n");
    let mut conn = Conn::open(server.addr);
    conn.send(hundred.as_bytes());
    assert_eq!(conn.reply(false).status, 200);
}

/// The slow-loris defence is the frame timeout: a head that never ends, trickled a byte every
/// 20 ms, is closed without an answer no sooner than `TURBINE_FRAME_TIMEOUT` (300 ms) after its
/// first byte and at most 1.5 s after it; a complete request before it was answered.
#[test]
fn slow_loris_is_closed_at_the_frame_timeout() {
    const FRAME_TIMEOUT: Duration = Duration::from_millis(300);
    let site = Site::new();
    let server = serve(&site, &[("TURBINE_FRAME_TIMEOUT", "300ms")]);
    let mut conn = Conn::open(server.addr);
    assert_eq!(conn.get("/a.txt").status, 200);
    let stream = conn.reader.get_mut();
    let mut rest = Vec::new();
    // The server's clock for the head starts when its first byte arrives, after this.
    let started = Instant::now();
    let mut ended = None;
    for byte in b"GET /a.txt HTTP/1.1\r\nX-Slow: ".iter().cycle().take(200) {
        if let Err(e) = stream.write_all(&[*byte]) {
            ended = Some((started.elapsed(), format!("a write failed: {e}")));
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        if let Some(end) = read_available(stream, &mut rest) {
            ended = Some((started.elapsed(), format!("{end:?}")));
            assert!(end.is_closed(), "{end:?}");
            break;
        }
        if started.elapsed() > Duration::from_secs(3) {
            break;
        }
    }
    assert!(
        rest.is_empty(),
        "no answer: {:?}",
        String::from_utf8_lossy(&rest)
    );
    let Some((after, how)) = ended else {
        panic!("still open {:?} after the first byte", started.elapsed());
    };
    eprintln!("closed ({how}) {after:?} after the first byte");
    assert!(
        after >= FRAME_TIMEOUT,
        "closed ({how}) {after:?} after the first byte, before the frame timeout"
    );
    assert!(
        after <= Duration::from_millis(1500),
        "closed ({how}) only {after:?} after the first byte"
    );
}

// ----- conditional requests, ranges, types --------------------------------------------------

/// `If-None-Match` with the `ETag` (or `*`, or in a list, on one line or two) and
/// `If-Modified-Since` with the `Last-Modified` give 304 with the validators and no body; an
/// older date or another tag gives 200; a changed file gets a new `ETag`.
#[test]
fn conditional_requests_give_304() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    let first = conn.get("/a.txt");
    let etag = first.header("etag").unwrap().to_string();
    let modified = first.header("last-modified").unwrap().to_string();
    for field in [
        format!("If-None-Match: {etag}"),
        format!("If-None-Match: \"x\", W/{etag}"),
        "If-None-Match: *".to_string(),
        format!("If-Modified-Since: {modified}"),
        // One list on two lines.
        format!("If-None-Match: \"x\"\r\nIf-None-Match: {etag}"),
    ] {
        conn.send(get_with("/a.txt", &field).as_bytes());
        let reply = conn.reply(false);
        assert_eq!(reply.status, 304, "{field}");
        assert_eq!(reply.header("etag"), Some(etag.as_str()));
        assert_eq!(reply.header("content-length"), None);
    }
    conn.send(get_with("/a.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT").as_bytes());
    assert_eq!(conn.reply(false).status, 200);
    conn.send(get_with("/a.txt", "If-None-Match: \"other\"").as_bytes());
    assert_eq!(conn.reply(false).body, b"alpha\n");
    conn.send(b"HEAD /a.txt HTTP/1.1\r\nIf-None-Match: *\r\n\r\n");
    assert_eq!(conn.reply(true).status, 304);

    site.write("a.txt", b"alpha, changed\n");
    let changed = conn.get("/a.txt");
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    conn.send(get_with("/a.txt", &format!("If-None-Match: {etag}")).as_bytes());
    assert_eq!(conn.reply(false).body, b"alpha, changed\n");

    if let Some(out) = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("If-None-Match: {}", changed.header("etag").unwrap()),
        &format!("http://{}/a.txt", server.addr),
    ]) {
        assert_eq!(out.stdout, b"304");
    }
}

/// `Range: bytes=a-b`, `a-` and `-n` give 206 with `Content-Range` and those bytes; a range
/// past the end gives 416 with `Content-Range: bytes */len`; `HEAD` ignores `Range`; several
/// ranges are ignored (200).
#[test]
fn ranges_give_206_and_416() {
    let site = Site::new();
    let digits: Vec<u8> = (0..100u8).map(|i| b'0' + i % 10).collect();
    site.write("digits.txt", &digits);
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    for (range, start, end) in [
        ("bytes=0-9", 0, 10),
        ("bytes=95-", 95, 100),
        ("bytes=-3", 97, 100),
        ("bytes=50-1000", 50, 100),
        ("bytes=-500", 0, 100),
    ] {
        conn.send(get_with("/digits.txt", &format!("Range: {range}")).as_bytes());
        let reply = conn.reply(false);
        assert_eq!(reply.status, 206, "{range}");
        let want = format!("bytes {start}-{}/100", end - 1);
        assert_eq!(
            reply.header("content-range"),
            Some(want.as_str()),
            "{range}"
        );
        assert_eq!(reply.body, &digits[start..end], "{range}");
    }
    for range in ["bytes=100-", "bytes=200-300", "bytes=-0"] {
        conn.send(get_with("/digits.txt", &format!("Range: {range}")).as_bytes());
        let reply = conn.reply(false);
        assert_eq!(reply.status, 416, "{range}");
        assert_eq!(reply.header("content-range"), Some("bytes */100"));
    }
    conn.send(b"HEAD /digits.txt HTTP/1.1\r\nRange: bytes=0-9\r\n\r\n");
    let head = conn.reply(true);
    assert_eq!((head.status, head.length()), (200, 100));
    conn.send(get_with("/digits.txt", "Range: bytes=0-1,5-6").as_bytes());
    assert_eq!(conn.reply(false).body, digits);

    if let Some(out) = curl(&["-r", "10-19", &format!("http://{}/digits.txt", server.addr)]) {
        assert_eq!(out.stdout, &digits[10..20]);
    }
}

/// `Content-Type` by extension: each listed type, anything else octet-stream.
#[test]
fn content_types_by_extension() {
    let site = Site::new();
    let cases = [
        ("p.html", "text/html; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("d.json", "application/json"),
        ("r.txt", "text/plain; charset=utf-8"),
        ("i.png", "image/png"),
        ("p.jpg", "image/jpeg"),
        ("v.svg", "image/svg+xml"),
        ("m.wasm", "application/wasm"),
        ("x.bin", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ];
    for (name, _) in cases {
        site.write(name, name.as_bytes());
    }
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    for (name, want) in cases {
        let reply = conn.get(&format!("/{name}"));
        assert_eq!(reply.header("content-type"), Some(want), "{name}");
        assert_eq!(reply.body, name.as_bytes());
    }
}

// ----- large files, slow and stalled readers ------------------------------------------------

/// A 64 MiB file downloaded by a client that reads slowly (`SO_RCVBUF` of 64 KiB, pauses)
/// arrives byte for byte, while the server's resident memory stays flat: its growth during
/// the download stays under 8 MiB, about what one window and the reactor's buffers take,
/// whatever the file's size. Over plain TCP (`sendfile`) and, for the copy path, over TLS
/// on the same small socket.
#[test]
fn a_64_mib_file_to_a_slow_reader_keeps_memory_flat() {
    const LEN: u64 = 64 << 20;
    let site = Site::new();
    write_stream(&site.root().join("big.bin"), LEN, 64);
    let pair = Pair::new("http-test");
    let certs = CertFiles::new(&pair);
    let tls_config = client_config(&[&pair], BOTH, &[]);
    for tls in [false, true] {
        let env: Vec<(&str, &str)> = if tls {
            certs.env().to_vec()
        } else {
            Vec::new()
        };
        let server = serve(&site, &env);
        let pid = server.example.pid();
        let connect = || {
            if tls {
                small_window_tls(server.addr, &tls_config, 64 << 10)
            } else {
                Client::Plain(small_window_client(server.addr, 64 << 10))
            }
        };
        // Warm up (worker pool started, buffers made), then take the baseline.
        let mut warm = connect();
        warm.write_all(get("/a.txt").as_bytes()).unwrap();
        let mut head = [0; 64];
        let _ = warm.read(&mut head).unwrap();
        let baseline = rss(pid);
        let peak = Arc::new(AtomicU64::new(baseline));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let mut client = connect();
        client.write_all(get("/big.bin").as_bytes()).unwrap();
        let reply = read_head(&mut client);
        assert_eq!((reply.status, reply.length()), (200, LEN));
        read_stream(
            &mut client,
            LEN,
            64,
            16 << 10,
            Duration::from_millis(2),
            1 << 20,
        );
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let grown = peak.load(Ordering::Relaxed).saturating_sub(baseline);
        eprintln!(
            "tls {tls}: RSS {} KiB before, grew by {} KiB at most during the download",
            baseline >> 10,
            grown >> 10
        );
        assert!(
            grown < 8 << 20,
            "tls {tls}: RSS grew by {} KiB during a 64 MiB download",
            grown >> 10
        );
    }
}

/// A client that asks for a large file and stops reading is held by backpressure, then closed
/// by the write timeout: the stream ends well short of the length announced.
#[test]
fn a_stalled_reader_is_closed_by_the_write_timeout() {
    let site = Site::new();
    write_stream(&site.root().join("big.bin"), 16 << 20, 7);
    let server = serve(&site, &[("TURBINE_WRITE_TIMEOUT", "300ms")]);
    let mut conn = Conn::over(small_window_client(server.addr, 16 << 10));
    conn.send(get("/big.bin").as_bytes());
    let reply = conn.head();
    assert_eq!(reply.length(), 16 << 20);
    std::thread::sleep(Duration::from_millis(1500)); // reads nothing: the write times out
    let (rest, end) = read_until_end(conn.reader.get_mut(), Duration::from_secs(10));
    let received = conn.reader.buffer().len() + rest.len();
    assert!(end.is_closed(), "{end:?}");
    assert!(
        received < 8 << 20,
        "{received} bytes of 16 MiB before the close"
    );
}

/// A file truncated while it is sent never gets other bytes in place of the missing ones:
/// the connection closes short of the `Content-Length`.
#[test]
fn a_file_that_shrinks_while_sent_closes_the_connection() {
    let site = Site::new();
    let path = site.root().join("big.bin");
    write_stream(&path, 16 << 20, 9);
    let server = serve(&site, &[]);
    let mut conn = Conn::over(small_window_client(server.addr, 16 << 10));
    conn.send(get("/big.bin").as_bytes());
    let reply = conn.head();
    assert_eq!(reply.length(), 16 << 20);
    let mut first = vec![0; 64 << 10];
    conn.reader.read_exact(&mut first).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let (rest, end) = read_until_end(conn.reader.get_mut(), Duration::from_secs(10));
    let received = (64 << 10) + conn.reader.buffer().len() + rest.len();
    assert!(end.is_closed(), "{end:?}");
    assert!(received < 16 << 20, "{received} bytes");
}

/// The `sendfile` path (plain TCP) and the copy path (TLS) deliver identical bytes: the whole
/// file and a range of it, an odd length spanning several windows.
#[test]
fn sendfile_and_the_tls_copy_path_deliver_identical_bytes() {
    const LEN: u64 = (3 << 20) + 12_345;
    let site = Site::new();
    let path = site.root().join("data.bin");
    write_stream(&path, LEN, 3);
    let file = std::fs::read(&path).unwrap();
    let plain = serve(&site, &[]);
    let pair = Pair::new("http-copy");
    let certs = CertFiles::new(&pair);
    let tls = serve(&site, &certs.env());
    let config = client_config(&[&pair], BOTH, &[]);
    let request = format!(
        "{}{}",
        get("/data.bin"),
        get_with(
            "/data.bin",
            "Range: bytes=1000000-2500000\r\nConnection: close"
        )
    );
    for (name, mut client) in [
        ("sendfile", Client::plain(plain.addr)),
        ("TLS", Client::tls(tls.addr, &config)),
    ] {
        client.write_all(request.as_bytes()).unwrap();
        let all = client.read_to_end_clean().unwrap();
        let split = |bytes: &[u8]| bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let first_body = split(&all);
        let whole = &all[first_body..first_body + LEN as usize];
        assert_same_bytes(whole, &file, name);
        let rest = &all[first_body + LEN as usize..];
        assert!(rest.starts_with(b"HTTP/1.1 206 "), "{name}");
        let part = &rest[split(rest)..];
        assert_same_bytes(part, &file[1_000_000..=2_500_000], name);
    }
}

/// `curl`: a download and a `HEAD`, HTTP/1.0, and several URLs over one kept connection.
#[test]
fn curl_downloads() {
    let site = Site::new();
    write_stream(&site.root().join("big.bin"), 2 << 20, 5);
    let server = serve(&site, &[]);
    let base = format!("http://{}", server.addr);
    let Some(out) = curl(&[&format!("{base}/big.bin")]) else {
        return;
    };
    assert_same_bytes(
        &out.stdout,
        &std::fs::read(site.root().join("big.bin")).unwrap(),
        "curl",
    );
    let head = curl(&["-I", &format!("{base}/a.txt")]).unwrap();
    let head = String::from_utf8_lossy(&head.stdout);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Content-Length: 6\r\n"), "{head}");
    let old = curl(&["--http1.0", &format!("{base}/a.txt")]).unwrap();
    assert_eq!(old.stdout, b"alpha\n");
    let two = curl(&["-v", &format!("{base}/a.txt"), &format!("{base}/docs/")]).unwrap();
    assert_eq!(two.stdout, b"alpha\n<h1>docs</h1>\n");
    let log = String::from_utf8_lossy(&two.stderr);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
}

/// Without `TURBINE_MAX_FRAME` a request head is bounded at 64 KiB: one under is answered,
/// one over gets 431 and the close.
#[test]
fn the_head_limit_defaults_to_64_kib() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    conn.send(get_with("/a.txt", &format!("X-Long: {}", "a".repeat(60 << 10))).as_bytes());
    assert_eq!(conn.reply(false).body, b"alpha\n");
    conn.send(get_with("/a.txt", &format!("X-Long: {}", "a".repeat(70 << 10))).as_bytes());
    assert_eq!(conn.reply(false).status, 431);
    assert_eq!(conn.end(), End::Eof);
}

/// The path is percent-decoded once: `%20` names a space, `%2541` names `%41.txt` (not
/// `A.txt`), and `%41` names `A.txt`.
#[test]
fn the_path_is_percent_decoded_once() {
    let site = Site::new();
    site.write("a b.txt", b"space\n");
    site.write("%41.txt", b"percent\n");
    site.write("A.txt", b"capital\n");
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    assert_eq!(conn.get("/a%20b.txt").body, b"space\n");
    assert_eq!(conn.get("/%2541.txt").body, b"percent\n");
    assert_eq!(conn.get("/%41.txt").body, b"capital\n");
}

/// A way out of the root gets exactly what a missing file gets: status, fields (but `Date`)
/// and body, so a client cannot tell a refused path from an absent one.
#[test]
fn a_way_out_looks_like_a_missing_file() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    let fields = |reply: &Reply| -> Vec<(String, String)> {
        reply
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .cloned()
            .collect()
    };
    let missing = conn.get("/missing.txt");
    assert_eq!(missing.status, 404);
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/a%00b",
        "/out",
        "/up/secret.txt",
    ] {
        let reply = conn.get(path);
        assert_eq!(reply.status, missing.status, "{path}");
        assert_eq!(fields(&reply), fields(&missing), "{path}");
        assert_eq!(reply.body, missing.body, "{path}");
    }
}

/// A body on GET or HEAD that can be skipped (a short `Content-Length`) is skipped and the
/// request answered, the next one too.
#[test]
fn short_get_and_head_bodies_are_skipped() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut conn = Conn::open(server.addr);
    conn.send(
        b"GET /a.txt HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello\
          HEAD /a.txt HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
    );
    assert_eq!(conn.reply(false).body, b"alpha\n");
    let head = conn.reply(true);
    assert_eq!((head.status, head.length()), (200, 6));
    assert_eq!(conn.reply(false).body, b"<h1>home</h1>\n");
}

/// `Last-Modified` is the file's modification time as an HTTP date.
#[test]
fn last_modified_is_the_files_mtime() {
    let site = Site::new();
    let when = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
    std::fs::File::options()
        .write(true)
        .open(site.root().join("a.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let server = serve(&site, &[]);
    let reply = Conn::open(server.addr).get("/a.txt");
    assert_eq!(
        reply.header("last-modified"),
        Some("Sun, 06 Nov 1994 08:49:37 GMT")
    );
}
