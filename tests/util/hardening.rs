//! Helpers for the hardening tests (`limits`, `timeouts`, `faults`, `drain`, `soak`): a lines
//! echo that explains refusals and panics on demand, ways to see how a connection ended, the
//! CPU time of processes and of single reactor threads, the process's open descriptors, the
//! echo example under a low open-file limit, and a logger that keeps what the server logs.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use turbine::{CloseReason, Config, Context, Handler, LinesCodec, RawCodec, Rejection};

use super::{Echo, Example, IO_TIMEOUT, connect, echo_example};

// ----- the server side ----------------------------------------------------------------------

/// The line [`Guarded`] sends before closing a connection refused by `max_connections`.
pub(crate) const MAX_CONNECTIONS_LINE: &str = "ERR max connections\n";
/// The line [`Guarded`] sends before closing a connection refused by `max_connections_per_ip`.
pub(crate) const MAX_PER_IP_LINE: &str = "ERR max connections per ip\n";
/// The line that makes [`Guarded`] panic.
pub(crate) const PANIC_LINE: &str = "PANIC";

/// A lines echo that explains why it refuses a connection, and panics on [`PANIC_LINE`].
pub(crate) struct Guarded;

impl Handler for Guarded {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn rejection(reason: Rejection) -> Option<Vec<u8>> {
        let line = match reason {
            Rejection::MaxConnectionsPerIp => MAX_PER_IP_LINE,
            _ => MAX_CONNECTIONS_LINE,
        };
        Some(line.as_bytes().to_vec())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == PANIC_LINE {
            panic!("deliberate panic in on_frame (a test asked for it with {PANIC_LINE:?})");
        }
        ctx.send(line);
    }
}

/// Why each connection of a server closed, in order: filled by echo handlers made with
/// [`Echo::watched`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Closes(Arc<Mutex<Vec<CloseReason>>>);

impl Closes {
    /// Every reason so far.
    pub(crate) fn all(&self) -> Vec<CloseReason> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many connections closed for `reason`.
    pub(crate) fn count(&self, reason: &CloseReason) -> usize {
        self.all().iter().filter(|r| *r == reason).count()
    }

    /// A lines echo that reports here how it closed.
    pub(crate) fn lines(&self) -> Echo<LinesCodec> {
        Echo::lines().watched(self)
    }

    /// A raw echo that reports here how it closed.
    pub(crate) fn raw(&self) -> Echo<RawCodec> {
        Echo::raw().watched(self)
    }

    /// Records why a connection closed.
    pub(crate) fn push(&self, reason: CloseReason) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reason);
    }
}

/// A client that echoes a line every 20 ms on its own thread, to show that a server keeps
/// serving it while something else happens to other connections.
pub(crate) struct Pinger {
    /// Asks the thread to stop.
    stop: Arc<AtomicBool>,
    /// The thread: round trips done, or what went wrong and after how many.
    thread: JoinHandle<Result<usize, String>>,
}

impl Pinger {
    /// Connects and does a first round trip (so the connection is known to be served), then
    /// keeps pinging in the background. Works with a lines or a raw echo.
    pub(crate) fn start(addr: SocketAddr) -> Pinger {
        Pinger::over(connect(addr))
    }

    /// [`start`](Pinger::start) on a stream already open (a TLS client, say).
    pub(crate) fn over(mut stream: impl Read + Write + Send + 'static) -> Pinger {
        assert_echoes(&mut stream, "ping 0", "pinger");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut done = 1;
            while !stopping.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
                let line = format!("ping {done}");
                match echo_line(&mut stream, &line) {
                    Ok(back) if back == line => done += 1,
                    Ok(back) => return Err(format!("ping {done}: got {back:?}")),
                    Err(e) => return Err(format!("ping {done} failed: {e}")),
                }
            }
            Ok(done)
        });
        Pinger { stop, thread }
    }

    /// Stops the pinger; returns how many round trips it did, or fails the test if one failed.
    pub(crate) fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.join().expect("pinger thread") {
            Ok(done) => done,
            Err(e) => panic!("the other client was disturbed: {e}"),
        }
    }
}

// ----- how a connection ends ----------------------------------------------------------------

/// How reading from a connection stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// A clean end of stream (the peer's FIN).
    Eof,
    /// The peer reset the connection (`ECONNRESET`, or `EPIPE` on a write).
    Reset,
    /// Nothing more arrived within the time allowed: the connection is still open.
    TimedOut,
    /// Some other error.
    Failed(io::ErrorKind),
}

impl End {
    /// Whether the connection is closed (cleanly or not).
    pub(crate) fn is_closed(self) -> bool {
        matches!(self, End::Eof | End::Reset)
    }
}

/// Classifies a read error.
fn end_of(e: &io::Error) -> End {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => End::TimedOut,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => End::Reset,
        kind => End::Failed(kind),
    }
}

/// Reads until the stream ends or `timeout` passes; returns what arrived and how it stopped.
/// Restores the socket's usual read timeout afterwards.
pub(crate) fn read_until_end(stream: &mut TcpStream, timeout: Duration) -> (Vec<u8>, End) {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let end = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break End::TimedOut;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break End::Eof,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break end_of(&e),
        }
    };
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    (got, end)
}

/// Reads what has arrived without waiting: appends it to `got` and returns how the stream
/// ended, or `None` if it is still open.
pub(crate) fn read_available(stream: &mut TcpStream, got: &mut Vec<u8>) -> Option<End> {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 4096];
    let end = loop {
        match stream.read(&mut buf) {
            Ok(0) => break Some(End::Eof),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => match end_of(&e) {
                End::TimedOut => break None,
                end => break Some(end),
            },
        }
    };
    stream.set_nonblocking(false).unwrap();
    end
}

/// Reads one `\n`-terminated line (without the `\n`), a byte at a time so that nothing after
/// it is consumed.
///
/// # Errors
///
/// The read error, or `UnexpectedEof` if the stream ends first.
pub(crate) fn read_line(stream: &mut impl Read) -> io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("end of stream after {:?}", String::from_utf8_lossy(&line)),
                ));
            }
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Sends `line` and a `\n`, and returns the line that comes back.
///
/// # Errors
///
/// As [`read_line`], or the write error.
pub(crate) fn echo_line(stream: &mut (impl Read + Write), line: &str) -> io::Result<String> {
    stream.write_all(format!("{line}\n").as_bytes())?;
    stream.flush()?;
    read_line(stream)
}

/// Asserts that `stream` is served: `line` comes back.
#[track_caller]
pub(crate) fn assert_echoes(stream: &mut (impl Read + Write), line: &str, who: &str) {
    match echo_line(stream, line) {
        Ok(back) => assert_eq!(back, line, "{who}: wrong echo"),
        Err(e) => panic!("{who}: no echo of {line:?}: {e}"),
    }
}

// ----- the client side ----------------------------------------------------------------------

/// A client like [`connect`](super::connect), bound to `source` (any port) before it connects:
/// a second loopback address (`127.0.0.2`) is a different peer to the server.
pub(crate) fn connect_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .unwrap_or_else(|e| panic!("bind to {source}: {e}"));
    socket
        .connect(&addr.into())
        .unwrap_or_else(|e| panic!("connect from {source} to {addr}: {e}"));
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Closes `stream` with a reset instead of a FIN (`SO_LINGER` 0), whatever is unread or unsent.
pub(crate) fn reset(stream: TcpStream) {
    SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(stream);
}

// ----- processes, threads, descriptors ------------------------------------------------------

/// Descriptors this process has open now (entries of `/proc/self/fd`).
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// CPU time (user + system) of process `pid`, all threads.
pub(crate) fn process_cpu(pid: u32) -> Duration {
    turbine_load::server_cpu_time(pid).unwrap_or_else(|e| panic!("CPU time of {pid}: {e}"))
}

/// The kernel's id of the calling thread (from the `/proc/thread-self` link).
pub(crate) fn current_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self").expect("/proc/thread-self");
    link.file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.parse().ok())
        .unwrap_or_else(|| panic!("no thread id in {}", link.display()))
}

/// CPU time (user + system) of thread `tid` of this process alone, at 10 ms resolution.
pub(crate) fn thread_cpu(tid: u32) -> Duration {
    let path = format!("/proc/self/task/{tid}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    // Fields are counted from after the command name, which is in parentheses: field 3 (state)
    // comes first; utime and stime are fields 14 and 15, in ticks of 1/100 s (USER_HZ).
    let (_, rest) = stat
        .rsplit_once(')')
        .expect("a command name in parentheses");
    let mut fields = rest.split_ascii_whitespace().skip(14 - 3);
    let mut next = || -> u64 {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("no CPU times in {path}: {stat}"))
    };
    let ticks = next() + next();
    Duration::from_millis(ticks * 1000 / turbine_load::CLK_TCK)
}

/// The threads a server's handler factory ran on: its reactors (in this process), whose CPU
/// time can then be read apart from the other tests running in parallel.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reactors(Arc<Mutex<BTreeSet<u32>>>);

impl Reactors {
    /// Records the calling thread; call it from the handler factory.
    pub(crate) fn note(&self) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(current_tid());
    }

    /// How many reactor threads have been seen.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Their CPU time so far, added up.
    pub(crate) fn cpu(&self) -> Duration {
        let tids = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        tids.into_iter().map(thread_cpu).sum()
    }
}

/// Serializes the tests of one binary that compare the process's descriptor count before and
/// after: a test running beside them would open and close sockets of its own.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The soft limit on open files of this process (from `/proc/self/limits`).
pub(crate) fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ----- the echo example under a low open-file limit ------------------------------------------

impl Example {
    /// Starts the echo example (through `bash`) with the soft and hard open-file limit set to
    /// `limit` and `held` extra descriptors (`/dev/null`, numbers 10 and up) inherited open,
    /// as if a library held them, with only the variables in `env` set.
    pub(crate) fn spawn_with_open_files(
        limit: usize,
        held: usize,
        env: &[(&str, &str)],
    ) -> Example {
        let script = r#"ulimit -n "$1" || exit 97
            fd=10
            while [ "$fd" -lt $((10 + $2)) ]; do
                eval "exec $fd</dev/null" || exit 98
                fd=$((fd + 1))
            done
            exec "$0""#;
        let mut command = super::example_command("bash", env);
        command
            .arg("-c")
            .arg(script)
            .arg(echo_example())
            .arg(limit.to_string())
            .arg(held.to_string());
        Example::spawn_command(command)
    }
}

// ----- the server's log, in process ---------------------------------------------------------

/// Keeps every `info` (and more severe) record logged in this test binary.
pub(crate) struct LogCapture {
    /// `LEVEL target: message`, in order.
    lines: Mutex<Vec<String>>,
}

impl LogCapture {
    /// Installs the capture as this binary's logger (once; later calls return the same one).
    pub(crate) fn install() -> &'static LogCapture {
        static CAPTURE: LogCapture = LogCapture {
            lines: Mutex::new(Vec::new()),
        };
        if log::set_logger(&CAPTURE).is_ok() {
            log::set_max_level(log::LevelFilter::Info);
        }
        &CAPTURE
    }

    /// Every line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl log::Log for LogCapture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            self.lines
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
        }
    }

    fn flush(&self) {}
}
