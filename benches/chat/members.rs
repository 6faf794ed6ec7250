//! The room's members: 1,000 connections read on a few threads with mio, ten of which send
//! timestamped lines, paced by a window of messages not yet delivered to everyone; spread over
//! the instances of a cluster, member `i` on instance `i % instances`, with one probe per
//! instance to tell when every instance knows every member.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use turbine_load::Histogram;

/// How long the members may take to drain what was sent once sending stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting and reading every `joined` notice may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What the run looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Members in the room, senders included.
    pub members: usize,
    /// Members that send.
    pub senders: usize,
    /// Threads the members are spread over.
    pub threads: usize,
    /// Messages sent and not yet delivered to every other member, at most, over all senders.
    pub window: u64,
}

/// Counters every member thread shares.
struct Shared {
    /// Lines the room has received since the threads started (notices and messages).
    lines: AtomicU64,
    /// Messages sent.
    sent: AtomicU64,
    /// Messages delivered (one per member that received one).
    delivered: AtomicU64,
    /// Set by the main thread once every member is in the room everywhere: start sending.
    go: AtomicBool,
    /// Set by the main thread: stop sending, drain, and finish.
    stop: AtomicBool,
    /// Latencies are measured from here: a line carries its send time as nanoseconds since.
    epoch: Instant,
}

/// The members' threads, connected and past the `joined` notices, waiting to start.
pub(crate) struct Room {
    /// What the run looks like.
    shape: Shape,
    /// Counters shared with the threads.
    shared: Arc<Shared>,
    /// Released once to start sending.
    start: Arc<Barrier>,
    /// The member threads; each returns its latencies, or what went wrong.
    threads: Vec<JoinHandle<Result<Latencies, String>>>,
}

/// Send-to-delivery latencies in nanoseconds, by where the sender was.
#[derive(Default)]
pub(crate) struct Latencies {
    /// Sender and receiver on the same instance (every delivery, with one instance).
    pub within: Histogram,
    /// Sender and receiver on different instances: through Redis.
    pub across: Histogram,
}

impl Latencies {
    /// Adds `other`'s deliveries.
    fn merge(&mut self, other: &Latencies) {
        self.within.merge(&other.within);
        self.across.merge(&other.across);
    }

    /// Every delivery.
    pub(crate) fn all(&self) -> Histogram {
        let mut all = Histogram::new();
        all.merge(&self.within);
        all.merge(&self.across);
        all
    }
}

/// How [`Room::gather`] tells that every member is in the lobby, everywhere.
pub(crate) enum Ready {
    /// Every `joined` notice has arrived: on one server, each pair of members makes exactly one.
    Notices,
    /// Every probe's instance counts every member in the lobby. Across instances a pair may
    /// make two notices (each joined before hearing of the other) or one, so counting them
    /// says nothing.
    Probes(Vec<Probe>),
}

/// A client on one instance, outside the lobby, that asks `/rooms` until the lobby is full.
pub(crate) struct Probe {
    /// Buffered reads from its socket.
    reader: BufReader<TcpStream>,
    /// The same socket, for writing.
    writer: TcpStream,
}

/// The room the probes wait in: no room message reaches them there.
const PROBE_ROOM: &str = "bench-probes";

impl Probe {
    /// Connects to the instance at `addr` and leaves the lobby for a room of its own, before
    /// the members come.
    ///
    /// # Errors
    ///
    /// The connection failed, or the server said something unexpected, or nothing for 20 s.
    pub(crate) fn connect(addr: SocketAddr) -> io::Result<Probe> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut probe = Probe {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        };
        probe.reply("* welcome ")?;
        probe.writer.write_all(
            format!(
                "/join {PROBE_ROOM}
"
            )
            .as_bytes(),
        )?;
        probe.reply("* you joined ")?;
        Ok(probe)
    }

    /// Asks `/rooms` until its instance counts `members` in the lobby.
    ///
    /// # Errors
    ///
    /// The connection failed, or `deadline` passed first.
    fn wait_lobby(&mut self, members: usize, deadline: Instant) -> io::Result<()> {
        let full = format!("lobby({members})");
        loop {
            self.writer.write_all(
                b"/rooms
",
            )?;
            let rooms = self.reply("* rooms: ")?;
            if rooms.split_whitespace().any(|room| room == full) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("the lobby is not full: {rooms}")));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads lines until one starting with `prefix` (notices of other probes come too).
    fn reply(&mut self, prefix: &str) -> io::Result<String> {
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::other("a probe's connection closed"));
            }
            if line.starts_with(prefix) {
                return Ok(line.trim_end().to_string());
            }
            if line.starts_with("! ") {
                return Err(io::Error::other(format!("a probe got {line:?}")));
            }
        }
    }
}

/// What a run measured.
pub(crate) struct Outcome {
    /// Messages sent.
    pub sent: u64,
    /// Deliveries (a message received by one member).
    pub delivered: u64,
    /// From the start of sending to the last delivery.
    pub elapsed: Duration,
    /// Send-to-delivery latency of every delivery, in nanoseconds.
    pub latency: Latencies,
}

impl Room {
    /// Connects `shape.members` members to the chat at `addrs`, one after the other, member
    /// `i` to instance `i % addrs.len()`, and waits until `ready` says they are all in the lobby
    /// everywhere.
    ///
    /// # Errors
    ///
    /// A connection failed, or the members were not all in within a minute.
    pub(crate) fn gather(addrs: &[SocketAddr], shape: Shape, ready: Ready) -> io::Result<Room> {
        let shared = Arc::new(Shared {
            lines: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            go: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
        });
        let mut shares: Vec<Vec<Member>> = (0..shape.threads).map(|_| Vec::new()).collect();
        let every = shape.members / shape.senders;
        for i in 0..shape.members {
            let instance = i % addrs.len();
            let stream = TcpStream::connect(addrs[instance])?;
            stream.set_nodelay(true)?;
            shares[i % shape.threads].push(Member {
                stream,
                sends: i % every == 0,
                instance,
            });
        }
        let start = Arc::new(Barrier::new(shape.threads + 1));
        let threads = shares
            .into_iter()
            .enumerate()
            .map(|(t, share)| {
                let (shared, start) = (Arc::clone(&shared), Arc::clone(&start));
                thread::Builder::new()
                    .name(format!("chat-members-{t}"))
                    .spawn(move || run_members(share, &shared, &start, shape))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let deadline = Instant::now() + SETUP_TIMEOUT;
        let gathered = match ready {
            Ready::Notices => {
                // Every member gets its welcome; each pair gets one `joined` notice.
                let n = shape.members as u64;
                let setup_lines = n + n * (n - 1) / 2;
                loop {
                    if shared.lines.load(Relaxed) >= setup_lines {
                        break Ok(());
                    }
                    if Instant::now() > deadline {
                        break Err(io::Error::other(format!(
                            "{} of {setup_lines} welcome and joined lines arrived",
                            shared.lines.load(Relaxed)
                        )));
                    }
                    thread::sleep(Duration::from_millis(10));
                }
            }
            Ready::Probes(mut probes) => probes
                .iter_mut()
                .try_for_each(|probe| probe.wait_lobby(shape.members, deadline)),
        };
        if let Err(e) = gathered {
            shared.stop.store(true, Relaxed);
            return Err(e);
        }
        shared.go.store(true, Relaxed);
        Ok(Room {
            shape,
            shared,
            start,
            threads,
        })
    }

    /// Lets the senders send for `duration`, then waits until every message sent has reached
    /// every other member.
    ///
    /// # Errors
    ///
    /// A member thread failed (a connection closed, as for a member cut off as too slow), or
    /// messages were still missing after the drain timeout.
    pub(crate) fn run(self, duration: Duration) -> Result<Outcome, String> {
        self.start.wait();
        let started = Instant::now();
        thread::sleep(duration);
        self.shared.stop.store(true, Relaxed);
        let mut latency = Latencies::default();
        let mut failure = None;
        for thread in self.threads {
            match thread.join() {
                Ok(Ok(latencies)) => latency.merge(&latencies),
                Ok(Err(e)) => failure = Some(e),
                Err(_) => failure = Some("a member thread panicked".to_string()),
            }
        }
        let elapsed = started.elapsed();
        if let Some(e) = failure {
            return Err(e);
        }
        let sent = self.shared.sent.load(Relaxed);
        let delivered = self.shared.delivered.load(Relaxed);
        let expected = sent * (self.shape.members as u64 - 1);
        if delivered != expected {
            return Err(format!("{delivered} of {expected} deliveries"));
        }
        Ok(Outcome {
            sent,
            delivered,
            // The threads end once the last delivery is in, so this is sending plus draining.
            elapsed,
            latency,
        })
    }
}

/// One member as [`Room::gather`] hands it to its thread.
struct Member {
    /// Its connection.
    stream: TcpStream,
    /// Whether it is one of the senders.
    sends: bool,
    /// The instance it is connected to.
    instance: usize,
}

/// One member thread: reads its members' sockets, and sends for its senders while the window
/// allows; returns its deliveries' latencies.
fn run_members(
    share: Vec<Member>,
    shared: &Shared,
    start: &Barrier,
    shape: Shape,
) -> Result<Latencies, String> {
    let fanout = shape.members as u64 - 1;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    // Each member's socket, the start of a line still waiting for its `\n`, and its instance.
    let mut members = Vec::with_capacity(share.len());
    let mut senders = Vec::new();
    for (i, member) in share.into_iter().enumerate() {
        member
            .stream
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        let mut stream = MioStream::from_std(member.stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)
            .map_err(|e| e.to_string())?;
        members.push((stream, Vec::new(), member.instance));
        if member.sends {
            senders.push(i);
        }
    }
    let mut events = Events::with_capacity(1024);
    let mut latency = Latencies::default();
    let mut buf = vec![0; 64 << 10];
    // Until the start: read the welcome and joined notices, counting lines.
    let mut started = false;
    let mut seq = 0u64;
    let mut next_sender = 0;
    let mut drain_deadline = None;
    // An edge may have passed before registration: read every socket once first.
    let mut ready: Vec<usize> = (0..members.len()).collect();
    loop {
        let mut lines = 0;
        let mut delivered = 0;
        for &i in &ready {
            let (stream, pending, here) = &mut members[i];
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) => return Err(format!("member {i}: the server closed the connection")),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("member {i}: {e}")),
                };
                let now = shared.epoch.elapsed().as_nanos() as u64;
                let mut chunk = &buf[..n];
                while let Some(at) = chunk.iter().position(|&b| b == b'\n') {
                    pending.extend_from_slice(&chunk[..at]);
                    lines += 1;
                    if let Some((from, sent_at)) = send_time(pending) {
                        let trip = now.saturating_sub(sent_at);
                        if from == *here {
                            latency.within.record(trip);
                        } else {
                            latency.across.record(trip);
                        }
                        delivered += 1;
                    }
                    pending.clear();
                    chunk = &chunk[at + 1..];
                }
                pending.extend_from_slice(chunk);
            }
        }
        shared.lines.fetch_add(lines, Relaxed);
        shared.delivered.fetch_add(delivered, Relaxed);
        if !started && shared.stop.load(Relaxed) {
            return Err("setup failed".to_string()); // `gather` gave up
        }
        if !started && shared.go.load(Relaxed) {
            start.wait();
            started = true;
        }
        if started && !shared.stop.load(Relaxed) {
            // Send while fewer than `window` messages are on their way, round robin over this
            // thread's senders; the other threads' senders take from the same window.
            while !senders.is_empty() {
                let sent = shared.sent.load(Relaxed);
                let delivered = shared.delivered.load(Relaxed);
                if sent * fanout >= delivered + shape.window * fanout {
                    break;
                }
                shared.sent.fetch_add(1, Relaxed);
                let now = shared.epoch.elapsed().as_nanos() as u64;
                let (stream, _, here) = &mut members[senders[next_sender]];
                let line = format!("{seq} {here} {now}\n");
                seq += 1;
                next_sender = (next_sender + 1) % senders.len();
                write_all(stream, line.as_bytes())?;
            }
        } else if started {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_TIMEOUT);
            if shared.delivered.load(Relaxed) >= shared.sent.load(Relaxed) * fanout {
                return Ok(latency);
            }
            if Instant::now() > deadline {
                return Err("messages still missing after the drain timeout".to_string());
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(1)))
            .map_err(|e| e.to_string())?;
        ready.clear();
        ready.extend(events.iter().map(|e| e.token().0));
    }
}

/// The sender's instance and the send time a room message carries (`<nick>: <seq> <instance>
/// <nanoseconds>`); `None` for a notice.
fn send_time(line: &[u8]) -> Option<(usize, u64)> {
    if line.starts_with(b"* ") {
        return None;
    }
    let mut fields = std::str::from_utf8(line).ok()?.rsplit(' ');
    let sent_at = fields.next()?.parse().ok()?;
    let instance = fields.next()?.parse().ok()?;
    Some((instance, sent_at))
}

/// Writes all of `bytes` to a non-blocking socket, waiting briefly while it is full (a sender's
/// own socket holds only its short lines: it practically never is).
fn write_all(stream: &mut MioStream, mut bytes: &[u8]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::yield_now();
            }
            Err(e) => return Err(format!("send: {e}")),
        }
    }
    Ok(())
}
