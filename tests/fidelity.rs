//! `TestConnection` behaves as a socket connection does, because it runs the same connection
//! code: each scenario here runs over an in-memory socket and over a real one, with the same
//! assertions.

mod util;

use std::io::Read;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use turbine::{
    Config, ConnHandle, Context, Handler, LinesCodec, Payload, Running, SendError, TestConnection,
    broadcast,
};
use util::{config, start, wait_until};

/// Hands its connection's handle to the test when it opens; `quit` says `bye` and closes.
struct Member {
    /// Where the handle goes.
    handles: Sender<ConnHandle<String>>,
}

impl Handler for Member {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let _ = self.handles.send(ctx.handle());
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "quit" {
            ctx.send("bye");
            ctx.close();
        }
    }
}

/// A 1 KiB write limit, watermarks under it, and small kernel buffers on the socket side.
fn small_config() -> Config {
    config()
        .reactors(1)
        .write_low_watermark(256)
        .write_high_watermark(512)
        .write_limit(1024)
        .send_buffer(Some(4 << 10))
}

/// A server of [`Member`]s, the receiving end of their handles, and one connected client.
fn socket_member(config: Config) -> (Running, std::net::TcpStream, ConnHandle<String>) {
    let (tx, rx): (_, Receiver<ConnHandle<String>>) = mpsc::channel();
    let running = start(config, move |_| Member {
        handles: tx.clone(),
    });
    let client = util::small_window_client(running.local_addr(), 4 << 10);
    let handle = rx.recv_timeout(Duration::from_secs(10)).expect("a handle");
    (running, client, handle)
}

/// An in-memory [`Member`] and its handle.
fn memory_member(config: Config) -> (TestConnection<Member>, ConnHandle<String>) {
    let (tx, rx) = mpsc::channel();
    let conn = TestConnection::with_config(Member { handles: tx }, config);
    let handle = rx.recv().expect("a handle");
    (conn, handle)
}

/// Sends 100-byte lines through `handle` until one is refused (at most 500), calling `taken`
/// after each accepted one; returns how many were accepted and the refusal.
fn send_until_refused(
    handle: &ConnHandle<String>,
    mut taken: impl FnMut(usize),
) -> (usize, Option<SendError<String>>) {
    for sent in 0..500 {
        if let Err(e) = handle.send("x".repeat(100)) {
            return (sent, Some(e));
        }
        taken(sent + 1);
    }
    (500, None)
}

/// With a 1 KiB write limit and a peer that does not read, handle sends are refused with
/// `Full` (the frame handed back) well before 500 sends, in memory as over a socket: output
/// cannot pile up past the write limit (plus what the kernel buffers hold, on a socket).
#[test]
fn handle_sends_are_refused_past_the_write_limit_on_both() {
    // In memory: the peer's window is closed, so nothing leaves the connection.
    let (mut conn, handle) = memory_member(small_config());
    conn.set_peer_window(Some(0));
    let (accepted, refused) = send_until_refused(&handle, |_| {
        conn.deliver();
    });
    assert!(matches!(refused, Some(SendError::Full(ref line)) if line.len() == 100));
    assert!(
        conn.output_len() <= 1024 + 101,
        "{} bytes wait",
        conn.output_len()
    );
    assert!(
        accepted <= 1024 / 101 + 1,
        "{accepted} sends accepted in memory"
    );

    // Over a socket: the client does not read; wait for the reactor to take each frame.
    let (running, client, handle) = socket_member(small_config());
    let (accepted, refused) = send_until_refused(&handle, |sent| {
        let taken = wait_until(Duration::from_secs(10), || {
            running.stats().total().frames_out >= sent as u64
        });
        assert!(taken, "frame {sent} was never taken");
    });
    assert!(matches!(refused, Some(SendError::Full(ref line)) if line.len() == 100));
    assert!(accepted < 500, "{accepted} sends accepted over a socket");
    eprintln!("over a socket: {accepted} accepted before the refusal");
    drop(client);
    running.shutdown().expect("shutdown");
}

/// A connection that has begun closing takes no more broadcasts: the sender skips it once it
/// knows (`broadcast` returns 0), and a payload already on its way is dropped when it arrives,
/// so the goodbye stays the last line, in memory as over a socket.
#[test]
fn broadcasts_to_a_closing_connection_are_skipped_on_both() {
    let news = Payload::encode(&mut LinesCodec::new(64), "news".to_string()).unwrap();

    // In memory: one payload posted before the close, delivered after it.
    let (mut conn, handle) = memory_member(Config::new());
    assert_eq!(broadcast([&handle], &news), 1);
    conn.push(b"quit\n");
    conn.deliver();
    assert_eq!(
        broadcast([&handle], &news),
        0,
        "the handle knows it is closing"
    );
    assert_eq!(conn.take_output(), b"bye\n");
    assert!(conn.is_closed());

    // Over a socket: the close is asked for through the handle, the payload right behind it.
    let (running, mut client, handle) = socket_member(config().reactors(1));
    handle.send("hi".to_string()).expect("send");
    handle.close();
    broadcast([&handle], &news);
    assert!(wait_until(Duration::from_secs(10), || handle.is_closed()));
    assert_eq!(
        broadcast([&handle], &news),
        0,
        "the handle knows it is closing"
    );
    let mut got = Vec::new();
    client.read_to_end(&mut got).expect("a clean EOF");
    assert_eq!(got, b"hi\n");
    running.shutdown().expect("shutdown");
}

/// `ConnHandle::close` from another thread writes what was sent before it, then closes: the
/// peer reads those frames and a clean EOF, in memory as over a socket.
#[test]
fn handle_close_flushes_then_closes_on_both() {
    let (mut conn, handle) = memory_member(Config::new());
    let sender = std::thread::spawn(move || {
        handle.send("one".to_string()).unwrap();
        handle.send("two".to_string()).unwrap();
        handle.close();
    });
    sender.join().unwrap();
    assert_eq!(conn.take_output(), b"one\ntwo\n");
    assert_eq!(conn.close_reason(), Some(&turbine::CloseReason::Closed));

    let (running, mut client, handle) = socket_member(config().reactors(1));
    std::thread::spawn(move || {
        handle.send("one".to_string()).unwrap();
        handle.send("two".to_string()).unwrap();
        handle.close();
    })
    .join()
    .unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).expect("a clean EOF");
    assert_eq!(got, b"one\ntwo\n");
    running.shutdown().expect("shutdown");
}

/// Upper-cases each line it gets: a reply per request, so output grows with input.
struct Upper;

impl Handler for Upper {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line.to_uppercase());
    }
}

/// Reading pauses once output passes the high watermark even when each read drains the socket
/// (small requests, the usual case): a peer that sends requests without reading replies cannot
/// make the server buffer more than the watermark plus one read's replies, in memory as over a
/// socket.
#[test]
fn small_requests_pause_reading_past_the_high_watermark_on_both() {
    // In memory: the peer reads nothing; each push is one small read.
    let mut conn = TestConnection::with_config(Upper, small_config());
    conn.set_peer_window(Some(0));
    for _ in 0..100 {
        conn.push(&[b'a'; 99]);
        conn.push(b"\n");
    }
    assert!(
        conn.output_len() <= 512 + 100,
        "{} bytes wait",
        conn.output_len()
    );

    // Over a socket: 100-byte requests, one at a time, replies never read.
    let running = start(small_config(), |_| Upper);
    let mut client = util::small_window_client(running.local_addr(), 4 << 10);
    let line = [&[b'a'; 99][..], b"\n"].concat();
    // Enough requests to fill the kernel buffers both ways, then some; writes may block once
    // the server stops reading, which is the point: stop there.
    client
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    for _ in 0..2000 {
        if std::io::Write::write_all(&mut client, &line).is_err() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let peak = running.stats().total().output_peak;
    assert!(peak <= 512 + 64 * 1024, "output peaked at {peak} bytes");
    eprintln!("over a socket: output peaked at {peak} bytes");
    drop(client);
    running.shutdown().expect("shutdown");
}
