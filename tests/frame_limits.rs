//! `TURBINE_MAX_FRAME` bounds what a peer sends, `TURBINE_MAX_FRAME_OUT` what the server sends
//! (`Config::frame_limits()`): in memory with `TestConnection`, and over real sockets.

mod util;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use turbine::{CloseReason, CodecError, Config, Context, Handler, LinesCodec, TestConnection};
use util::hardening::{End, read_until_end};
use util::{connect, localhost, start, wait_until};

/// Requests of at most this many bytes.
const MAX_FRAME: usize = 16;
/// Replies of at most this many bytes.
const MAX_FRAME_OUT: usize = 64;

/// The configuration of every test here: requests up to 16 bytes, replies up to 64.
fn limited() -> Config {
    Config::new()
        .addr(localhost())
        .reactors(1)
        .max_frame(MAX_FRAME)
        .max_frame_out(MAX_FRAME_OUT)
}

/// Why each connection closed, shared with the test.
#[derive(Debug, Clone, Default)]
struct Closes(Arc<Mutex<Vec<CloseReason>>>);

impl Closes {
    fn push(&self, reason: CloseReason) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reason);
    }

    fn all(&self) -> Vec<CloseReason> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A line protocol whose replies have sizes the client asks for: `reply <n>...` sends one line
/// of `n` `x` for each number, in one callback. A decode error is answered with
/// `ERR <error_reply bytes>`.
struct Lengths {
    /// Length of the `x` run in the reply to a decode error.
    error_reply: usize,
    /// Where `on_close` reports.
    closes: Closes,
}

impl Lengths {
    /// A handler whose decode-error reply (`ERR ` and `error_reply` bytes) is within the bound
    /// or not, as chosen.
    fn new(error_reply: usize, closes: &Closes) -> Self {
        Lengths {
            error_reply,
            closes: closes.clone(),
        }
    }
}

impl Handler for Lengths {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let mut words = line.split_whitespace();
        if words.next() != Some("reply") {
            return ctx.send("ERR unknown");
        }
        for n in words {
            ctx.send("x".repeat(n.parse().expect("a length")));
        }
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, _error: CodecError) {
        ctx.send(format!("ERR {}", "x".repeat(self.error_reply)));
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        self.closes.push(reason);
    }
}

/// A line of `n` `x` and its `\n`, as bytes.
fn xs(n: usize) -> Vec<u8> {
    let mut line = vec![b'x'; n];
    line.push(b'\n');
    line
}

/// Whether `reason` is an encoder's refusal of a frame over the 64-byte bound.
fn refused_over_64(reason: &CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::Encode(CodecError::FrameTooLong {
            max: MAX_FRAME_OUT,
            ..
        })
    )
}

// ----- in memory --------------------------------------------------------------------------------

/// A 10-byte request (within 16) answered by a 50-byte reply (over 16, within 64) is
/// delivered, as is a reply of exactly 64 bytes; the connection stays open.
#[test]
fn reply_longer_than_the_request_bound_is_delivered() {
    let closes = Closes::default();
    let mut conn = TestConnection::with_config(Lengths::new(4, &closes), limited());
    conn.push(b"reply 0050\n");
    assert_eq!(conn.take_output(), xs(50));
    conn.push(b"reply 64\n");
    assert_eq!(conn.take_output(), xs(64));
    assert!(!conn.is_closed());
    assert!(closes.all().is_empty());
}

/// A reply over 64 bytes closes the connection with `Encode(FrameTooLong { max: 64, .. })`:
/// the replies sent before it (in the same callback too) are delivered, the ones sent after it
/// in the same callback are not, and later requests are not answered.
#[test]
fn reply_over_the_bound_closes_after_what_came_before() {
    let closes = Closes::default();
    let mut conn = TestConnection::with_config(Lengths::new(4, &closes), limited());
    conn.push(b"reply 1\n");
    assert_eq!(conn.take_output(), xs(1));
    conn.push(b"reply 50 65 10\nreply 2\n");
    assert_eq!(conn.take_output(), xs(50));
    let reason = conn.close_reason().expect("closed").clone();
    assert!(refused_over_64(&reason), "{reason:?}");
    assert!(
        matches!(
            reason,
            CloseReason::Encode(CodecError::FrameTooLong { len: 65, .. })
        ),
        "{reason:?}"
    );
    conn.push(b"reply 3\n");
    assert!(conn.take_output().is_empty());
    assert_eq!(closes.all(), [reason]);
}

/// A request over 16 bytes gets the handler's `on_decode_error` reply, then the connection
/// closes with `Decode(FrameTooLong { max: 16, .. })`; what follows is not answered.
#[test]
fn request_over_the_bound_is_answered_then_closed() {
    let closes = Closes::default();
    let mut conn = TestConnection::with_config(Lengths::new(4, &closes), limited());
    conn.push(b"reply 1\n");
    let mut request = vec![b'r'; MAX_FRAME + 4];
    request.extend_from_slice(b"\nreply 2\n");
    conn.push(&request);
    let mut expected = xs(1);
    expected.extend_from_slice(b"ERR xxxx\n");
    assert_eq!(conn.take_output(), expected);
    let reason = conn.close_reason().expect("closed").clone();
    assert!(
        matches!(
            reason,
            CloseReason::Decode(CodecError::FrameTooLong { max: MAX_FRAME, .. })
        ),
        "{reason:?}"
    );
    assert_eq!(closes.all(), [reason]);
}

/// When the reply to a decode error is itself over the 64-byte bound, the encoder refuses it,
/// nothing of it is sent, and the close reason stays `Decode`: an encoder refusal never hides
/// the decode error that came first.
#[test]
fn refused_error_reply_keeps_the_decode_reason() {
    let closes = Closes::default();
    let mut conn = TestConnection::with_config(Lengths::new(MAX_FRAME_OUT, &closes), limited());
    conn.push(b"reply 1\n");
    conn.push(&[b'r'; MAX_FRAME + 4]);
    assert_eq!(conn.take_output(), xs(1), "the error reply is not sent");
    let reason = conn.close_reason().expect("closed").clone();
    assert!(
        matches!(
            reason,
            CloseReason::Decode(CodecError::FrameTooLong { max: MAX_FRAME, .. })
        ),
        "{reason:?}"
    );
    assert_eq!(closes.all(), [reason]);
}

// ----- over sockets -----------------------------------------------------------------------------

/// Over a socket: a 10-byte request gets its 50-byte reply, then a 64-byte one, and the
/// connection stays open.
#[test]
fn reply_longer_than_the_request_bound_over_a_socket() {
    let closes = Closes::default();
    let server_closes = closes.clone();
    let running = start(limited(), move |_| Lengths::new(4, &server_closes));
    let mut client = connect(running.local_addr());
    client.write_all(b"reply 0050\n").unwrap();
    let mut reply = vec![0; 51];
    std::io::Read::read_exact(&mut client, &mut reply).expect("the 50-byte reply");
    assert_eq!(reply, xs(50));
    client.write_all(b"reply 64\n").unwrap();
    let mut reply = vec![0; 65];
    std::io::Read::read_exact(&mut client, &mut reply).expect("the 64-byte reply");
    assert_eq!(reply, xs(64));
    assert!(closes.all().is_empty(), "{:?}", closes.all());
    assert_eq!(running.stats().total().open, 1);
}

/// Over a socket: a reply over 64 bytes ends the connection with a clean end of stream after
/// the replies before it and nothing after it; the handler is told
/// `Encode(FrameTooLong { max: 64, .. })`.
#[test]
fn reply_over_the_bound_over_a_socket() {
    let closes = Closes::default();
    let server_closes = closes.clone();
    let running = start(limited(), move |_| Lengths::new(4, &server_closes));
    let mut client = connect(running.local_addr());
    client
        .write_all(b"reply 1\nreply 50 65 10\nreply 2\n")
        .unwrap();
    let (got, end) = read_until_end(&mut client, Duration::from_secs(10));
    let mut expected = xs(1);
    expected.extend_from_slice(&xs(50));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(end, End::Eof);
    drop(client);
    assert!(
        wait_until(Duration::from_secs(10), || !closes.all().is_empty()),
        "on_close never ran"
    );
    let all = closes.all();
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(refused_over_64(&all[0]), "{all:?}");
}
