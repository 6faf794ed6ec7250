//! Helpers shared by the integration tests: a small PRNG, a generic echo handler, clients with
//! timeouts, and a wrapper around the `echo` example process.
//!
//! Every test file includes this module, and none uses all of it.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use turbine::{
    CloseReason, Config, Context, Decoder, Encoder, Handler, LengthDelimitedCodec, LinesCodec,
    RawCodec, Running, Server,
};

pub(crate) mod haproxy;
pub(crate) mod hardening;
pub(crate) mod proxy_header;
pub(crate) mod redis;
pub(crate) mod resp_client;
pub(crate) mod scrape;
pub(crate) mod service;
pub(crate) mod tls;

/// Read and write timeout of every client socket: a bug fails the test instead of hanging it.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

// ----- random data --------------------------------------------------------------------------

/// xorshift64* PRNG: deterministic, good enough for test data.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub(crate) fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that nearby seeds give unrelated streams; never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        assert!(lo <= hi);
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Fills `buf` with random bytes.
    pub(crate) fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let word = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&word[..n]);
    }

    /// `len` random bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.fill(&mut v);
        v
    }

    /// A random line of `len` printable ASCII characters (no `\n`, no `\r`).
    pub(crate) fn printable(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b' ' + (self.next_u64() % 95) as u8))
            .collect()
    }
}

/// A byte stream that depends only on its seed, however it is cut into pieces: the sender and
/// the checker each make one and ask for the same bytes in pieces of any size.
#[derive(Debug, Clone)]
pub(crate) struct ByteStream {
    /// The generator of the 8-byte words.
    rng: Rng,
    /// The current word.
    word: [u8; 8],
    /// How many bytes of `word` have been handed out.
    used: usize,
}

impl ByteStream {
    /// The stream for `seed`.
    pub(crate) fn new(seed: u64) -> ByteStream {
        ByteStream {
            rng: Rng::new(seed),
            word: [0; 8],
            used: 8,
        }
    }

    /// Fills `buf` with the next bytes of the stream.
    pub(crate) fn fill(&mut self, mut buf: &mut [u8]) {
        while self.used < 8 && !buf.is_empty() {
            buf[0] = self.word[self.used];
            self.used += 1;
            buf = &mut buf[1..];
        }
        let mut chunks = buf.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            self.word = self.rng.next_u64().to_le_bytes();
            let n = rest.len();
            rest.copy_from_slice(&self.word[..n]);
            self.used = n;
        }
    }
}

// ----- the server side ----------------------------------------------------------------------

/// Echoes each frame back, whatever the framing: the same handler as `examples/echo.rs`.
pub(crate) struct Echo<C> {
    /// Builds this connection's codec from the configuration.
    codec: fn(&Config) -> C,
    /// Where to record why the connection closed, if anywhere.
    closes: Option<hardening::Closes>,
}

impl<C> Echo<C> {
    /// The same echo, recording in `closes` why its connection closed.
    pub(crate) fn watched(self, closes: &hardening::Closes) -> Self {
        Echo {
            closes: Some(closes.clone()),
            ..self
        }
    }
}

impl<C, T> Handler for Echo<C>
where
    C: Decoder<Item = T> + Encoder<Item = T> + 'static,
    T: Send + 'static,
{
    type Codec = C;

    fn codec(&mut self, config: &Config) -> C {
        (self.codec)(config)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, frame: T) {
        ctx.send(frame);
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        if let Some(closes) = &self.closes {
            closes.push(reason);
        }
    }
}

impl Echo<RawCodec> {
    /// Echoes bytes as they arrive.
    pub(crate) fn raw() -> Self {
        Echo {
            codec: |_| RawCodec::new(),
            closes: None,
        }
    }
}

impl Echo<LinesCodec> {
    /// Echoes `\n`-terminated lines, up to `max_frame` bytes each.
    pub(crate) fn lines() -> Self {
        Echo {
            codec: |c| LinesCodec::new(c.max_frame),
            closes: None,
        }
    }
}

impl Echo<LengthDelimitedCodec> {
    /// Echoes frames of a 4-byte big-endian length and a payload of up to `max_frame` bytes.
    pub(crate) fn length() -> Self {
        Echo {
            codec: |c| LengthDelimitedCodec::new(c.max_frame),
            closes: None,
        }
    }
}

/// A loopback port held bound and never listening, for as long as this lives: a connect there
/// is refused, and no other socket (another test's server) can take the port meanwhile.
pub(crate) struct Refusing(socket2::Socket);

impl Refusing {
    /// Binds a port the kernel picks, without listening.
    pub(crate) fn new() -> Refusing {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket.bind(&localhost().into()).expect("bind");
        Refusing(socket)
    }

    /// Its address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.0
            .local_addr()
            .expect("address")
            .as_socket()
            .expect("an IP address")
    }
}

/// 127.0.0.1 port 0: the only address the tests bind.
pub(crate) fn localhost() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// The tests' base configuration: 127.0.0.1 port 0, two reactors.
pub(crate) fn config() -> Config {
    Config::new().addr(localhost()).reactors(2)
}

/// Binds and starts a server in this process.
pub(crate) fn start<H, F>(config: Config, factory: F) -> Running
where
    H: Handler,
    F: Fn(SocketAddr) -> H + Send + Sync + 'static,
{
    Server::bind(config)
        .expect("bind")
        .start(factory)
        .expect("start")
}

// ----- the client side ----------------------------------------------------------------------

/// A blocking client with read and write timeouts and `TCP_NODELAY`.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// A client whose socket has a receive buffer of about `recv_buffer` bytes (set before it
/// connects, so the window it announces is small): a large reply then waits in the server
/// rather than in the kernel, as with a slow or stalled reader.
pub(crate) fn small_window_client(addr: SocketAddr, recv_buffer: usize) -> TcpStream {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .expect("a socket");
    socket.set_recv_buffer_size(recv_buffer).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// A listener that never accepts, its queue filled so that further SYNs are dropped: a connect
/// to it hangs until its timeout. Keep the returned listener and fillers alive for as long as
/// that is needed.
pub(crate) fn black_hole() -> (SocketAddr, socket2::Socket, Vec<TcpStream>) {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.bind(&localhost().into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    // The accept queue of a backlog of 0 holds one connection; more makes sure it is full.
    // Non-blocking: a connect to a full queue would otherwise wait for its SYN retries.
    let fillers = (0..4)
        .map(|_| {
            let filler = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
            filler.set_nonblocking(true).unwrap();
            let _ = filler.connect(&addr.into());
            TcpStream::from(filler)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    (addr, socket, fillers)
}

/// Polls `done` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads until end of stream. A read error (a reset, a timeout) fails the test: the tests expect
/// every connection to end in a clean FIN.
pub(crate) fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = vec![0; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "read failed after {} bytes instead of ending in EOF: {e}",
                received.len()
            ),
        }
    }
}

/// Asserts `a == b` without printing megabytes: reports lengths and the first difference.
pub(crate) fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: first difference at byte {i} of {} (got {}, expected {})",
            want.len(),
            got[i],
            want[i]
        );
    }
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
}

/// Writes `data` in random pieces of 1..=`max_piece` bytes while a second thread reads the echo;
/// then shuts the write side and returns everything read up to the server's FIN.
pub(crate) fn echo_through(
    addr: SocketAddr,
    data: &[u8],
    rng: &mut Rng,
    max_piece: usize,
) -> Vec<u8> {
    let mut stream = connect(addr);
    let mut reader = stream.try_clone().unwrap();
    let reading = std::thread::spawn(move || read_to_eof(&mut reader));
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.range(1, max_piece).min(rest.len());
        stream.write_all(&rest[..n]).expect("write");
        rest = &rest[n..];
    }
    stream.shutdown(Shutdown::Write).unwrap();
    reading.join().expect("reader thread")
}

/// Waits until `progress` has not changed for `still` (checking every 20 ms), at most `timeout`
/// in all; returns its value then, or `None` if it kept changing.
pub(crate) fn wait_stalled(
    progress: &AtomicU64,
    still: Duration,
    timeout: Duration,
) -> Option<u64> {
    let deadline = Instant::now() + timeout;
    let mut last = progress.load(Ordering::Relaxed);
    let mut since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = progress.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= still {
            return Some(now);
        }
        if Instant::now() >= deadline {
            return None;
        }
    }
}

/// Writes pseudo-random bytes on `stream`, never reading, until `stop` is set, a write fails, or
/// `max` bytes are written; `progress` counts the bytes written.
pub(crate) fn flood(
    mut stream: TcpStream,
    max: u64,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
) -> JoinHandle<io::Result<()>> {
    std::thread::spawn(move || {
        let mut bytes = ByteStream::new(0xF100D);
        let mut piece = vec![0; 64 << 10];
        let mut sent = 0u64;
        while sent < max && !stop.load(Ordering::Relaxed) {
            bytes.fill(&mut piece);
            stream.write_all(&piece)?;
            sent += piece.len() as u64;
            progress.store(sent, Ordering::Relaxed);
        }
        Ok(())
    })
}

/// Sends `kill -SIGNAL pid`.
pub(crate) fn kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

// ----- the echo example as a process --------------------------------------------------------

/// Path of the `echo` example built by the same `cargo test` as this test binary.
pub(crate) fn echo_example() -> PathBuf {
    example_binary("echo")
}

/// Path of example `name` built by the same `cargo test` as this test binary
/// (`target/<profile>/examples/<name>`, next to `target/<profile>/deps/<test>`).
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lies in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo test` (which builds the examples) or `cargo build --examples`",
        path.display()
    );
    path
}

/// The command that runs `program` with only `env` set (none of the test's environment), no
/// stdin, its stdout and stderr piped: add variables or arguments, then
/// [`Example::spawn_command`].
pub(crate) fn example_command(
    program: impl AsRef<std::ffi::OsStr>,
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// An example running as a child process (the `echo` one unless said otherwise), its stderr
/// read line by line.
///
/// Dropping it kills the process if it is still running, so a failing test leaves nothing behind.
pub(crate) struct Example {
    /// The process.
    child: Child,
    /// Each stderr line, as it arrives.
    lines: Receiver<String>,
    /// Every stderr line so far.
    log: Arc<Mutex<Vec<String>>>,
    /// The threads reading stderr and stdout; they end when the process closes its pipes.
    readers: Vec<JoinHandle<()>>,
    /// How it exited, once it has.
    status: Option<ExitStatus>,
}

impl Example {
    /// Starts the example with only the variables in `env` set (the test's own environment,
    /// `TURBINE_*` included, is not passed on).
    pub(crate) fn spawn(env: &[(&str, &str)]) -> Example {
        Example::spawn_binary(echo_example(), env)
    }

    /// Starts `program` (an example binary) with only `env` set.
    pub(crate) fn spawn_binary(
        program: impl AsRef<std::ffi::OsStr>,
        env: &[(&str, &str)],
    ) -> Example {
        Example::spawn_command(example_command(program, env))
    }

    /// Starts `command` (one of [`example_command`]'s, perhaps with more set) with its output
    /// read line by line.
    pub(crate) fn spawn_command(mut command: Command) -> Example {
        let mut child = command.spawn().expect("spawn an example");
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr_log = Arc::clone(&log);
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                stderr_log.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let stdout_log = Arc::clone(&log);
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                stdout_log.lock().unwrap().push(format!("(stdout) {line}"));
            }
        });
        Example {
            child,
            lines,
            log,
            readers: vec![stderr_reader, stdout_reader],
            status: None,
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `"TERM"`) to the process.
    pub(crate) fn signal(&self, signal: &str) {
        kill(self.pid(), signal);
    }

    /// Waits up to `timeout` for a stderr line that satisfies `wanted`; returns it.
    pub(crate) fn wait_line(
        &self,
        timeout: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Waits for the `listening on 127.0.0.1:PORT` line and returns the address.
    pub(crate) fn listening_addr(&self) -> SocketAddr {
        let line = self
            .wait_line(Duration::from_secs(20), |l| {
                l.contains("listening on 127.0.0.1:")
            })
            .unwrap_or_else(|| panic!("no `listening on` line; stderr: {:?}", self.log()));
        let port = line
            .split("listening on 127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        SocketAddr::from((Ipv4Addr::LOCALHOST, port))
    }

    /// Whether the process has exited (without waiting).
    pub(crate) fn has_exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_some()
    }

    /// Waits up to `timeout` for the process to exit, then for its output to be read in full.
    /// Returns `None` (and kills the process) if it did not exit in time.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if !wait_until(timeout, || self.has_exited()) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return None;
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.status
    }

    /// Every line the process wrote so far (stderr, and stdout marked as such).
    pub(crate) fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The whole output so far as one string.
    pub(crate) fn output(&self) -> String {
        self.log().join("\n")
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        if !self.has_exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One reactor's `stopped; N connections drained, M closed by force` log line, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stopped {
    /// Connections that closed gracefully during shutdown.
    pub drained: u64,
    /// Connections still open at the deadline.
    pub forced: u64,
}

/// Every `stopped; ...` line in `log`, parsed.
pub(crate) fn stopped_lines(log: &[String]) -> Vec<Stopped> {
    log.iter()
        .filter_map(|line| {
            let rest = line.split("stopped; ").nth(1)?;
            let mut words = rest.split_whitespace();
            let drained = words.next()?.parse().ok()?;
            let rest = rest.split("drained, ").nth(1)?;
            let forced = rest.split_whitespace().next()?.parse().ok()?;
            rest.contains("closed by force")
                .then_some(Stopped { drained, forced })
        })
        .collect()
}
