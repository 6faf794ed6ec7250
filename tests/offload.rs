//! The `offload` example over real loopback sockets: the protocol and its check value, reply
//! order, `ERR busy` from a full worker queue, a panicking job, a connection gone while its job
//! runs, and the exit code for a bad `OFFLOAD_*` value.
//!
//! The example's handler runs in this process (the example is included as a module), so the
//! tests can read the server's and the pool's counters.

mod util;

#[allow(dead_code)] // the example's `main` and what only it uses
#[path = "../examples/offload.rs"]
mod offload_example;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use offload_example::{Offload, Settings, offload_reply};
use turbine::{ByteLinesCodec, Config, Context, Handler, LinesCodec, PoolStats, Running};
use util::{config, connect, start, wait_until};

/// The spec's check value: `HASH password`, salt `salt`, 1 iteration.
const CHECK: &str = "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252\
                     c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce";

/// How long a test waits for counters to settle.
const SETTLE: Duration = Duration::from_secs(20);

/// Salt `salt`, `iterations` iterations, hashed on the pool.
fn settings(iterations: u32) -> Arc<Settings> {
    Arc::new(Settings {
        salt: "salt".to_string(),
        iterations,
        inline: false,
    })
}

/// Iterations that make one hash take about `target` in this build on this machine (at least
/// 20,000): long enough to observe a job while it runs, whatever the profile.
fn slow_iterations(target: Duration) -> u32 {
    const PROBE: u32 = 2_000;
    let start = Instant::now();
    settings(PROBE).hash(b"calibration");
    let per_iteration = start.elapsed().as_nanos() / u128::from(PROBE);
    let iterations = target.as_nanos() / per_iteration.max(1);
    iterations.clamp(20_000, 10_000_000) as u32
}

/// Starts the example's handler with `settings` on a server built from `config`.
fn serve(config: Config, settings: &Arc<Settings>) -> Running {
    let settings = Arc::clone(settings);
    start(config, move |_peer| Offload::new(Arc::clone(&settings)))
}

/// Reads one reply line, without its `\n`.
fn read_reply(reader: &mut impl BufRead) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).expect("read a reply");
    assert!(line.ends_with('\n'), "connection ended mid-reply: {line:?}");
    line.pop();
    line
}

/// The pool's counters (the pool has started once a job was offloaded).
fn pool(running: &Running) -> PoolStats {
    running.pool_stats().expect("the pool has started")
}

/// Whether the pool has started and runs a job now.
fn job_running(running: &Running) -> bool {
    running.pool_stats().is_some_and(|pool| pool.running == 1)
}

/// The spec's check value comes back over a socket, with `\r\n` line endings too, alongside
/// `PING` and an unknown command.
#[test]
fn check_value_over_a_socket() {
    let running = serve(config().workers(2), &settings(1));
    let mut client = connect(running.local_addr());
    client
        .write_all(b"HASH password\nPING\r\nHASH password\r\nNOPE\n")
        .unwrap();
    let mut replies = BufReader::new(client);
    assert_eq!(read_reply(&mut replies), CHECK);
    assert_eq!(read_reply(&mut replies), "PONG");
    assert_eq!(read_reply(&mut replies), CHECK);
    assert_eq!(read_reply(&mut replies), "ERR unknown command");
}

/// Fifty pipelined requests mixing slow hashes, cheap hashes, PING and unknown commands, sent in
/// one write, are answered in request order, each with the right reply.
#[test]
fn pipelined_mix_keeps_request_order() {
    let settings = settings(2_000);
    let running = serve(config().workers(2), &settings);
    let mut requests = String::new();
    let mut want = Vec::new();
    for i in 0..50 {
        let (request, reply) = match i % 4 {
            0 | 2 => (
                format!("HASH request {i}"),
                settings.hash(format!("request {i}").as_bytes()),
            ),
            1 => ("PING".to_string(), "PONG".to_string()),
            _ => (format!("UNKNOWN {i}"), "ERR unknown command".to_string()),
        };
        requests.push_str(&request);
        requests.push('\n');
        want.push(reply);
    }
    let mut client = connect(running.local_addr());
    client.write_all(requests.as_bytes()).unwrap();
    let mut replies = BufReader::new(client);
    for (i, want) in want.iter().enumerate() {
        assert_eq!(&read_reply(&mut replies), want, "reply {i}");
    }
    assert!(wait_until(SETTLE, || running.stats().total().offloads == 0));
}

/// 2 workers, queue 8, 100 connections each sending one HASH at once: the excess get `ERR busy`
/// immediately (every busy reply arrives before the first hash is done), the accepted ones (2
/// running and 8 queued at most) all get correct hashes, and the pool counts the refusals.
#[test]
fn full_queue_answers_busy_at_once() {
    const CLIENTS: usize = 100;
    let settings = settings(slow_iterations(Duration::from_millis(200)));
    let running = serve(config().workers(2).worker_queue(8), &settings);
    let clients: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| connect(running.local_addr()))
        .collect();
    // Connected first, then all requests in one burst: they reach the server within
    // milliseconds, far less than one job takes.
    for (i, mut client) in clients.iter().enumerate() {
        client
            .write_all(format!("HASH client {i}\n").as_bytes())
            .unwrap();
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            std::thread::spawn(move || {
                let reply = read_reply(&mut BufReader::new(client));
                (Instant::now(), reply)
            })
        })
        .collect();
    let replies: Vec<(Instant, String)> = readers
        .into_iter()
        .map(|reader| reader.join().expect("reader thread"))
        .collect();

    let busy: Vec<Instant> = replies
        .iter()
        .filter(|(_, reply)| reply == "ERR busy")
        .map(|(at, _)| *at)
        .collect();
    let first_hash = replies
        .iter()
        .filter(|(_, reply)| reply != "ERR busy")
        .map(|(at, _)| *at)
        .min()
        .expect("some requests were accepted");
    let accepted = CLIENTS - busy.len();
    assert!(
        (8..=10).contains(&accepted),
        "accepted {accepted}: expected the 8 queued and up to 2 taken by workers"
    );
    assert!(
        busy.iter().all(|at| *at < first_hash),
        "a busy reply came after the first hash"
    );
    for (i, (_, reply)) in replies.iter().enumerate() {
        if reply != "ERR busy" {
            assert_eq!(
                reply,
                &settings.hash(format!("client {i}").as_bytes()),
                "client {i}"
            );
        }
    }
    assert!(wait_until(SETTLE, || pool(&running).completed == accepted as u64));
    assert_eq!(pool(&running).rejected, busy.len() as u64);
}

/// On one connection a busy reply keeps its place: twelve pipelined HASH requests against
/// 2 workers and a queue of 2 get their hashes and `ERR busy` in request order, the busy ones
/// waiting behind the hashes asked before them, and the PING sent last comes last.
#[test]
fn busy_reply_waits_behind_earlier_hashes() {
    let settings = settings(slow_iterations(Duration::from_millis(100)));
    let running = serve(config().workers(2).worker_queue(2), &settings);
    let mut client = connect(running.local_addr());
    let requests: String = (0..12).map(|i| format!("HASH {i}\n")).collect();
    client
        .write_all(format!("{requests}PING\n").as_bytes())
        .unwrap();
    let mut replies = BufReader::new(client);
    // The first request always finds room; at most 2 running and 2 queued fit.
    assert_eq!(read_reply(&mut replies), settings.hash(b"0"));
    let mut busy = 0;
    for i in 1..12 {
        match read_reply(&mut replies) {
            reply if reply == "ERR busy" => busy += 1,
            reply => assert_eq!(
                reply,
                settings.hash(i.to_string().as_bytes()),
                "request {i}"
            ),
        }
    }
    assert!(busy >= 8, "only {busy} of 12 were busy");
    assert_eq!(read_reply(&mut replies), "PONG");
}

/// The example's protocol plus `BOOM`, which offloads a job that panics through the example's
/// own offload path (`offload_reply`); not part of the public protocol.
struct Boom {
    /// Salt and iterations for `HASH`.
    settings: Arc<Settings>,
}

impl Handler for Boom {
    type Codec = ByteLinesCodec;

    fn codec(&mut self, config: &Config) -> ByteLinesCodec {
        ByteLinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: Vec<u8>) {
        if line == b"BOOM" {
            offload_reply(ctx, || panic!("BOOM requested by the test"));
        } else if let Some(text) = line.strip_prefix(b"HASH ") {
            let settings = Arc::clone(&self.settings);
            let text = text.to_vec();
            offload_reply(ctx, move || settings.hash(&text));
        }
    }
}

/// A job that panics is answered `ERR internal`; the pool still has all its threads, and the
/// next 1,000 jobs (4 connections of 250 pipelined cheap hashes) all succeed.
#[test]
fn panicking_job_answers_internal_and_the_pool_recovers() {
    let settings = settings(1);
    let boom_settings = Arc::clone(&settings);
    let running = start(config().workers(2).worker_queue(1024), move |_peer| Boom {
        settings: Arc::clone(&boom_settings),
    });
    let mut client = connect(running.local_addr());
    client.write_all(b"BOOM\n").unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&client)), "ERR internal");
    // The pool counts a panic before it reports it, so the count is there with the reply.
    let after = pool(&running);
    assert_eq!((after.panicked, after.workers), (1, 2), "{after:?}");

    let clients: Vec<_> = (0..4)
        .map(|c| {
            let addr = running.local_addr();
            let settings = Arc::clone(&settings);
            std::thread::spawn(move || {
                let mut client = connect(addr);
                let requests: String = (0..250).map(|i| format!("HASH {c}-{i}\n")).collect();
                client.write_all(requests.as_bytes()).unwrap();
                let mut replies = BufReader::new(client);
                for i in 0..250 {
                    let text = format!("{c}-{i}");
                    assert_eq!(
                        read_reply(&mut replies),
                        settings.hash(text.as_bytes()),
                        "{text}"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client saw a wrong reply");
    }
    // A job that returns is counted once its report has run, so the count may trail the reply.
    assert!(wait_until(SETTLE, || pool(&running).completed == 1_000));
    let stats = pool(&running);
    assert_eq!((stats.panicked, stats.workers), (1, 2), "{stats:?}");
    assert_eq!(stats.rejected, 0);
}

/// Waits until the server has no connection and no pending result, and the pool is idle with
/// `completed` jobs done; panics with the counters otherwise.
fn assert_settles(running: &Running, completed: u64) {
    let settled = wait_until(SETTLE, || {
        let total = running.stats().total();
        let pool = pool(running);
        total.open == 0
            && total.offloads == 0
            && pool.queued == 0
            && pool.running == 0
            && pool.completed == completed
    });
    assert!(
        settled,
        "not settled: {:?}, {:?}",
        running.stats().total(),
        running.pool_stats()
    );
}

/// A connection reset while its job runs: the connection is closed at once, the finished job's
/// result is dropped (no reply is attempted: nothing is written to anyone), and nothing leaks
/// (no open connection, no pending result, an idle pool).
#[test]
fn reset_while_job_runs_gets_no_reply_and_leaks_nothing() {
    let settings = settings(slow_iterations(Duration::from_millis(300)));
    let running = serve(config().reactors(1).workers(2), &settings);
    let client = connect(running.local_addr());
    (&client).write_all(b"HASH slow\n").unwrap();
    assert!(wait_until(SETTLE, || job_running(&running)));
    // Linger 0: close sends RST, so the server cannot take it for a half-close.
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    assert!(wait_until(SETTLE, || running.stats().total().open == 0));
    assert_eq!(pool(&running).running, 1, "the job outlived its connection");
    assert_settles(&running, 1);

    // A PING on the same reactor after the result arrived: the reactor has drained its mailbox,
    // and the PONG is the only frame it ever wrote.
    let mut client = connect(running.local_addr());
    client.write_all(b"PING\n").unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&client)), "PONG");
    assert!(wait_until(SETTLE, || running.stats().total().frames_out == 1));
    let total = running.stats().total();
    assert_eq!((total.frames_out, total.bytes_out), (1, 5), "{total:?}");
}

/// A connection closed normally (FIN) while its job runs: the server cannot tell it from a
/// half-close, so it waits for the job and writes its reply before closing; then nothing leaks.
#[test]
fn close_while_job_runs_leaks_nothing() {
    let settings = settings(slow_iterations(Duration::from_millis(300)));
    let running = serve(config().reactors(1).workers(2), &settings);
    let mut client = connect(running.local_addr());
    client.write_all(b"HASH slow\n").unwrap();
    assert!(wait_until(SETTLE, || job_running(&running)));
    drop(client);
    assert_settles(&running, 1);
}

/// A bad `OFFLOAD_*` value stops the example before it binds, with exit code 2 and a message
/// naming the variable, the value and what is accepted.
#[test]
fn bad_setting_exits_with_code_2() {
    let cases = [
        (
            "OFFLOAD_ITERATIONS",
            "lots",
            "a whole number from 1 to 10000000",
        ),
        ("OFFLOAD_INLINE", "2", "1, 0, true or false"),
    ];
    for (var, value, expected) in cases {
        let mut child = Command::new(util::example_binary("offload"))
            .env_clear()
            .env("TURBINE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .env(var, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the offload example (built by `cargo test`)");
        let exited = wait_until(SETTLE, || child.try_wait().unwrap().is_some());
        if !exited {
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(
            stderr.contains(&format!("{var}={value:?}: expected {expected}")),
            "{stderr}"
        );
        assert!(!stderr.contains("listening on"), "{stderr}");
    }
}

/// The example as a process: `TURBINE_ADDR` moves it, `OFFLOAD_SALT` and `OFFLOAD_ITERATIONS`
/// set the hash (the check value comes back), and SIGTERM stops it with exit code 0.
#[test]
fn example_process_serves_and_stops() {
    let mut child = Command::new(util::example_binary("offload"))
        .env_clear()
        .env("TURBINE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .env("OFFLOAD_SALT", "salt")
        .env("OFFLOAD_ITERATIONS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the offload example (built by `cargo test`)");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let port = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            panic!("no `listening on` line; stderr: {log}");
        }
        log.push_str(&line);
        if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break digits.parse::<u16>().expect("a port");
        }
    };
    assert_ne!(
        port, 7880,
        "TURBINE_ADDR was ignored: it listens on the default"
    );
    // Keep draining stderr so the server never blocks on a full pipe.
    let drain = std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let mut client = connect(SocketAddr::from(([127, 0, 0, 1], port)));
    client.write_all(b"PING\nHASH password\n").unwrap();
    let mut replies = BufReader::new(&client);
    assert_eq!(read_reply(&mut replies), "PONG");
    assert_eq!(read_reply(&mut replies), CHECK);
    drop(replies);
    drop(client);
    util::kill(child.id(), "TERM");
    let exited = wait_until(SETTLE, || child.try_wait().unwrap().is_some());
    if !exited {
        let _ = child.kill();
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let _ = drain.join();
}

/// A protocol whose jobs the test controls: `block <k>` offloads a job that says it started,
/// then waits for the test's release, and answers `released <k>`; `square <n>` offloads
/// `n * n` and answers `pooled <n²>`, or, when the worker queue is full, runs the job it is
/// handed back itself and answers `inline <n²>`.
struct Blocking {
    /// Where a `block` job says it started, with its `k`.
    started: std::sync::mpsc::Sender<u64>,
    /// What each `block` job waits for, in order.
    releases: std::collections::VecDeque<std::sync::mpsc::Receiver<()>>,
    /// Jobs refused with `Busy`.
    busy: usize,
}

impl Handler for Blocking {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let (command, n) = line.split_once(' ').expect("a command and a number");
        let n: u64 = n.parse().expect("a number");
        match command {
            "block" => {
                let started = self.started.clone();
                let release = self.releases.pop_front().expect("a release for each block");
                let job = move || {
                    let _ = started.send(n);
                    // Bounded, so that a failing test cannot hold the worker for ever.
                    let _ = release.recv_timeout(Duration::from_secs(10));
                    n
                };
                let offloaded = ctx.offload(job, |_, ctx, result| match result {
                    Ok(k) => ctx.send(format!("released {k}")),
                    Err(_) => ctx.send("ERR internal"),
                });
                if offloaded.is_err() {
                    ctx.send("ERR not offloaded");
                }
            }
            "square" => {
                let job = move || n * n;
                let offloaded = ctx.offload(job, |_, ctx, result| match result {
                    Ok(square) => ctx.send(format!("pooled {square}")),
                    Err(_) => ctx.send("ERR internal"),
                });
                match offloaded {
                    Ok(()) => {}
                    Err(turbine::OffloadError::Busy(job)) => {
                        self.busy += 1;
                        ctx.send(format!("inline {}", job()));
                    }
                    Err(other) => {
                        let job = other.into_job();
                        ctx.send(format!("ERR unavailable (job would give {})", job()));
                    }
                }
            }
            _ => ctx.send("ERR unknown command"),
        }
    }
}

/// One worker and `worker_queue(1)`: with one job running and one queued, `offload` answers
/// `Busy` and hands the job back; the handler runs it itself and its correct answer keeps its
/// place in request order (after the queued job's). Once the blocked jobs are released, the
/// pool takes jobs again.
#[test]
fn busy_hands_the_job_back_to_run_inline() {
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, releases): (Vec<_>, std::collections::VecDeque<_>) =
        (0..2).map(|_| std::sync::mpsc::channel()).unzip();
    let handler = Blocking {
        started: started_tx,
        releases,
        busy: 0,
    };
    let mut conn =
        turbine::TestConnection::with_config(handler, Config::new().workers(1).worker_queue(1));
    fn lines(conn: &mut turbine::TestConnection<Blocking>) -> Vec<String> {
        conn.take_frames(&mut LinesCodec::new(1024)).unwrap()
    }

    conn.push(b"block 1\n");
    let first = started.recv_timeout(Duration::from_secs(10));
    assert_eq!(first, Ok(1), "the first job runs on the only worker");
    conn.push(b"block 2\n"); // takes the queue's one place
    conn.push(b"square 7\n");
    assert_eq!(conn.handler().busy, 1, "the third job is refused as busy");
    assert!(
        lines(&mut conn).is_empty(),
        "the inline answer waits behind the replies of the jobs before it"
    );

    for release in &release {
        release.send(()).unwrap();
    }
    assert!(conn.finish_offloads(Duration::from_secs(10)), "jobs done");
    assert_eq!(lines(&mut conn), ["released 1", "released 2", "inline 49"]);

    conn.push(b"square 8\n");
    assert!(conn.finish_offloads(Duration::from_secs(10)), "job done");
    assert_eq!(lines(&mut conn), ["pooled 64"]);
    assert_eq!(conn.handler().busy, 1);
}

/// Cheap requests stay fast while the pool is saturated: with both workers hashing and two
/// more hashes queued, a `PING` on the same reactor is answered `PONG` before any hash is done.
#[test]
fn ping_is_answered_while_the_pool_is_saturated() {
    let settings = settings(slow_iterations(Duration::from_millis(500)));
    let running = serve(config().reactors(1).workers(2).worker_queue(8), &settings);
    let mut hasher = connect(running.local_addr());
    hasher
        .write_all(b"HASH a\nHASH b\nHASH c\nHASH d\n")
        .unwrap();
    assert!(wait_until(SETTLE, || running
        .pool_stats()
        .is_some_and(|p| p.running == 2 && p.queued == 2)));
    let pinger = connect(running.local_addr());
    (&pinger).write_all(b"PING\n").unwrap();
    assert_eq!(read_reply(&mut BufReader::new(&pinger)), "PONG");
    assert_eq!(
        pool(&running).completed,
        0,
        "a hash finished before the PONG: not shown with the pool saturated"
    );
    let mut replies = BufReader::new(&hasher);
    for _ in 0..4 {
        assert_eq!(read_reply(&mut replies).len(), 128);
    }
}

/// The text of a `HASH` is the bytes after the space, UTF-8 or not: bytes that are not UTF-8
/// are hashed like any others, on the same connection (nothing is refused or closed).
#[test]
fn hash_text_is_bytes() {
    let settings = settings(1);
    let running = serve(config().reactors(1), &settings);
    let mut client = connect(running.local_addr());
    client.write_all(b"HASH caf\xe9\nPING\n").unwrap();
    let mut replies = BufReader::new(&client);
    assert_eq!(read_reply(&mut replies), settings.hash(b"caf\xe9"));
    assert_eq!(read_reply(&mut replies), "PONG");
}
