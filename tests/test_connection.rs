//! `TestConnection`: a protocol tested in memory, the way the reactor would drive it.

use turbine::{
    CloseReason, CodecError, Config, Context, Decoder, Encoder, Handler, LinesCodec, ProxyHeader,
    ProxyProtocol, ProxyRead, ReadBuf, SendError, TestConnection,
};

/// A small line protocol: greets on open, answers `PING`, closes on `QUIT`, replies to bad
/// input with `ERR <reason>`, and says goodbye on shutdown.
#[derive(Default)]
struct Proto {
    /// Reasons it was told of, in order.
    closed: Vec<CloseReason>,
}

impl Handler for Proto {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.send("HELLO");
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        match line.as_str() {
            "PING" => ctx.send("PONG"),
            "QUIT" => ctx.close(),
            other => ctx.send(format!("ECHO {other}")),
        }
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        ctx.send(format!("ERR {error}"));
    }

    fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.send("BYE");
        ctx.close();
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        self.closed.push(reason);
    }
}

/// Output read back as lines.
fn lines(conn: &mut TestConnection<Proto>) -> Vec<String> {
    conn.take_frames(&mut LinesCodec::new(1024)).unwrap()
}

/// The greeting comes first, replies follow in order, and `QUIT` closes with the handler told
/// once; input after the close is not delivered.
#[test]
fn replies_in_order_then_close() {
    let mut conn = TestConnection::new(Proto::default());
    conn.push(b"PING\nabc\nQUIT\nPING\n");
    assert_eq!(lines(&mut conn), ["HELLO", "PONG", "ECHO abc"]);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
    conn.push(b"PING\n");
    assert!(conn.take_output().is_empty());
    assert_eq!(conn.handler().closed, [CloseReason::Closed]);
    let stats = conn.stats();
    assert_eq!((stats.frames_in, stats.frames_out), (3, 3));
}

/// A decode error reaches the handler, which answers it; then the connection closes with that
/// error as the reason.
#[test]
fn decode_error_answered_then_closed() {
    // The limit bounds encoded lines too: the error reply must fit in it.
    let mut conn = TestConnection::with_config(Proto::default(), Config::new().max_frame(60));
    conn.push(b"PING\n");
    conn.push(&[b'x'; 100]);
    let out = lines(&mut conn);
    assert_eq!(out[..2], ["HELLO", "PONG"]);
    assert!(out[2].starts_with("ERR frame too long"), "{out:?}");
    assert!(matches!(
        conn.close_reason(),
        Some(CloseReason::Decode(CodecError::FrameTooLong {
            max: 60,
            ..
        }))
    ));
}

/// A frame cut off by the end of the stream is reported as truncated, not dropped silently.
#[test]
fn truncated_frame_at_eof() {
    let mut conn = TestConnection::new(Proto::default());
    conn.push(b"PING\nPIN");
    conn.push_eof();
    let out = lines(&mut conn);
    assert_eq!(out[..2], ["HELLO", "PONG"]);
    assert!(
        out[2].starts_with("ERR stream ended inside a frame"),
        "{out:?}"
    );
    assert_eq!(
        conn.close_reason(),
        Some(&CloseReason::Decode(CodecError::Truncated { buffered: 3 }))
    );
}

/// Frames sent through a handle arrive at delivery, after what the handler sent; once the
/// connection has closed the handle refuses frames and hands them back.
#[test]
fn handle_frames_delivered_and_refused_after_close() {
    let mut conn = TestConnection::new(Proto::default());
    let handle = conn.handle();
    let sender = std::thread::spawn(move || {
        for i in 0..3 {
            handle.send(format!("push {i}")).unwrap();
        }
        handle
    });
    let handle = sender.join().unwrap();
    assert_eq!(conn.deliver(), 3);
    assert_eq!(lines(&mut conn), ["HELLO", "push 0", "push 1", "push 2"]);
    conn.push(b"QUIT\n");
    assert!(handle.is_closed());
    match handle.send("late".to_string()) {
        Err(SendError::Closed(frame)) => assert_eq!(frame, "late"),
        other => panic!("expected Closed, got {other:?}"),
    }
}

/// A graceful shutdown runs the protocol's goodbye, then closes.
#[test]
fn shutdown_says_goodbye() {
    let mut conn = TestConnection::new(Proto::default());
    conn.shutdown();
    assert_eq!(lines(&mut conn), ["HELLO", "BYE"]);
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
}

/// A codec that skips frames longer than 3 bytes, reporting each as `Discarded`.
struct Skipping;

impl Decoder for Skipping {
    type Item = String;

    fn decode(&mut self, src: &mut ReadBuf) -> Result<Option<String>, CodecError> {
        let Some(end) = src.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let line = src.split_to(end + 1);
        if end > 3 {
            return Err(CodecError::Discarded {
                len: line.len() as u64,
                max: 3,
            });
        }
        Ok(Some(String::from_utf8_lossy(&line[..end]).into_owned()))
    }
}

impl Encoder for Skipping {
    type Item = String;

    fn encode(&mut self, item: String, dst: &mut Vec<u8>) -> Result<(), CodecError> {
        dst.extend_from_slice(item.as_bytes());
        dst.push(b'\n');
        Ok(())
    }
}

/// Echoes lines and reports skipped ones.
struct Tolerant;

impl Handler for Tolerant {
    type Codec = Skipping;

    fn codec(&mut self, _config: &Config) -> Skipping {
        Skipping
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        ctx.send(format!("skipped {error}"));
    }
}

/// A non-fatal decode error (`Discarded`) is reported and decoding goes on: the connection
/// stays open and later frames are delivered.
#[test]
fn discarded_frame_is_not_fatal() {
    let mut conn = TestConnection::new(Tolerant);
    conn.push(b"abc\ntoo long\nxyz\n");
    let out = String::from_utf8(conn.take_output()).unwrap();
    assert_eq!(
        out,
        "abc\nskipped frame too long: skipped 9 bytes, the maximum is 3\nxyz\n"
    );
    assert!(!conn.is_closed());
}

/// The smallest read buffer the settings allow (1 KiB) works with frames longer than it: an
/// unfinished frame grows in its own buffer, read by read, and is delivered whole.
#[test]
fn frames_longer_than_a_small_read_buffer() {
    let config = Config::new().read_buffer(1 << 10).max_frame(8 << 10);
    let mut conn = TestConnection::with_config(Proto::default(), config);
    let long = "x".repeat(5000);
    for piece in long.as_bytes().chunks(700) {
        conn.push(piece);
    }
    conn.push(b"\nPING\n");
    let frames = conn.take_frames(&mut LinesCodec::new(8 << 10)).unwrap();
    assert_eq!(
        frames,
        ["HELLO".to_string(), format!("ECHO {long}"), "PONG".into()]
    );
}

/// Tells its peer's address, its local address and whether its PROXY header was LOCAL.
struct Whoami;

impl Handler for Whoami {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let local = ctx.proxy().map(|header| header.is_local());
        ctx.send(format!(
            "{} {} {local:?}",
            ctx.peer_addr(),
            ctx.local_addr()
        ));
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
}

/// A header as the reactors read it, sent by a balancer at 10.0.0.2.
fn header(bytes: &[u8]) -> ProxyHeader {
    let balancer = "10.0.0.2:40000".parse().unwrap();
    match ProxyHeader::parse(bytes, ProxyProtocol::Any, balancer) {
        ProxyRead::Complete { header, len } if len == bytes.len() => header,
        other => panic!("not one whole header: {other:?}"),
    }
}

/// A connection behind a balancer: its handler sees the client's address and the one it
/// reached from a PROXY header naming them, and the test's own addresses (and `is_local`) from
/// a v2 LOCAL header, as a health check sends.
#[test]
fn proxied_connection_sees_the_header() {
    let named = header(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n");
    let mut conn = TestConnection::proxied(Whoami, Config::new(), named);
    assert_eq!(
        conn.take_frames(&mut LinesCodec::new(1024)).unwrap(),
        ["203.0.113.7:51000 192.0.2.1:443 Some(false)"]
    );
    // Signature, version 2 and command LOCAL, family UNSPEC, no addresses.
    let local = header(b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00");
    let mut conn = TestConnection::proxied(Whoami, Config::new(), local);
    assert_eq!(
        conn.take_frames(&mut LinesCodec::new(1024)).unwrap(),
        ["127.0.0.1:49152 127.0.0.1:7878 Some(true)"]
    );
    let mut conn = TestConnection::new(Whoami);
    assert_eq!(
        conn.take_frames(&mut LinesCodec::new(1024)).unwrap(),
        ["127.0.0.1:49152 127.0.0.1:7878 None"]
    );
}

/// Holds its input after a `HOLD` line (`pause_reading`) and answers it with more than the
/// high watermark; records every line it is given.
#[derive(Default)]
struct Holder {
    lines: Vec<String>,
}

impl Handler for Holder {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "HOLD" {
            ctx.pause_reading();
            ctx.send("x".repeat(8 << 10));
        }
        self.lines.push(line);
    }
}

/// A handler's `pause_reading` outlasts backpressure: output over the high watermark in the
/// same read pauses the connection too, but when that output drains reading stays held (the
/// handler's `resume_reading` decides), so input sent meanwhile is not delivered.
#[test]
fn a_handlers_hold_outlasts_backpressure() {
    let config = Config::new()
        .write_low_watermark(1 << 10)
        .write_high_watermark(4 << 10)
        .write_limit(64 << 10);
    let mut conn = TestConnection::with_config(Holder::default(), config);
    conn.set_peer_window(Some(0));
    conn.push(b"HOLD\nsame read\n");
    conn.push(b"later\n");
    assert_eq!(conn.handler().lines, ["HOLD", "same read"]);
    conn.set_peer_window(None);
    assert_eq!(conn.take_output().len(), (8 << 10) + 1);
    conn.push(b"and later\n");
    assert_eq!(conn.handler().lines, ["HOLD", "same read"]);
    assert!(!conn.is_closed());
}
