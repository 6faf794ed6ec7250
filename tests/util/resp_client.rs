//! For `tests/kv.rs`: a small blocking RESP2 client with its own reply parser (independent of
//! `turbine-codec`, so a bug there cannot hide itself), the `kv` example as a child process, and
//! running the real clients (`redis-cli`, `redis-benchmark`) with a time limit.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Example;

/// Read and write timeout of every client socket: a bug fails the test instead of hanging it.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A RESP2 reply as the client read it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Resp {
    /// `+text`.
    Simple(String),
    /// `-text`.
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$len` and the bytes.
    Bulk(Vec<u8>),
    /// `$-1`.
    Null,
    /// `*n` and the elements.
    Array(Vec<Resp>),
    /// `*-1`.
    NullArray,
}

/// `+OK`.
pub(crate) fn ok() -> Resp {
    Resp::Simple("OK".into())
}

/// A simple string.
pub(crate) fn simple(text: &str) -> Resp {
    Resp::Simple(text.into())
}

/// An error reply.
pub(crate) fn err(text: &str) -> Resp {
    Resp::Error(text.into())
}

/// An integer reply.
pub(crate) fn int(n: i64) -> Resp {
    Resp::Integer(n)
}

/// A bulk string reply.
pub(crate) fn bulk(text: &str) -> Resp {
    Resp::Bulk(text.as_bytes().to_vec())
}

/// An array of bulk strings.
pub(crate) fn bulks(items: &[&str]) -> Resp {
    Resp::Array(items.iter().map(|i| bulk(i)).collect())
}

/// Redis's `WRONGTYPE` error.
pub(crate) fn wrongtype() -> Resp {
    err("WRONGTYPE Operation against a key holding the wrong kind of value")
}

/// Redis's error for a bad integer argument or value.
pub(crate) fn not_integer() -> Resp {
    err("ERR value is not an integer or out of range")
}

/// Redis's wrong-arity error for `name`.
pub(crate) fn arity(name: &str) -> Resp {
    Resp::Error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

impl Resp {
    /// The elements of an array reply, sorted (for replies in no particular order).
    pub(crate) fn sorted(self) -> Resp {
        match self {
            Resp::Array(mut items) => {
                items.sort_by_key(|i| format!("{i:?}"));
                Resp::Array(items)
            }
            other => other,
        }
    }

    /// The integer of an integer reply.
    #[track_caller]
    pub(crate) fn integer(&self) -> i64 {
        match self {
            Resp::Integer(n) => *n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }
}

impl fmt::Debug for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resp::Simple(s) => write!(f, "+{s}"),
            Resp::Error(s) => write!(f, "-{s}"),
            Resp::Integer(n) => write!(f, ":{n}"),
            Resp::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Resp::Null => f.write_str("(nil)"),
            Resp::Array(items) => f.debug_list().entries(items).finish(),
            Resp::NullArray => f.write_str("(nil array)"),
        }
    }
}

/// The multibulk encoding of `args`, as every Redis client library sends a command.
pub(crate) fn multibulk(args: &[&[u8]]) -> Vec<u8> {
    let mut wire = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        wire.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        wire.extend_from_slice(arg);
        wire.extend_from_slice(b"\r\n");
    }
    wire
}

/// One connection to a RESP server.
pub(crate) struct RespClient {
    /// Buffered reads.
    reader: BufReader<TcpStream>,
    /// The same socket, for writing.
    writer: TcpStream,
}

impl RespClient {
    /// Connects to `addr`, with timeouts and `TCP_NODELAY`.
    pub(crate) fn connect(addr: SocketAddr) -> RespClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        RespClient {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::with_capacity(64 << 10, stream),
        }
    }

    /// The client's end of the connection: its `addr` in the server's `CLIENT LIST`.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().expect("local address")
    }

    /// Sends a command without waiting for its reply.
    pub(crate) fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_raw(&multibulk(&args));
    }

    /// Sends bytes as they are.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// Sends a command and reads its reply.
    #[track_caller]
    pub(crate) fn call(&mut self, args: &[&str]) -> Resp {
        self.send(args);
        self.read()
    }

    /// Sends a command and checks its reply.
    #[track_caller]
    pub(crate) fn expect(&mut self, args: &[&str], want: Resp) {
        let got = self.call(args);
        assert_eq!(got, want, "{args:?}");
    }

    /// Reads one reply; panics on end of stream, a timeout or malformed bytes.
    #[track_caller]
    pub(crate) fn read(&mut self) -> Resp {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        let number = || -> i64 {
            rest.parse()
                .unwrap_or_else(|_| panic!("bad header {line:?}"))
        };
        match kind {
            "+" => Resp::Simple(rest.to_string()),
            "-" => Resp::Error(rest.to_string()),
            ":" => Resp::Integer(number()),
            "$" if rest == "-1" => Resp::Null,
            "$" => {
                let mut data = vec![0; number() as usize + 2];
                self.reader.read_exact(&mut data).expect("bulk data");
                assert_eq!(&data[data.len() - 2..], b"\r\n", "bulk not ended by CRLF");
                data.truncate(data.len() - 2);
                Resp::Bulk(data)
            }
            "*" if rest == "-1" => Resp::NullArray,
            "*" => Resp::Array((0..number()).map(|_| self.read()).collect()),
            _ => panic!("unexpected reply line {line:?}"),
        }
    }

    /// One `\r\n`-terminated line, without its ending.
    #[track_caller]
    fn line(&mut self) -> String {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.ends_with(b"\r\n") => {
                line.truncate(line.len() - 2);
                String::from_utf8(line).expect("reply lines are UTF-8")
            }
            Ok(_) => panic!("stream ended inside a reply (after {line:?})"),
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Everything the server sends until it closes (waiting at most the I/O timeout).
    pub(crate) fn read_to_end(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => rest,
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// Shuts the write side, as a client that is done.
    pub(crate) fn finish(&mut self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }
}

// ----- the kv example as a process ----------------------------------------------------------

/// Path of the `kv` example built by the same `cargo test` as this test binary.
pub(crate) fn kv_example() -> PathBuf {
    super::example_binary("kv")
}

/// The `kv` example running as a child process on a free port of 127.0.0.1.
///
/// Dropping it kills the process if it is still running.
pub(crate) struct KvServer {
    /// The process, its output read line by line.
    pub process: Example,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl KvServer {
    /// Runs `redis-cli ARGS` against this server (at most 20 s) and returns what it printed;
    /// fails the test if it does not succeed. Check [`have`]`("redis-cli")` first.
    pub(crate) fn redis_cli(&self, args: &[&str]) -> String {
        let port = self.addr.port().to_string();
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &port]).args(args);
        let (status, output) =
            run_with_timeout(command, Duration::from_secs(20)).expect("redis-cli finished");
        assert!(status.success(), "redis-cli {args:?}: {output}");
        output
    }

    /// Starts the example with `TURBINE_ADDR=127.0.0.1:0`, `RUST_LOG=info` and the variables
    /// in `env`, and nothing else of the test's environment; waits for its `listening on` line.
    pub(crate) fn start(env: &[(&str, &str)]) -> KvServer {
        let mut command = super::example_command(
            kv_example(),
            &[("TURBINE_ADDR", "127.0.0.1:0"), ("RUST_LOG", "info")],
        );
        command.envs(env.iter().copied());
        let process = Example::spawn_command(command);
        let addr = process.listening_addr();
        KvServer { process, addr }
    }

    /// A new client connection.
    pub(crate) fn client(&self) -> RespClient {
        RespClient::connect(self.addr)
    }
}

/// Whether `program` can be run (found on `PATH`).
pub(crate) fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `command` to completion with a time limit; returns its status and its stdout and
/// stderr together, or `None` if it had to be killed.
pub(crate) fn run_with_timeout(
    mut command: Command,
    limit: Duration,
) -> Option<(ExitStatus, String)> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = out.join().unwrap_or_default();
    text.extend(err.join().unwrap_or_default());
    Some((status, String::from_utf8_lossy(&text).into_owned()))
}
