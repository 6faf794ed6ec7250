//! Per-connection timers (`Context::set_timer`, `Context::cancel_timer`, `Handler::on_timer`):
//! in memory with a clock the test moves, then over real sockets.

mod util;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use turbine::{
    CloseReason, Config, Context, Handler, LinesCodec, MAX_TIMERS, TestConnection, TimerError,
    TimerId,
};
use util::{config, connect, start, wait_until};

/// A line protocol over timers:
///
/// - `after <ms> <tag>`: sets a timer, answers `set <tag>` or `err <why>`;
/// - `cancel <tag>`: cancels the timer set with that tag, answers `cancelled <tag>` or
///   `gone <tag>` (already fired or cancelled);
/// - `close`: closes, then tries to set one more timer and answers `err <why>` (or `set`);
///
/// and, when a timer fires, `fired <tag>`.
#[derive(Default)]
struct Timed {
    /// The timers set, by tag.
    ids: HashMap<u64, TimerId>,
    /// Tags of the timers that fired, in order.
    fired: Vec<u64>,
    /// `on_timer` calls, seen from outside the reactor.
    calls: Arc<AtomicUsize>,
    /// Why the connection closed.
    closed: Vec<CloseReason>,
}

impl Timed {
    /// A handler counting its `on_timer` calls in `calls`.
    fn counting(calls: &Arc<AtomicUsize>) -> Self {
        Timed {
            calls: Arc::clone(calls),
            ..Timed::default()
        }
    }
}

/// What `set_timer` said, as a reply line.
fn set_reply(result: Result<TimerId, TimerError>, tag: u64) -> String {
    match result {
        Ok(_) => format!("set {tag}"),
        Err(TimerError::TooMany) => "err too many".to_string(),
        Err(TimerError::Closing) => "err closing".to_string(),
        Err(other) => format!("err {other}"),
    }
}

impl Handler for Timed {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["after", ms, tag] => {
                let (Ok(ms), Ok(tag)) = (ms.parse(), tag.parse()) else {
                    return ctx.send("err syntax");
                };
                let result = ctx.set_timer(Duration::from_millis(ms), tag);
                if let Ok(id) = result {
                    self.ids.insert(tag, id);
                }
                ctx.send(set_reply(result, tag));
            }
            ["cancel", tag] => {
                let Ok(tag) = tag.parse() else {
                    return ctx.send("err syntax");
                };
                let cancelled = self.ids.get(&tag).is_some_and(|&id| ctx.cancel_timer(id));
                ctx.send(if cancelled {
                    format!("cancelled {tag}")
                } else {
                    format!("gone {tag}")
                });
            }
            ["close"] => {
                ctx.close();
                let result = ctx.set_timer(Duration::from_millis(1), 999);
                ctx.send(set_reply(result, 999));
            }
            _ => ctx.send("err unknown"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, tag: u64) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.fired.push(tag);
        ctx.send(format!("fired {tag}"));
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        self.closed.push(reason);
    }
}

/// `n` milliseconds.
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the test connection wrote since the last call, as lines.
fn lines(conn: &mut TestConnection<Timed>) -> Vec<String> {
    conn.take_frames(&mut LinesCodec::new(1024)).unwrap()
}

// ----- in memory --------------------------------------------------------------------------------

/// Timers set out of order fire in time order, each once, with their own tags; none fires
/// before its time (one millisecond early is not enough), and one fires exactly at its time.
#[test]
fn timers_fire_in_time_order_once_each() {
    let mut conn = TestConnection::new(Timed::default());
    conn.push(b"after 30 3\nafter 10 1\nafter 20 2\nafter 40 4\n");
    assert_eq!(lines(&mut conn), ["set 3", "set 1", "set 2", "set 4"]);

    conn.advance(ms(9));
    assert!(lines(&mut conn).is_empty(), "a timer fired early");
    conn.advance(ms(1));
    assert_eq!(lines(&mut conn), ["fired 1"]);
    conn.advance(ms(25)); // past 20 and 30 in one step: both fire, in time order
    assert_eq!(lines(&mut conn), ["fired 2", "fired 3"]);
    conn.advance(ms(100));
    assert_eq!(lines(&mut conn), ["fired 4"]);
    conn.advance(Duration::from_secs(10));
    assert!(lines(&mut conn).is_empty(), "a timer fired twice");
    assert_eq!(conn.handler().fired, [1, 2, 3, 4]);
    assert!(!conn.is_closed());
}

/// A cancelled timer never fires, and cancelling it again, or cancelling one that already
/// fired, reports that it is gone.
#[test]
fn cancelled_timer_never_fires() {
    let mut conn = TestConnection::new(Timed::default());
    conn.push(b"after 10 1\nafter 20 2\nafter 30 3\ncancel 2\ncancel 2\n");
    assert_eq!(
        lines(&mut conn),
        ["set 1", "set 2", "set 3", "cancelled 2", "gone 2"]
    );
    conn.advance(ms(15));
    assert_eq!(lines(&mut conn), ["fired 1"]);
    conn.push(b"cancel 1\n");
    assert_eq!(lines(&mut conn), ["gone 1"]);
    conn.advance(ms(100));
    assert_eq!(lines(&mut conn), ["fired 3"]);
    assert_eq!(conn.handler().fired, [1, 3]);
}

/// `MAX_TIMERS` pending timers are allowed and one more is refused with `TooMany`; the bound
/// counts pending timers only, so a cancelled or fired one makes room again.
#[test]
fn one_timer_past_the_bound_is_refused() {
    let mut conn = TestConnection::new(Timed::default());
    let max = MAX_TIMERS as u64;
    let mut input = String::new();
    for tag in 0..=max {
        input.push_str(&format!("after 100 {tag}\n"));
    }
    conn.push(input.as_bytes());
    let replies = lines(&mut conn);
    let expected: Vec<String> = (0..max).map(|tag| format!("set {tag}")).collect();
    assert_eq!(replies[..MAX_TIMERS], expected[..]);
    assert_eq!(replies[MAX_TIMERS..], ["err too many"]);

    // A cancel makes room for one, and only one.
    conn.push(format!("cancel 0\nafter 50 {max}\nafter 50 1000\n").as_bytes());
    assert_eq!(
        lines(&mut conn),
        ["cancelled 0", format!("set {max}").as_str(), "err too many"]
    );

    // Once they have fired, the bound is free again.
    conn.advance(ms(100));
    let fired = lines(&mut conn);
    assert_eq!(fired.len(), MAX_TIMERS, "{fired:?}");
    assert_eq!(fired[0], format!("fired {max}"), "the 50 ms timer first");
    conn.push(b"after 10 2000\n");
    assert_eq!(lines(&mut conn), ["set 2000"]);
}

/// Once the connection is closing, `set_timer` answers `Closing`, and the timers still
/// pending never fire, although the connection stays open (its output waits for the peer)
/// past their time.
#[test]
fn closing_connection_refuses_timers_and_fires_none() {
    let mut conn = TestConnection::new(Timed::default());
    conn.push(b"after 10 1\nafter 20 2\n");
    assert_eq!(lines(&mut conn), ["set 1", "set 2"]);

    // The peer stops reading: what the connection sends from now on waits in it.
    conn.set_peer_window(Some(0));
    conn.push(b"close\n");
    assert!(conn.output_len() > 0, "the reply waits for the peer");
    conn.advance(ms(100));
    assert!(
        !conn.is_closed(),
        "still flushing: the timers' time came while it was open"
    );
    assert!(
        conn.handler().fired.is_empty(),
        "a timer fired while closing"
    );

    conn.set_peer_window(None);
    assert_eq!(lines(&mut conn), ["err closing"]);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
    conn.advance(Duration::from_secs(1));
    assert!(
        conn.handler().fired.is_empty(),
        "a timer fired after the close"
    );
    assert_eq!(conn.handler().closed, [CloseReason::Closed]);
}

/// When the peer closes, the connection's pending timers never fire.
#[test]
fn timers_of_a_connection_the_peer_closed_never_fire() {
    let mut conn = TestConnection::new(Timed::default());
    conn.push(b"after 10 1\n");
    assert_eq!(lines(&mut conn), ["set 1"]);
    conn.push_eof();
    assert_eq!(conn.close_reason(), Some(&CloseReason::PeerClosed));
    conn.advance(ms(100));
    assert!(conn.handler().fired.is_empty());
    assert!(lines(&mut conn).is_empty());
}

// ----- over sockets -----------------------------------------------------------------------------

/// A line client.
struct Client {
    /// The connection, buffered for `read_line`.
    stream: BufReader<TcpStream>,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            stream: BufReader::new(connect(addr)),
        }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .expect("write");
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.stream.read_line(&mut line).expect("read a line");
        assert!(n > 0, "unexpected EOF");
        assert!(line.ends_with('\n'), "partial line {line:?}");
        line.pop();
        line
    }
}

/// Over a socket, two timers set out of order fire in time order, neither before its time.
#[test]
fn timers_fire_in_order_over_a_socket() {
    let running = start(config(), |_| Timed::default());
    let mut client = Client::connect(running.local_addr());
    let set = Instant::now();
    client.send("after 300 2");
    client.send("after 100 1");
    assert_eq!(client.line(), "set 2");
    assert_eq!(client.line(), "set 1");
    assert_eq!(client.line(), "fired 1");
    assert!(set.elapsed() >= ms(100), "fired early: {:?}", set.elapsed());
    assert_eq!(client.line(), "fired 2");
    assert!(set.elapsed() >= ms(300), "fired early: {:?}", set.elapsed());
}

/// A timer of a connection that its client closed before the timer's time never runs
/// `on_timer`, while the same timer on a connection that stays open (which, on one reactor,
/// takes the closed one's slot) does: exactly one call in all.
#[test]
fn timer_of_a_closed_connection_does_not_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let running = start(config().reactors(1), move |_| Timed::counting(&counted));

    let mut gone = Client::connect(running.local_addr());
    gone.send("after 200 1");
    assert_eq!(gone.line(), "set 1");
    drop(gone);
    assert!(
        wait_until(Duration::from_secs(10), || running.stats().total().closed
            == 1),
        "the server never saw the client close: {:?}",
        running.stats().total()
    );

    let mut stays = Client::connect(running.local_addr());
    stays.send("after 400 2");
    assert_eq!(stays.line(), "set 2");
    // The closed connection's timer was due 200 ms before this one, on the same reactor.
    assert_eq!(stays.line(), "fired 2");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "on_timer calls");
}

/// 200 connections each set a timer (between 50 and 250 ms); each gets its own `fired` line,
/// and `on_timer` runs 200 times in all.
#[test]
fn every_connection_gets_its_timer() {
    const CLIENTS: u64 = 200;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let running = start(config(), move |_| Timed::counting(&counted));
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|_| Client::connect(running.local_addr()))
        .collect();
    for (tag, client) in (0..).zip(&mut clients) {
        client.send(&format!("after {} {tag}", 50 + tag));
    }
    for (tag, client) in (0..).zip(&mut clients) {
        assert_eq!(client.line(), format!("set {tag}"));
        assert_eq!(client.line(), format!("fired {tag}"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), CLIENTS as usize);
}

/// Sets a zero-delay timer again every time one fires.
struct Relentless {
    /// `on_timer` calls so far.
    fired: usize,
}

impl Handler for Relentless {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.set_timer(Duration::ZERO, 0).unwrap();
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _tag: u64) {
        self.fired += 1;
        ctx.set_timer(Duration::ZERO, 0).unwrap();
    }
}

/// A timer set for "now" from `on_timer` fires on the next turn, not in the same one: a handler
/// that keeps re-arming a zero-delay timer gets one call per turn and cannot hold its reactor,
/// in memory (one `advance` is one turn) as over a socket (the same reactor still accepts,
/// serves and closes another connection).
#[test]
fn a_timer_set_again_from_on_timer_waits_a_turn() {
    let mut conn = TestConnection::new(Relentless { fired: 0 });
    for turn in 1..=3 {
        conn.advance(Duration::ZERO);
        assert_eq!(conn.handler().fired, turn);
    }

    let running = start(config().reactors(1), |_| Relentless { fired: 0 });
    let _spinning = connect(running.local_addr());
    let other = connect(running.local_addr());
    drop(other);
    assert!(
        wait_until(Duration::from_secs(10), || running.stats().total().closed
            >= 1),
        "the reactor served nothing else"
    );
    running.shutdown().expect("shutdown");
}
