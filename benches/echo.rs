//! Echo round trips over loopback: Turbine against tokio, side by side in one run.
//!
//! Four servers are started in this process, each on `127.0.0.1` port 0:
//!
//! - Turbine raw echo: [`RawCodec`], one reactor, every read's bytes sent straight back;
//! - Turbine line echo: [`LinesCodec`], one reactor, every line sent back with its `\n`;
//! - tokio raw echo: a `current_thread` runtime on its own thread, a `TcpListener` and one task
//!   per connection that reads into a 4 KiB buffer and `write_all`s what it read (the standard
//!   tokio echo example);
//! - tokio line echo: the same runtime setup, a task per connection that reads lines with
//!   `BufReader::read_line` and writes each back with its `\n`, batched into one `write_all`
//!   once the reader's buffer holds no further input (what Turbine does: one write per read).
//!
//! Every accepted socket gets `TCP_NODELAY` (Turbine's default; set by hand for tokio), and so
//! does the client's.
//!
//! The client is a blocking `std::net::TcpStream`, one connection per server, sending 64-byte
//! messages: 63 letters and a `\n`, so the same bytes are a valid raw payload and a valid line.
//! Two scenarios, each a criterion group with `turbine` and `tokio` as its two functions:
//!
//! - `ping_pong`: depth 1, write one message, read its 64-byte reply, repeat (latency bound:
//!   every message costs a full round trip through both processes' wakeups);
//! - `pipelined_16`: write 16 messages in one `write`, read until all 16 replies (1 KiB) are
//!   back.
//!
//! Each iteration checks the reply against what was sent (one `memcmp` of 64 bytes or 1 KiB).
//! Criterion reports time per iteration and, through `Throughput::Elements`, messages per
//! second; for `pipelined_16` the time per message is the iteration time divided by 16.
//!
//! Run it with:
//!
//! ```text
//! cargo bench --bench echo
//! cargo bench --bench echo -- lines/ping_pong   # one group only (a criterion filter)
//! ```
//!
//! The defaults (1 s warm-up, 3 s measurement, 20 samples per function) keep a full run near a
//! minute. Client and servers share the machine's cores, so the figures measure the whole
//! loopback round trip (client, kernel and server), not the server alone. Where the client and
//! the server thread land on different cores, each round trip pays two cross-core wake-ups,
//! which on a virtual machine can cost tens of microseconds and vary with the scheduler's
//! placement from one sample to the next. Pinning the whole process to one core measures the
//! CPU work per message instead, and is far steadier:
//!
//! ```text
//! taskset -c 0 cargo bench --bench echo
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use turbine::{Config, Running, Server};

/// Bytes per message, `\n` included.
const MESSAGE: usize = 64;
/// Messages in one pipelined write.
const DEPTH: usize = 16;

#[path = "common/echo_handlers.rs"]
mod echo_handlers;

use echo_handlers::{LineEcho, RawEcho};

/// Which echo a server runs.
#[derive(Clone, Copy)]
enum Framing {
    Raw,
    Lines,
}

/// A Turbine echo server with one reactor on `127.0.0.1:0`.
fn start_turbine(framing: Framing) -> io::Result<Running> {
    let config = Config::new()
        .addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .reactors(1);
    let server = Server::bind(config)?;
    match framing {
        Framing::Raw => server.start(|_peer| RawEcho),
        Framing::Lines => server.start(|_peer| LineEcho),
    }
}

/// A tokio echo server on `127.0.0.1:0`: a `current_thread` runtime on a thread of its own,
/// left running until the process exits.
fn start_tokio(framing: Framing) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::Builder::new()
        .name("tokio-echo".into())
        .spawn(move || runtime.block_on(tokio_serve(listener, framing)))?;
    Ok(addr)
}

/// Accepts connections for ever, one task each.
async fn tokio_serve(listener: std::net::TcpListener, framing: Framing) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let (stream, _peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        match framing {
            Framing::Raw => tokio::spawn(tokio_raw_echo(stream)),
            Framing::Lines => tokio::spawn(tokio_line_echo(stream)),
        };
    }
}

/// The tokio echo example: read into a buffer, write back what was read.
async fn tokio_raw_echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    let mut buf = vec![0; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Line echo with tokio's io-util: each line (validated UTF-8, like `LinesCodec`) goes back with
/// its `\n`; replies to the lines of one read leave in one write.
async fn tokio_line_echo(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    let (read, mut write) = stream.split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let content = line.strip_suffix('\n').unwrap_or(&line);
        out.extend_from_slice(content.as_bytes());
        out.push(b'\n');
        if reader.buffer().is_empty() {
            write.write_all(&out).await?;
            out.clear();
        }
    }
}

/// A blocking client connection that sends a fixed batch and checks its echo.
struct Client {
    stream: TcpStream,
    /// `depth` messages of 63 letters and a `\n`, each different.
    request: Vec<u8>,
    /// The reply being read.
    reply: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr, depth: usize) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let mut request = Vec::with_capacity(depth * MESSAGE);
        for m in 0..depth {
            request.extend((0..MESSAGE - 1).map(|i| b'a' + ((m * 7 + i) % 26) as u8));
            request.push(b'\n');
        }
        let reply = vec![0; request.len()];
        Ok(Client {
            stream,
            request,
            reply,
        })
    }

    /// Writes the batch in one `write_all`, reads until the whole echo is back and checks it.
    fn round_trip(&mut self) {
        self.stream.write_all(&self.request).expect("write");
        let mut got = 0;
        while got < self.reply.len() {
            match self.stream.read(&mut self.reply[got..]) {
                Ok(0) => panic!("server closed the connection"),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        assert!(self.reply == self.request, "echo differs from the request");
    }

    /// Times `iters` round trips.
    fn time(&mut self, iters: u64) -> Duration {
        let start = Instant::now();
        for _ in 0..iters {
            self.round_trip();
        }
        start.elapsed()
    }
}

/// One group per framing and depth, Turbine and tokio side by side.
fn bench_framing(c: &mut Criterion, framing: Framing, name: &str) {
    let turbine = start_turbine(framing).expect("start the Turbine server");
    let tokio = start_tokio(framing).expect("start the tokio server");
    for (scenario, depth) in [("ping_pong", 1), ("pipelined_16", DEPTH)] {
        let mut group = c.benchmark_group(format!("{name}/{scenario}"));
        group.throughput(Throughput::Elements(depth as u64));
        for (server, addr) in [("turbine", turbine.local_addr()), ("tokio", tokio)] {
            let mut client = Client::connect(addr, depth).expect("connect");
            client.round_trip(); // fail before measuring if the echo is wrong
            group.bench_function(server, |b| b.iter_custom(|iters| client.time(iters)));
        }
        group.finish();
    }
    turbine.shutdown().expect("shut the Turbine server down");
}

fn raw(c: &mut Criterion) {
    bench_framing(c, Framing::Raw, "raw");
}

fn lines(c: &mut Criterion) {
    bench_framing(c, Framing::Lines, "lines");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = raw, lines
}
criterion_main!(benches);
