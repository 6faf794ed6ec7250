//! The gateway example against `redis-server`: requests per gateway CPU-second, and the
//! latency of one request against a back end that answers each query after a delay.
//!
//! ```text
//! cargo bench --bench gateway            # needs Debian's redis-server
//! ```
//!
//! Throughput: `redis-server` (core 1) holds 100 users with a 4-field hash and 10 orders each;
//! the gateway example (release build, one reactor, core 0) serves 32 client connections (one
//! thread each, core 1), each keeping 16 `USER <id>` requests in flight; every answer is
//! checked. The gateway's CPU time comes from `/proc/PID/stat` over a 5 s window.
//!
//! Latency: a back end (in this process) that answers every `HGETALL` and `LRANGE` 50 ms after
//! it arrives; one client sends `USER` requests one at a time. A gateway that sent the two
//! queries one after the other would take 100 ms a request.

#[path = "common/format.rs"]
mod format;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use turbine::{Decoder, ReadBuf, RespCodec};

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free port on loopback.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on `addr`.
fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the gateway example (release build) in front of `redis`, on core 0.
fn gateway(redis: SocketAddr) -> (Process, SocketAddr) {
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--example", "gateway"])
        .status()
        .expect("cargo");
    assert!(status.success());
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let child = Command::new("taskset")
        .args(["-c", "0", "target/release/examples/gateway"])
        .env("TURBINE_ADDR", addr.to_string())
        .env("TURBINE_REACTORS", "1")
        .env("GATEWAY_REDIS", redis.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the gateway");
    wait_listening(addr);
    (Process(child), addr)
}

/// One client connection: keeps `depth` requests in flight until `stop`, checking each
/// answer; counts answers.
fn client(
    addr: SocketAddr,
    depth: usize,
    seed: u64,
    stop: Arc<AtomicBool>,
    answers: Arc<AtomicU64>,
) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut next = seed;
    let mut request = |writer: &mut TcpStream| {
        next = (next * 6364136223846793005 + 1442695040888963407) % 100;
        writer
            .write_all(format!("USER {next}\n").as_bytes())
            .unwrap();
    };
    for _ in 0..depth {
        request(&mut writer);
    }
    while !stop.load(Ordering::Relaxed) {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return; // the gateway stopped
        }
        assert!(
            line.starts_with("{\"user\":{"),
            "unexpected answer {line:?}"
        );
        answers.fetch_add(1, Ordering::Relaxed);
        request(&mut writer);
    }
}

/// Requests per gateway CPU-second against a real `redis-server`.
fn throughput() {
    let redis_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let redis = Command::new("taskset")
        .args([
            "-c",
            "1",
            "redis-server",
            "--port",
            &redis_addr.port().to_string(),
        ])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    let Ok(redis) = redis else {
        println!("redis-server is missing (apt-get install redis-server): throughput skipped");
        return;
    };
    let _redis = Process(redis);
    wait_listening(redis_addr);
    let mut fill = String::new();
    for id in 0..100 {
        fill.push_str(&format!(
            "HSET user:{id} name n{id} city c{id} email e{id}@x age {id}\r\n"
        ));
        fill.push_str(&format!(
            "RPUSH orders:{id} o1 o2 o3 o4 o5 o6 o7 o8 o9 o10\r\n"
        ));
    }
    let mut conn = TcpStream::connect(redis_addr).unwrap();
    conn.write_all(fill.as_bytes()).unwrap();
    conn.write_all(b"PING\r\n").unwrap();
    let mut seen = Vec::new();
    let mut buf = [0; 4096];
    while !seen.ends_with(b"+PONG\r\n") {
        let n = conn.read(&mut buf).unwrap();
        seen.extend_from_slice(&buf[..n]);
    }
    let (gateway, addr) = gateway(redis_addr);
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(AtomicU64::new(0));
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let (stop, answers) = (Arc::clone(&stop), Arc::clone(&answers));
            std::thread::spawn(move || client(addr, 16, i, stop, answers))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1)); // warm-up
    let (cpu0, n0, t0) = (
        turbine_load::server_cpu_time(gateway.0.id()).expect("the gateway's CPU time"),
        answers.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(5));
    let (cpu1, n1, t1) = (
        turbine_load::server_cpu_time(gateway.0.id()).expect("the gateway's CPU time"),
        answers.load(Ordering::Relaxed),
        Instant::now(),
    );
    stop.store(true, Ordering::Relaxed);
    let requests = n1 - n0;
    let cpu = (cpu1 - cpu0).as_secs_f64();
    let window = (t1 - t0).as_secs_f64();
    println!("| requests/s | gateway CPU | requests per gateway CPU-second |");
    println!("|---:|---:|---:|");
    println!(
        "| {} | {:.0} % of a core | {} |",
        format::count(requests as f64 / window),
        cpu / window * 100.0,
        format::count(requests as f64 / cpu)
    );
    drop(gateway); // the clients see EOF and stop
    for c in clients {
        let _ = c.join();
    }
}

/// A RESP back end answering every query `delay` after it arrives.
fn slow_backend(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            std::thread::spawn(move || {
                let (due, pending) = mpsc::channel::<(Instant, &'static [u8])>();
                let mut writer = conn.try_clone().unwrap();
                std::thread::spawn(move || {
                    for (at, answer) in pending {
                        std::thread::sleep(at.saturating_duration_since(Instant::now()));
                        if writer.write_all(answer).is_err() {
                            return;
                        }
                    }
                });
                let mut reader = conn;
                let mut codec = RespCodec::new(1 << 20);
                let mut input = ReadBuf::new();
                let mut buf = [0; 4096];
                while let Ok(n) = reader.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    input.extend_from_slice(&buf[..n]);
                    while let Ok(Some(command)) = codec.decode(&mut input) {
                        let answer: &'static [u8] = if command.name() == b"HGETALL" {
                            b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
                        } else {
                            b"*1\r\n$1\r\no\r\n"
                        };
                        let _ = due.send((Instant::now() + delay, answer));
                    }
                }
            });
        }
    });
    addr
}

/// The latency of one request against a back end that answers each query after 50 ms.
fn latency() {
    let delay = Duration::from_millis(50);
    let (gateway, addr) = gateway(slow_backend(delay));
    let stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut times = Vec::new();
    for i in 0..21 {
        let began = Instant::now();
        writer.write_all(b"USER 1\n").unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("{\"user\""), "{line:?}");
        if i > 0 {
            times.push(began.elapsed()); // the first one also connects the back end
        }
    }
    times.sort();
    println!();
    println!(
        "| back end delay per query | one request: min | median | max | if sent one after the other |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {delay:?} | {:.1} ms | {:.1} ms | {:.1} ms | ≥ {:?} |",
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        delay * 2
    );
    drop(gateway);
}

fn main() {
    throughput();
    latency();
}
