//! `Server`: the `offload` example in a child process, and what its worker threads run at.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the server may take to print its address, and to exit after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(20);

/// Builds the example with the profile of this bench (`cargo build --release --example offload`)
/// and returns its path, `target/<profile>/examples/offload` next to this binary's `deps/`.
///
/// # Errors
///
/// Cargo could not run or failed; the binary is not where it should be.
pub(crate) fn build_example() -> io::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let status = Command::new(cargo)
        .args(["build", "--release", "--example", "offload"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "cargo build --release --example offload: {status}"
        )));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| io::Error::other("this bench does not lie in target/<profile>/deps"))?;
    let path = profile_dir
        .join("examples")
        .join(format!("offload{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        return Err(io::Error::other(format!("{} is missing", path.display())));
    }
    Ok(path)
}

/// The example running in a child process; stopped with SIGTERM (killed if it lingers) when
/// dropped, so none outlives the bench unless the bench itself is killed.
pub(crate) struct Server {
    /// The process.
    child: Child,
    /// Where it listens.
    addr: SocketAddr,
    /// Reads its stderr to the end, so it never blocks on a full pipe; yields the lines.
    log: Option<JoinHandle<Vec<String>>>,
}

impl Server {
    /// Starts `exe` on 127.0.0.1 port 0 with one reactor, two workers and `env` on top, and
    /// waits for its `listening on` line.
    ///
    /// # Errors
    ///
    /// The process could not start, or printed no address in time.
    pub(crate) fn spawn(exe: &PathBuf, env: &[(&str, &str)]) -> io::Result<Server> {
        let mut child = Command::new(exe)
            .env_clear()
            .env("TURBINE_ADDR", "127.0.0.1:0")
            .env("TURBINE_REACTORS", "1")
            .env("TURBINE_WORKERS", "2")
            // The pool says at debug level whether the system refused the priority.
            .env("RUST_LOG", "info,turbine_pool=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = mpsc::channel();
        let log = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line.clone());
                lines.push(line);
            }
            lines
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: Some(log),
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .map_err(|_| io::Error::other("the server printed no `listening on` line"))?;
            if let Some(addr) = line
                .split("listening on ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|addr| addr.parse().ok())
            {
                server.addr = addr;
                return Ok(server);
            }
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Scheduling policy and nice value of each worker thread, from `/proc/PID/task/*/stat`,
    /// such as `batch/10`; `?` where it cannot be read.
    pub(crate) fn worker_priority(&self) -> String {
        let dir = format!("/proc/{}/task", self.child.id());
        let mut found: Vec<(String, String)> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|task| {
                let comm = fs::read_to_string(task.path().join("comm")).ok()?;
                let comm = comm.trim();
                if !comm.starts_with("turbine-worker") {
                    return None;
                }
                let stat = fs::read_to_string(task.path().join("stat")).ok()?;
                // Fields after the parenthesised name: nice is field 19, policy field 41.
                let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
                let nice = fields.get(16)?;
                let policy = match *fields.get(38)? {
                    "0" => "other",
                    "3" => "batch",
                    "5" => "idle",
                    other => other,
                };
                Some((comm.to_string(), format!("{policy}/{nice}")))
            })
            .collect();
        found.sort();
        found.dedup_by(|a, b| a.1 == b.1);
        if found.is_empty() {
            return "?".to_string();
        }
        found
            .into_iter()
            .map(|(_, p)| p)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Stops the server with SIGTERM and returns its stderr lines.
    pub(crate) fn stop(mut self) -> Vec<String> {
        self.terminate();
        self.log
            .take()
            .and_then(|log| log.join().ok())
            .unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL if it has not exited in time; reaps it.
    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + PATIENCE;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}
