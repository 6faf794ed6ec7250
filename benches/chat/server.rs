//! The chat server in a child process: this binary started with `--serve REACTORS`, running the
//! example's own handler and registry (compiled in with `#[path]`).

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;

use turbine::Server;

use crate::config;
use crate::member::Member;
use crate::registry::Registry;

/// The `--serve` mode: the chat on 127.0.0.1, any free port, with `reactors` reactors and
/// the example's defaults otherwise (`CHAT_OUTBUF_LIMIT` 4 MiB), until stdin closes.
pub(crate) fn serve(reactors: usize) -> ExitCode {
    let reactors = reactors.to_string();
    let vars = [
        ("TURBINE_ADDR", "127.0.0.1:0"),
        ("TURBINE_REACTORS", reactors.as_str()),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    let config = match config::from_vars(lookup) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("chat server: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let registry = Arc::new(Registry::new());
    let started = Server::bind(config)
        .and_then(|server| server.start(move |_peer| Member::new(Arc::clone(&registry))));
    let running = match started {
        Ok(running) => running,
        Err(e) => {
            eprintln!("chat server: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.local_addr());
    let _ = io::stdout().flush();
    // The parent holds our stdin; it closes when the parent is done with us or dies.
    let _ = io::copy(&mut io::stdin().lock(), &mut io::sink());
    // Exit without a graceful shutdown, which would wait for members that are gone.
    std::process::exit(0)
}

/// A chat server child process, killed and reaped on drop so none outlives the benchmark.
pub(crate) struct ServerChild {
    /// The process.
    child: Child,
    /// The write end of its stdin: the server runs until it closes.
    _stdin: Option<ChildStdin>,
    /// Where it listens, as it printed it.
    addr: SocketAddr,
}

impl ServerChild {
    /// Starts the chat with `reactors` reactors and waits for its `listening on ADDR` line.
    ///
    /// # Errors
    ///
    /// The process could not start, or closed its stdout without a valid address line.
    pub(crate) fn spawn(reactors: usize) -> io::Result<ServerChild> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", &reactors.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut server = ServerChild {
            child,
            _stdin: stdin,
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
                io::Error::other(format!("expected `listening on ADDR`, got {line:?}"))
            })?;
        Ok(server)
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
