//! `ServerChild`: a benchmark's server running in a child process: this same benchmark binary,
//! started with arguments that make it serve (such as `--serve NAME`).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`ServerChild::finish`] waits for the child to exit after its stdin closes.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// A server child process, killed and reaped on drop so none outlives the benchmark.
///
/// The child serves until its stdin reaches end of file, so it also exits when this process
/// dies without running any destructor.
pub(crate) struct ServerChild {
    /// The process: the server itself, or a wrapper (`strace`, `perf`) with the server under it.
    child: Child,
    /// The write end of the child's stdin; dropping it asks the server to exit.
    stdin: Option<ChildStdin>,
    /// Where the server listens, as it printed it.
    addr: SocketAddr,
}

impl ServerChild {
    /// Starts this binary with `serve` (the arguments that make it serve, named `name` in
    /// errors) and `--addr 127.0.0.1:0`, and waits for its `listening on ADDR` line.
    ///
    /// With `core`, the server pins itself to that core before it starts any thread. With a
    /// `wrapper` (such as `strace -f -c -o FILE --`), the server runs under that command, and
    /// the child's process id is the wrapper's.
    ///
    /// # Errors
    ///
    /// The process could not be started, or it closed its stdout without a valid address line.
    pub(crate) fn spawn(
        name: &str,
        serve: &[&str],
        core: Option<usize>,
        wrapper: Option<&[OsString]>,
    ) -> io::Result<ServerChild> {
        let exe = std::env::current_exe()?;
        let mut command = match wrapper {
            Some([program, args @ ..]) => {
                let mut command = Command::new(program);
                command.args(args).arg(exe);
                command
            }
            _ => Command::new(exe),
        };
        command.args(serve).args(["--addr", "127.0.0.1:0"]);
        if let Some(core) = core {
            command.args(["--core", &core.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        // From here on, dropping `server` kills and reaps the child, whatever fails.
        let mut server = ServerChild {
            child,
            stdin,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let mut line = String::new();
        if let Some(stdout) = stdout {
            BufReader::new(stdout).read_line(&mut line)?;
        }
        server.addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .ok_or_else(|| {
                io::Error::other(format!(
                    "{name}: expected `listening on ADDR`, got {line:?}"
                ))
            })?;
        Ok(server)
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id (the wrapper's when it runs under one).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the child (SIGKILL) and reaps it.
    ///
    /// # Errors
    ///
    /// `kill` or `wait` failed.
    pub(crate) fn kill(mut self) -> io::Result<()> {
        self.child.kill()?;
        self.child.wait().map(drop)
    }

    /// Closes the child's stdin, so the server exits by itself (and strace, if it runs under
    /// a wrapper, writes its summary), and waits for it. If it is still there after a grace
    /// period it gets SIGINT, on which `strace` and `perf stat` still write their summaries.
    ///
    /// # Errors
    ///
    /// `wait` failed, or the child had to be interrupted and did not exit then either.
    pub(crate) fn finish(mut self) -> io::Result<ExitStatus> {
        self.stdin = None;
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        eprintln!("server child {} did not exit; sending SIGINT", self.pid());
        // `std` can only SIGKILL, which would lose a wrapper's summary; `kill(1)` sends SIGINT.
        Command::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .status()?;
        let deadline = Instant::now() + EXIT_GRACE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err(io::Error::other(format!(
            "server child {} ignored SIGINT",
            self.pid()
        )))
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        // Already reaped (after `kill` or `finish`): `try_wait` answers from the cached status.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
