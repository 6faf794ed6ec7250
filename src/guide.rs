//! A tour of Turbine, in the order a new protocol meets it.
//!
//! 1. [A protocol is a codec and a handler](#1-a-protocol-is-a-codec-and-a-handler)
//! 2. [The life of a connection](#2-the-life-of-a-connection)
//! 3. [Shared state: publish and subscribe](#3-shared-state-publish-and-subscribe)
//! 4. [Sending from other threads](#4-sending-from-other-threads)
//! 5. [Backpressure and slow peers](#5-backpressure-and-slow-peers)
//! 6. [Offloading CPU-heavy work](#6-offloading-cpu-heavy-work)
//! 7. [Per-connection timers](#7-per-connection-timers)
//! 8. [Periodic housekeeping](#8-periodic-housekeeping)
//! 9. [Several listeners](#9-several-listeners)
//! 10. [Talking to other servers](#10-talking-to-other-servers)
//! 11. [Speaking TLS](#11-speaking-tls)
//! 12. [Running, stopping, observing](#12-running-stopping-observing)
//! 13. [Testing without sockets](#13-testing-without-sockets)
//!
//! # 1. A protocol is a codec and a handler
//!
//! The codec turns bytes into frames and back ([`Decoder`](crate::Decoder),
//! [`Encoder`](crate::Encoder)); the [`Handler`](crate::Handler) reacts to frames. One handler
//! value exists per connection and lives on that connection's reactor thread, so its state is
//! plain fields: no locks, no `Arc`, no `Send`.
//!
//! [`Handler::codec`](crate::Handler::codec) builds each connection's codec from the
//! [`Config`](crate::Config). [`Config::frame_limits`](crate::Config::frame_limits) gives a stock
//! codec its two bounds: `TURBINE_MAX_FRAME` for what the peer sends, `TURBINE_MAX_FRAME_OUT`
//! for what the server writes (replies are often longer than requests).
//!
//! ```
//! use turbine::{Config, Context, Handler, LinesCodec, TestConnection};
//!
//! /// Numbers the lines of each connection.
//! struct Counter {
//!     lines: u64,
//! }
//!
//! impl Handler for Counter {
//!     type Codec = LinesCodec;
//!
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         self.lines += 1;
//!         ctx.send(format!("{} {line}", self.lines));
//!     }
//! }
//!
//! // A connection without a socket (section 13): bytes in, bytes out.
//! let mut conn = TestConnection::new(Counter { lines: 0 });
//! conn.push(b"one\ntwo\n");
//! assert_eq!(conn.take_output(), b"1 one\n2 two\n");
//! ```
//!
//! A program's `main` is then one call, which reads the `TURBINE_*` variables (a bad value
//! exits with code 2 before anything is bound), runs one reactor per core, and shuts down
//! gracefully on SIGINT or SIGTERM:
//!
//! ```no_run
//! # use turbine::{Config, Context, Handler, LinesCodec};
//! # struct Counter { lines: u64 }
//! # impl Handler for Counter {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//! # }
//! fn main() -> std::process::ExitCode {
//!     env_logger::init(); // Turbine logs through `log`; RUST_LOG=info shows it
//!     turbine::run(Config::from_env(), |_peer| Counter { lines: 0 })
//! }
//! ```
//!
//! The stock codecs: [`LinesCodec`](crate::LinesCodec) and
//! [`ByteLinesCodec`](crate::ByteLinesCodec) (lines as text or bytes),
//! [`DelimiterCodec`](crate::DelimiterCodec), [`LengthDelimitedCodec`](crate::LengthDelimitedCodec)
//! (header layouts through [`LengthDelimitedBuilder`](crate::LengthDelimitedBuilder)),
//! [`VarintLengthCodec`](crate::VarintLengthCodec), all bounded by
//! [`FrameLimits`](crate::FrameLimits); [`RespCodec`](crate::RespCodec) (Redis's protocol, with
//! its own limits, from a maximum command size) and [`RespClientCodec`](crate::RespClientCodec)
//! (its client side, commands out and replies in, for a connection to a Redis server, section
//! 10); [`RawCodec`](crate::RawCodec) (whatever one read brings, unframed). A codec of your
//! own implements both traits; the [`Decoder`](crate::Decoder) docs define what each return
//! value means. Frames go out with
//! [`Context::send`](crate::Context::send), which takes anything that converts into the
//! encoder's item (`ctx.send("PONG")` for a `String` codec).
//!
//! # 2. The life of a connection
//!
//! 1. **Open.** A reactor accepts the connection, calls the listener's factory with the peer's
//!    address, then [`codec`](crate::Handler::codec), then
//!    [`on_open`](crate::Handler::on_open): a greeting sent there goes out first. A connection
//!    over `TURBINE_MAX_CONNECTIONS` or `TURBINE_MAX_CONNECTIONS_PER_IP` gets no handler: it is
//!    sent [`Handler::rejection`](crate::Handler::rejection)'s bytes and closed. A connection
//!    the server opens itself gets its `on_open` once its connect completes (section 10).
//! 2. **Frames.** Each read is decoded into as many frames as it completes, and each goes to
//!    [`on_frame`](crate::Handler::on_frame), in arrival order. What the handler sends is
//!    encoded into the connection's output at once and written after the frames of that read
//!    are handled, in one write.
//! 3. **Decode errors.** Input the decoder refuses goes to
//!    [`on_decode_error`](crate::Handler::on_decode_error), the place for a protocol error
//!    reply. After a fatal error ([`CodecError::is_fatal`](crate::CodecError::is_fatal): too
//!    long, malformed, or a stream that ends inside a frame) the connection closes once that
//!    reply is flushed; after [`CodecError::Discarded`](crate::CodecError::Discarded) (a codec
//!    set to skip over-long frames) decoding goes on.
//! 4. **Close.** [`Context::close`](crate::Context::close) (or
//!    [`ConnHandle::close`](crate::ConnHandle::close) from another thread) stops delivering
//!    frames at once (input still buffered or arriving is discarded), flushes what was sent and
//!    the replies of offloaded jobs still running, then sends our FIN.
//!    [`Context::close_now`](crate::Context::close_now) drops what is not yet written (section
//!    5). The peer's FIN ends the connection once the replies to what it sent are out. The
//!    idle, frame and write timeouts, an encoder refusing a frame and a socket error end it
//!    too. After our FIN the connection lingers (reads and discards until the peer's FIN, at
//!    most `TURBINE_LINGER_TIMEOUT`) only when the peer may still be sending: input is unread,
//!    or arrived within the last linger timeout. Closing a socket with input unread, or input
//!    arriving after the close, makes the kernel send a reset, which can destroy replies the
//!    peer has not read yet; a peer silent for longer is closed at once.
//! 5. **Shutdown.** When the server shuts down, [`on_shutdown`](crate::Handler::on_shutdown)
//!    runs (the default does nothing; a goodbye sent there goes out), then the connection is
//!    served as usual until its first quiet moment: no unfinished frame, no output pending, no
//!    offloaded job in flight, the socket read until it would block. Then it closes with
//!    [`CloseReason::Shutdown`](crate::CloseReason::Shutdown): a client in the middle of a
//!    request gets its reply, an idle one is closed at once. What is still open at
//!    `TURBINE_SHUTDOWN_TIMEOUT` is closed by force ([`Forced`](crate::CloseReason::Forced)).
//! 6. **The end.** [`on_close`](crate::Handler::on_close) runs once, with the
//!    [`CloseReason`](crate::CloseReason), after the connection is gone: nothing can be sent
//!    from it, so it is where state kept outside the handler is cleaned up (its context still
//!    reaches the reactor's other connections, section 10). Every callback runs
//!    under `catch_unwind`: a panic closes that connection alone, at once (pending output is
//!    dropped), is counted in the stats, and `on_close` still runs, with
//!    [`CloseReason::Panicked`](crate::CloseReason::Panicked).
//!
//! What holds: one connection's callbacks never overlap and always run on its reactor; frames
//! arrive in order, and replies leave in the order the handler sent them (with offloaded
//! replies in their request's place, section 6); once a connection starts closing, no frame,
//! timer, handle frame or broadcast reaches it (the results of jobs already offloaded still
//! do, unless it closed with `close_now`); `on_open` is followed by exactly one `on_close`,
//! short of the process exiting. What does not: a frame written is handed to the kernel, not
//! known to be read by the peer; a connection closed by an I/O error, a timeout, a panic or the
//! shutdown deadline may lose output it had not written; a factory or `codec` that panics
//! leaves no handler at all (the connection is closed at accept and no callback runs).
//!
//! ```
//! use turbine::{CloseReason, CodecError, Config, Context, Handler, LinesCodec, TestConnection};
//!
//! /// Greets, answers each line with its length, and remembers how the connection ended.
//! struct Length {
//!     ended: Option<CloseReason>,
//! }
//!
//! impl Handler for Length {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
//!         ctx.send("hello");
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         assert_ne!(line, "boom", "a bug in the handler");
//!         ctx.send(line.len().to_string());
//!     }
//!     fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, _error: CodecError) {
//!         ctx.send("ERR line too long"); // flushed, then the connection closes
//!     }
//!     fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
//!         self.ended = Some(reason);
//!     }
//! }
//!
//! // A decode error: what came before and the error reply go out; the rest is not read.
//! let mut conn = TestConnection::with_config(Length { ended: None }, Config::new().max_frame(8));
//! conn.push(b"abc\nmuch too long\nnever read\n");
//! assert_eq!(conn.take_output(), b"hello\n3\nERR line too long\n");
//! assert!(matches!(
//!     conn.handler().ended,
//!     Some(CloseReason::Decode(CodecError::FrameTooLong { max: 8, .. }))
//! ));
//!
//! // Shutdown waits for a quiet moment: here, the end of the unfinished line.
//! let mut conn = TestConnection::new(Length { ended: None });
//! conn.push(b"hal");
//! conn.shutdown();
//! assert!(!conn.is_closed());
//! conn.push(b"f\n");
//! assert_eq!(conn.take_output(), b"hello\n4\n");
//! assert_eq!(conn.handler().ended, Some(CloseReason::Shutdown));
//!
//! // A panic closes this connection only, and `on_close` still runs.
//! let mut conn = TestConnection::new(Length { ended: None });
//! conn.push(b"boom\n"); // the panic message is printed by the panic hook
//! assert_eq!(conn.handler().ended, Some(CloseReason::Panicked));
//! ```
//!
//! # 3. Shared state: publish and subscribe
//!
//! State shared between connections is explicit: an `Arc<Mutex<_>>` (or any `Sync` structure)
//! given to every handler by the factory. For fan-out, the shared state holds
//! [`ConnHandle`](crate::ConnHandle)s, which are `Send + Clone` and reach their connection on
//! whatever reactor it lives on. A handler joins the registry in `on_frame` (or `on_open`) with
//! [`Context::handle`](crate::Context::handle) and leaves it in `on_close`, which runs however
//! the connection ends, a panic included; its context still gives the connection's
//! [`ConnId`](crate::ConnId) ([`Context::id`](crate::Context::id)) to find its entries.
//!
//! To publish, encode the frame once with [`Payload::encode`](crate::Payload::encode) (a codec
//! of the protocol's type, built as the connections' codecs are) and hand it to
//! [`broadcast`](crate::broadcast): each reactor gets one message with its share of the
//! members and queues the same bytes on each of them, by reference. `broadcast` never blocks
//! and never fails on a slow member (section 5), so calling it under the registry's lock is
//! fine.
//!
//! A broadcast goes through the reactor's mailbox even to the publisher's own connection:
//! there it lands after every reply the handler sends in the same turn of the loop (the same
//! callback and the other frames of the same read), and before what it sends in later turns.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use turbine::{
//!     CloseReason, Config, ConnHandle, Context, Handler, LinesCodec, Payload, TestConnection,
//!     broadcast,
//! };
//!
//! /// Each topic's subscribers, shared by every connection on every reactor.
//! type Topics = Arc<Mutex<HashMap<String, Vec<ConnHandle<String>>>>>;
//!
//! /// `SUB <topic>` subscribes; `PUB <topic> <text>` sends `<topic>: <text>` to its subscribers
//! /// and answers how many it reached.
//! struct PubSub {
//!     topics: Topics,
//!     /// The topics this connection joined: where `on_close` removes it.
//!     joined: Vec<String>,
//! }
//!
//! impl Handler for PubSub {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         if let Some(topic) = line.strip_prefix("SUB ") {
//!             let mut topics = self.topics.lock().unwrap();
//!             topics.entry(topic.to_string()).or_default().push(ctx.handle());
//!             self.joined.push(topic.to_string());
//!             ctx.send(format!("OK {topic}"));
//!         } else if let Some(rest) = line.strip_prefix("PUB ") {
//!             let (topic, text) = rest.split_once(' ').unwrap_or((rest, ""));
//!             let mut codec = LinesCodec::new(ctx.config().frame_limits());
//!             let Ok(payload) = Payload::encode(&mut codec, format!("{topic}: {text}")) else {
//!                 return ctx.send("ERR too long");
//!             };
//!             let reached = match self.topics.lock().unwrap().get(topic) {
//!                 Some(members) => broadcast(members, &payload),
//!                 None => 0,
//!             };
//!             ctx.send(format!("OK {reached}"));
//!         }
//!     }
//!     fn on_close(&mut self, ctx: &mut Context<'_, Self>, _reason: CloseReason) {
//!         let me = ctx.id();
//!         let mut topics = self.topics.lock().unwrap();
//!         for topic in self.joined.drain(..) {
//!             if let Some(members) = topics.get_mut(&topic) {
//!                 members.retain(|member| member.id() != me);
//!             }
//!         }
//!     }
//! }
//!
//! let topics = Topics::default();
//! let pubsub = || PubSub { topics: Arc::clone(&topics), joined: Vec::new() };
//! let (mut ann, mut bob) = (TestConnection::new(pubsub()), TestConnection::new(pubsub()));
//! ann.push(b"SUB news\n");
//! bob.push(b"SUB news\nPUB news hello\n");
//! // Bob's replies of that read come first, then the broadcast, through his mailbox.
//! assert_eq!(bob.take_output(), b"OK news\nOK 2\nnews: hello\n");
//! assert_eq!(ann.take_output(), b"OK news\nnews: hello\n");
//!
//! ann.push_eof(); // Ann leaves: `on_close` takes her out
//! bob.push(b"PUB news again\n");
//! assert_eq!(bob.take_output(), b"OK 1\nnews: again\n");
//! ```
//!
//! The chat example (`examples/chat/`) is this pattern grown up: rooms, nicks, private
//! messages.
//!
//! # 4. Sending from other threads
//!
//! A [`ConnHandle`](crate::ConnHandle) sends frames to its connection from any thread: a
//! timer thread, a job, another connection's handler. Its frames go through the owning
//! reactor's mailbox, are encoded there by the connection's own encoder, and leave with the
//! rest of that turn's output; frames from one thread arrive in the order they were sent.
//!
//! [`send`](crate::ConnHandle::send) never blocks and never buffers without bound. It fails,
//! handing the frame back, with [`SendError::Full`](crate::SendError::Full) while the
//! connection's output is over `TURBINE_WRITE_LIMIT` (or
//! [`MAX_FRAMES_IN_FLIGHT`](crate::MAX_FRAMES_IN_FLIGHT) frames are on their way to it):
//! retry later, or drop the frame. It fails with
//! [`SendError::Closed`](crate::SendError::Closed) once the connection is closing or gone; a
//! handle never reaches a later connection that reuses its slot.
//! [`close`](crate::ConnHandle::close) closes the connection after the frames that thread sent
//! before it.
//!
//! ```
//! use turbine::{CloseReason, Config, Context, Handler, LinesCodec, SendError, TestConnection};
//! # struct Quiet;
//! # impl Handler for Quiet {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//! # }
//!
//! let config = Config::new().write_low_watermark(8).write_high_watermark(16).write_limit(16);
//! let mut conn = TestConnection::with_config(Quiet, config);
//! let handle = conn.handle(); // what `ctx.handle()` gives the handler
//! conn.set_peer_window(Some(0)); // the peer reads nothing for now
//!
//! let sender = handle.clone();
//! std::thread::spawn(move || sender.send("a".repeat(20))).join().unwrap()?;
//! conn.deliver(); // the reactor takes it: 21 bytes wait, over the write limit
//! assert!(matches!(handle.send("b".to_string()), Err(SendError::Full(_))));
//!
//! handle.close(); // after what was sent before
//! conn.set_peer_window(None); // the peer reads again
//! assert_eq!(conn.take_output(), format!("{}\n", "a".repeat(20)).as_bytes());
//! assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
//! assert!(matches!(handle.send("c".to_string()), Err(SendError::Closed(_))));
//! # Ok::<(), SendError<String>>(())
//! ```
//!
//! # 5. Backpressure and slow peers
//!
//! A connection's output is what its handler and its handles sent and the peer has not read
//! yet. Past `TURBINE_WRITE_HIGH_WATERMARK` the reactor stops reading from it, so a client
//! that pipelines requests without reading the replies is slowed by TCP itself; once the
//! output drains to `TURBINE_WRITE_LOW_WATERMARK` reading resumes and
//! [`on_writable`](crate::Handler::on_writable) is called. A handler that produces more than
//! it reads (a long download, a stream) checks
//! [`Context::is_writable`](crate::Context::is_writable), stops while it is `false`, and goes
//! on in `on_writable`.
//!
//! ```
//! use turbine::{Config, Context, Handler, LinesCodec, TestConnection};
//! # struct Upper;
//! # impl Handler for Upper {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//! #         ctx.send(line.to_uppercase())
//! #     }
//! # }
//!
//! let config = Config::new()
//!     .read_buffer(4096) // one read takes at most 4 KiB
//!     .write_low_watermark(1024)
//!     .write_high_watermark(2048)
//!     .write_limit(2048);
//! let mut conn = TestConnection::with_config(Upper, config);
//! conn.set_peer_window(Some(0)); // the peer stops reading
//! let burst = "abcdefghi\n".repeat(1000); // 10,000 bytes of pipelined requests
//! conn.push(burst.as_bytes());
//! assert_eq!(conn.stats().bytes_in, 4096); // one read, then over the high watermark: paused
//! conn.set_peer_window(None); // the peer reads: output drains, reading resumes
//! assert_eq!(conn.take_output(), burst.to_uppercase().as_bytes());
//! ```
//!
//! Broadcasts and handle sends are what a peer does not pace, since they come from elsewhere.
//! When queueing a broadcast would take a member's output past `TURBINE_WRITE_LIMIT`, the
//! payload is not queued and the member's [`on_overflow`](crate::Handler::on_overflow) runs
//! instead; everyone else is unaffected. The default disconnects the member
//! ([`CloseReason::Overflow`](crate::CloseReason::Overflow)). A protocol that wants to say
//! why calls [`close_for_overflow`](crate::Context::close_for_overflow) (or
//! [`close_now`](crate::Context::close_now), the same with
//! [`CloseReason::Closed`](crate::CloseReason::Closed)) and sends a last frame: it drops the
//! output not yet started and the pending offloaded jobs, finishes the frame being written (the
//! peer never sees a torn frame), then writes what the callback sends after it, within
//! `TURBINE_WRITE_TIMEOUT`, and closes. Or it keeps the member and lets it miss the payload.
//!
//! ```
//! use turbine::{
//!     CloseReason, Config, Context, Handler, LinesCodec, Payload, TestConnection, broadcast,
//! };
//!
//! /// A subscriber that is cut off, with a goodbye, when it falls behind.
//! struct Subscriber;
//!
//! impl Handler for Subscriber {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//!     fn on_overflow(&mut self, ctx: &mut Context<'_, Self>) {
//!         ctx.close_for_overflow();
//!         ctx.send("! too slow");
//!     }
//! }
//!
//! let config = Config::new().write_low_watermark(32).write_high_watermark(64).write_limit(64);
//! let mut slow = TestConnection::with_config(Subscriber, config);
//! let member = [slow.handle()];
//! slow.set_peer_window(Some(10)); // the peer reads 10 bytes, then nothing for a while
//! let mut codec = LinesCodec::new(1024);
//! for letter in ["a", "b", "c"] {
//!     let payload = Payload::encode(&mut codec, letter.repeat(30))?; // 31 bytes
//!     broadcast(&member, &payload); // "c" would make 93 bytes: over the limit
//! }
//! slow.deliver(); // as the reactor does
//! slow.set_peer_window(None);
//! // "a" was being written: it is finished. "b" is dropped, "c" never queued.
//! let expected = format!("{}\n! too slow\n", "a".repeat(30));
//! assert_eq!(slow.take_output(), expected.as_bytes());
//! assert_eq!(slow.close_reason(), Some(&CloseReason::Overflow));
//! # Ok::<(), turbine::CodecError>(())
//! ```
//!
//! # 6. Offloading CPU-heavy work
//!
//! Callbacks run on the reactor, so they must not block or compute for long: every other
//! connection of that reactor waits meanwhile. [`Context::offload`](crate::Context::offload)
//! runs a job on the worker pool (`TURBINE_WORKERS` threads at `TURBINE_WORKER_PRIORITY`,
//! started on first use) and calls a continuation with its result on the connection's
//! reactor, with the handler and a context, as if it were a callback.
//!
//! Results come back in the order the jobs were issued, whatever order they finish in, and
//! frames the handler sends while jobs are pending are written after the reply of the latest
//! one: a pipelining client gets its replies in request order with no bookkeeping in the
//! handler. A job that panics gives `Err(JobError::Panicked)`; the worker lives on. A closing
//! connection waits for its pending jobs' replies (unless it closes with `close_now`); a
//! connection gone when a result arrives drops it.
//!
//! The queue is bounded (`TURBINE_WORKER_QUEUE` waiting jobs): past it `offload` returns
//! [`OffloadError::Busy`](crate::OffloadError::Busy) at once, never waits. The job is handed
//! back in the error, to run it yourself if it is cheap or to drop it; the continuation is
//! dropped, so the handler answers there and then, and the answer still takes the request's
//! place in the reply order.
//!
//! ```
//! use std::time::Duration;
//! use turbine::{Config, Context, Handler, LinesCodec, OffloadError, TestConnection};
//!
//! /// `WORK <ms>` computes for that long on the pool; anything else is answered at once.
//! struct Jobs;
//!
//! impl Handler for Jobs {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         let Some(ms) = line.strip_prefix("WORK ").and_then(|ms| ms.parse().ok()) else {
//!             return ctx.send("PONG");
//!         };
//!         let work = move || {
//!             std::thread::sleep(Duration::from_millis(ms)); // stands in for real work
//!             format!("done {ms}")
//!         };
//!         let offloaded = ctx.offload(work, |_jobs, ctx, result| match result {
//!             Ok(reply) => ctx.send(reply),
//!             Err(_panicked) => ctx.send("ERR internal"),
//!         });
//!         match offloaded {
//!             Ok(()) => {}
//!             Err(OffloadError::Busy(_work)) => ctx.send("ERR busy"),
//!             Err(_) => ctx.send("ERR unavailable"), // the pool is stopping, or could not start
//!         }
//!     }
//! }
//!
//! // One worker and one waiting job: of three jobs at once, the third is refused.
//! let config = Config::new().workers(1).worker_queue(1);
//! let mut conn = TestConnection::with_config(Jobs, config);
//! conn.push(b"WORK 100\nPING\nWORK 100\nWORK 100\n");
//! assert!(conn.finish_offloads(Duration::from_secs(10)));
//! let output = String::from_utf8(conn.take_output()).unwrap();
//! let replies: Vec<&str> = output.lines().collect();
//! // PONG waits for the job before it; the second job ran or was refused, depending on
//! // whether the worker had taken the first yet.
//! assert_eq!(replies[..2], ["done 100", "PONG"]);
//! assert_eq!(replies[3], "ERR busy");
//! ```
//!
//! Cheap requests stay fast while the pool computes because the workers run at a lower
//! priority (`low`: `SCHED_BATCH`, nice 10) and a woken reactor preempts them at once. What
//! the worker priority cannot fix is more busy threads of normal priority than cores: with a
//! reactor per core and anything else busy on the machine (the clients, in a benchmark on the
//! same host), a woken reactor waits for the scheduler's tick, milliseconds. There, run fewer
//! reactors than cores (`TURBINE_REACTORS`); BENCHMARKS.md ("The tail under pipelined hashes")
//! has the measurement.
//!
//! # 7. Per-connection timers
//!
//! [`Context::set_timer`](crate::Context::set_timer) asks for
//! [`on_timer`](crate::Handler::on_timer) with a tag of the handler's choosing after a delay;
//! [`cancel_timer`](crate::Context::cancel_timer) takes it back. Timers belong to the
//! connection (at most [`MAX_TIMERS`](crate::MAX_TIMERS) pending), sit in the reactor's
//! deadline heap beside the idle, frame and write timeouts, and fire on its thread between two
//! turns of the loop: never early, late by at most one turn. They are dropped when the
//! connection starts closing. A keepalive ping, a request deadline, a retry are a few lines:
//!
//! ```
//! use std::time::Duration;
//! use turbine::{CloseReason, Config, Context, Handler, LinesCodec, TestConnection, TimerId};
//!
//! const PING: u64 = 1;
//! const NO_PONG: u64 = 2;
//!
//! /// Pings every 30 s; a peer that does not answer `PONG` within 5 s is closed.
//! struct Keepalive {
//!     waiting: Option<TimerId>,
//! }
//!
//! impl Handler for Keepalive {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
//!         let _ = ctx.set_timer(Duration::from_secs(30), PING);
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         if line == "PONG" {
//!             if let Some(timer) = self.waiting.take() {
//!                 ctx.cancel_timer(timer);
//!             }
//!         }
//!     }
//!     fn on_timer(&mut self, ctx: &mut Context<'_, Self>, tag: u64) {
//!         if tag == PING {
//!             ctx.send("PING");
//!             self.waiting = ctx.set_timer(Duration::from_secs(5), NO_PONG).ok();
//!             let _ = ctx.set_timer(Duration::from_secs(30), PING);
//!         } else {
//!             ctx.send("ERR no PONG");
//!             ctx.close();
//!         }
//!     }
//! }
//!
//! let mut conn = TestConnection::new(Keepalive { waiting: None });
//! conn.advance(Duration::from_secs(30)); // the connection's clock; no real waiting
//! assert_eq!(conn.take_output(), b"PING\n");
//! conn.push(b"PONG\n");
//! conn.advance(Duration::from_secs(30));
//! assert_eq!(conn.take_output(), b"PING\n");
//! conn.advance(Duration::from_secs(5)); // no PONG this time
//! assert_eq!(conn.take_output(), b"ERR no PONG\n");
//! assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
//! ```
//!
//! # 8. Periodic housekeeping
//!
//! [`Server::every`](crate::Server::every) runs a task on every reactor thread at a fixed
//! period, with the reactor's index, between two turns of the loop: expiring entries a
//! reactor owns, sampling, pruning a registry. The task runs on the event loop, so it must be
//! short; a reactor that is late skips the runs it missed instead of catching up. Work on
//! shared state can be split by index, or done by one reactor:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use std::time::{Duration, Instant};
//! use turbine::{Config, ConnHandle, Context, Handler, LinesCodec, Server, TestConnection};
//! # struct Quiet;
//! # impl Handler for Quiet {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//! # }
//!
//! type Topics = Arc<Mutex<HashMap<String, Vec<ConnHandle<String>>>>>;
//!
//! /// Drops closed members, and topics left empty.
//! fn prune(topics: &Topics) {
//!     topics.lock().unwrap().retain(|_topic, members| {
//!         members.retain(|member| !member.is_closed());
//!         !members.is_empty()
//!     });
//! }
//!
//! let topics = Topics::default();
//! let mut gone = TestConnection::new(Quiet);
//! topics.lock().unwrap().insert("news".into(), vec![gone.handle()]);
//! gone.push_eof();
//!
//! let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(2);
//! let shared = Arc::clone(&topics);
//! let server = Server::bind(config)?
//!     .every(Duration::from_millis(10), move |reactor| {
//!         if reactor == 0 {
//!             prune(&shared); // one reactor is enough for a shared map
//!         }
//!     })
//!     .start(|_peer| Quiet)?;
//! let deadline = Instant::now() + Duration::from_secs(10);
//! while !topics.lock().unwrap().is_empty() && Instant::now() < deadline {
//!     std::thread::sleep(Duration::from_millis(5));
//! }
//! assert!(topics.lock().unwrap().is_empty());
//! server.shutdown()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 9. Several listeners
//!
//! [`Server::bind`](crate::Server::bind) binds the main listener on `TURBINE_ADDR`;
//! [`Server::listen`](crate::Server::listen) adds more, each with its own factory and so its
//! own handler type: a protocol port and an admin or metrics port, say. Every reactor serves
//! every listener (one SO_REUSEPORT socket each), connections of all types share the reactors,
//! the connection caps and one shutdown, and
//! [`local_addrs`](crate::Running::local_addrs) tells where each listener is bound, the main
//! one first.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use std::net::TcpStream;
//! use turbine::{Config, Context, Handler, LinesCodec, Server, StatsHandle};
//!
//! /// The protocol port: echoes lines.
//! struct Echo;
//! /// The admin port: `open` answers how many connections are open.
//! struct Admin {
//!     stats: StatsHandle,
//! }
//!
//! impl Handler for Echo {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line);
//!     }
//! }
//!
//! impl Handler for Admin {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         match line.as_str() {
//!             "open" => ctx.send(self.stats.snapshot().total().open.to_string()),
//!             _ => ctx.send("ERR commands: open"),
//!         }
//!     }
//! }
//!
//! let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
//! let server = Server::bind(config)?;
//! let stats = server.stats_handle();
//! let admin_addr = "127.0.0.1:0".parse().unwrap();
//! let server = server.listen(admin_addr, move |_peer| Admin { stats: stats.clone() })?;
//! let running = server.start(|_peer| Echo)?;
//! let &[echo, admin] = running.local_addrs() else { unreachable!() };
//!
//! let mut line = String::new();
//! let user = TcpStream::connect(echo)?;
//! (&user).write_all(b"hi\n")?;
//! BufReader::new(&user).read_line(&mut line)?;
//! assert_eq!(line, "hi\n");
//!
//! let operator = TcpStream::connect(admin)?;
//! (&operator).write_all(b"open\n")?;
//! line.clear();
//! BufReader::new(&operator).read_line(&mut line)?;
//! assert_eq!(line, "2\n"); // the user's connection and the operator's own
//! drop((user, operator));
//! running.shutdown()?; // stops both listeners
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! In a program, [`run_with`](crate::run_with) takes a setup step that adds the listeners (and
//! periodic tasks) to the bound server; a listener that cannot bind is printed and the exit
//! code is 1:
//!
//! ```no_run
//! # use turbine::{Config, Context, Handler, LinesCodec, StatsHandle};
//! # struct Echo;
//! # struct Admin { stats: StatsHandle }
//! # impl Handler for Echo {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) { ctx.send(line) }
//! # }
//! # impl Handler for Admin {
//! #     type Codec = LinesCodec;
//! #     fn codec(&mut self, c: &Config) -> LinesCodec { LinesCodec::new(c.frame_limits()) }
//! #     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//! # }
//! fn main() -> std::process::ExitCode {
//!     env_logger::init();
//!     turbine::run_with(
//!         Config::from_env(),
//!         |server| {
//!             let stats = server.stats_handle();
//!             let admin = "127.0.0.1:9000".parse().unwrap();
//!             server.listen(admin, move |_peer| Admin { stats: stats.clone() })
//!         },
//!         |_peer| Echo,
//!     )
//! }
//! ```
//!
//! # 10. Talking to other servers
//!
//! A handler can open connections as well as answer them: to a back end, an upstream, a
//! database. [`Context::connect`](crate::Context::connect) starts a non-blocking connect on
//! the handler's own reactor and returns the new connection's [`ConnId`](crate::ConnId) at
//! once. The new connection has a handler of its own (any type, with its own codec), whose
//! [`on_open`](crate::Handler::on_open) runs once the connect completes; frames sent to it
//! before then wait in its output and go out first. From then on it is a connection like an
//! accepted one: it counts against `TURBINE_MAX_CONNECTIONS`, has the idle, frame and write
//! timeouts and backpressure, a panic closes it alone, it drains in a shutdown, and the stats
//! count it (`outbound` open now, `connects` started, `connect_failures`).
//!
//! A connect goes to a [`Connect`](crate::Connect) (or a plain `SocketAddr`): an address, with
//! `TURBINE_CONNECT_TIMEOUT` or its own [`timeout`](crate::Connect::timeout). A reactor never
//! resolves names, since a lookup blocks: [`Context::resolve`](crate::Context::resolve) looks
//! a name up on the worker pool and hands the addresses to a continuation on the connection's
//! reactor, in request order like an offloaded job's result (section 6); connect to one of
//! them from there. [`Connect::tls`](crate::Connect::tls) speaks TLS over the connection
//! (section 11).
//!
//! **When a connect fails.** One that cannot even start (out of descriptors, at
//! `TURBINE_MAX_CONNECTIONS`, an address the system refuses at once, or no reactor at all in a
//! [`TestConnection`](crate::TestConnection); for `connect_partner`, a partner already linked)
//! is an `Err` of [`ConnectError`](crate::ConnectError) at once, which hands the handler back
//! ([`into_parts`](crate::ConnectError::into_parts)) to try elsewhere. One that starts and
//! then fails (refused, unreachable, timed out) runs the new connection's
//! [`on_connect_failed`](crate::Handler::on_connect_failed) with the error instead of
//! `on_open`; the connection then closes with
//! [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed), and its `on_close` runs
//! as for any connection.
//!
//! **Partners.** [`connect_partner`](crate::Context::connect_partner) links the new connection to
//! the one opening it, as the two sides of a relay. Each reaches the other with
//! [`with_partner`](crate::Context::with_partner), directly on the reactor thread: no channel, and
//! what it sends there is written without waiting for an event, in this turn of the loop or the
//! next ([`send_encoded`](crate::Context::send_encoded) passes bytes on without encoding them
//! again). Their backpressure is coupled: each stops reading while the other's output is over the
//! high watermark, since what it reads is what it sends there, so a fast sender on one side is
//! slowed by TCP when the reader on the other side lags. When one of the pair closes, the other's
//! [`on_partner_closed`](crate::Handler::on_partner_closed) runs with the reason; the default
//! closes it too once its output is written, and a relay that must not pass a failed stream off as
//! a complete one calls [`reset`](crate::Context::reset) there instead (its peer sees a reset, not
//! an end). [`pause_reading`](crate::Context::pause_reading) and
//! [`resume_reading`](crate::Context::resume_reading) hold a side by hand, say while its partner
//! connects. A partner's idle clock (`TURBINE_IDLE_TIMEOUT`) counts its writes as well as its
//! reads, so a one-way stream keeps both sides busy and a pair is idle only once neither side
//! has read or written.
//!
//! A relay also passes half-closes on. When a peer closes its side,
//! [`on_peer_closed`](crate::Handler::on_peer_closed) decides: the default,
//! [`HalfClose::Close`](crate::HalfClose::Close), closes once the replies already sent are
//! written; [`HalfClose::KeepWriting`](crate::HalfClose::KeepWriting) keeps the connection
//! writing, and [`close_write`](crate::Context::close_write) on the partner sends the FIN on
//! after what was queued before it. A connection whose two directions are both done closes
//! ([`PeerClosed`](crate::CloseReason::PeerClosed)). Here each client of a front server gets
//! its own connection to an echo back end, opened on its first line:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
//! use turbine::{CloseReason, Config, Context, HalfClose, Handler, LinesCodec, Server};
//!
//! /// The back end: echoes lines.
//! struct Echo;
//! /// A client of the front server: its lines go to the back end through its partner.
//! struct Front {
//!     backend: SocketAddr,
//! }
//! /// The front's partner: the outbound connection to the back end.
//! struct Back;
//!
//! impl Handler for Echo {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line);
//!     }
//! }
//!
//! impl Handler for Front {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         if ctx.partner().is_none() {
//!             if let Err(e) = ctx.connect_partner(self.backend, Back) {
//!                 let (error, _back) = e.into_parts(); // the handler, back
//!                 ctx.send(format!("ERR back end: {}", error.kind()));
//!                 return ctx.close();
//!             }
//!         }
//!         // The partner's handler and a context for it. While the connect is under way,
//!         // what is sent waits in its output.
//!         ctx.with_partner::<Back, _>(|_back, back| back.send(line));
//!     }
//!     fn on_peer_closed(&mut self, ctx: &mut Context<'_, Self>) -> HalfClose {
//!         // The client is done sending: pass its FIN on, and keep relaying answers.
//!         match ctx.with_partner::<Back, _>(|_back, back| back.close_write()) {
//!             Some(()) => HalfClose::KeepWriting,
//!             None => HalfClose::Close, // no partner: nothing more will come
//!         }
//!     }
//!     fn on_partner_closed(&mut self, ctx: &mut Context<'_, Self>, reason: &CloseReason) {
//!         if let CloseReason::ConnectFailed(kind) = reason {
//!             ctx.send(format!("ERR back end: {kind}"));
//!         }
//!         ctx.close(); // after what was relayed
//!     }
//! }
//!
//! impl Handler for Back {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.with_partner::<Front, _>(|_front, front| front.send(format!("echo: {line}")));
//!     }
//!     // The default `on_peer_closed` closes once the back end has closed its side, and the
//!     // front hears of it in `on_partner_closed`.
//! }
//!
//! let config = || Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
//! let echo = Server::bind(config())?.start(|_peer| Echo)?;
//! let backend = echo.local_addr();
//! let front = Server::bind(config())?.start(move |_peer| Front { backend })?;
//!
//! // Two lines and the client's FIN go through; the answers and the back end's FIN come back.
//! let client = TcpStream::connect(front.local_addr())?;
//! (&client).write_all(b"one\ntwo\n")?;
//! client.shutdown(Shutdown::Write)?;
//! let mut answers = String::new();
//! (&client).read_to_string(&mut answers)?;
//! assert_eq!(answers, "echo: one\necho: two\n");
//!
//! // A back end that is not there: the connect is refused, and the front says so.
//! let nowhere = TcpListener::bind("127.0.0.1:0")?.local_addr()?; // closed again at once
//! let lost = Server::bind(config())?.start(move |_peer| Front { backend: nowhere })?;
//! let client = TcpStream::connect(lost.local_addr())?;
//! (&client).write_all(b"one\n")?;
//! let mut answer = String::new();
//! (&client).read_to_string(&mut answer)?;
//! assert_eq!(answer, "ERR back end: connection refused\n");
//! drop(client);
//!
//! let stats = lost.stats_handle();
//! lost.shutdown()?;
//! let total = stats.snapshot().total(); // final once the reactors have stopped
//! assert_eq!((total.connects, total.connect_failures, total.outbound), (1, 1, 0));
//! front.shutdown()?;
//! echo.shutdown()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **Shared back-end connections.** Any connection can reach another of its reactor by id:
//! [`with_conn`](crate::Context::with_conn) runs a closure with that connection's handler and
//! a context for it, directly, as `with_partner` does. It gives `None` (and the closure does
//! not run) when the id is gone, on another reactor, of another handler type, or a connection
//! already in a callback further up: the one calling, or one that called into it, since calls
//! never re-enter a connection. [`reactor_local`](crate::Context::reactor_local) is state kept
//! per reactor and shared by all its connections with no lock: the place for a reactor's own
//! connections to a back end, shared by its clients. The gateway example
//! (`examples/gateway/`) works so: a client sends its query to one of its reactor's Redis
//! connections with `with_conn` (a [`RespClientCodec`](crate::RespClientCodec) encodes it)
//! and adds its own id to that connection's queue of waiting requests; the back-end handler
//! takes the front of the queue as each reply arrives and hands the reply to that client with
//! `with_conn`; and its `on_close`, whose context reaches the other connections too, answers
//! the clients still waiting. A timer of the client is the request's deadline (section 7).
//!
//! **Shutdown.** A draining connection closes at its first quiet moment (section 2), but the
//! framework cannot see a request that waits on another connection:
//! [`Handler::is_busy`](crate::Handler::is_busy) returning `true` holds the close off (it is
//! asked again after each callback). The gateway's clients are busy while a request waits,
//! its back-end connections while replies are owed. A session that must run to its end calls
//! [`keep_open`](crate::Context::keep_open) in `on_shutdown`: it stays open until it closes on
//! its own or the shutdown deadline passes, as the proxy example (`examples/proxy/`) keeps
//! each relayed pair. A connection whose connect completes during a shutdown drains from then
//! on: its `on_shutdown` runs as soon as it is connected.
//!
//! **From other threads.** [`Running::connector`](crate::Running::connector) gives a
//! [`Connector`](crate::Connector) (`Send + Clone`) that opens an outbound connection on a
//! chosen reactor from setup code or any thread; a closure makes the handler there, so the
//! handler need not be `Send`. A connect that cannot start there is logged at warn level and
//! its handler dropped, since no caller is left to hand it back to. A bound server gives one
//! too ([`Server::connector`](crate::Server::connector)), before it starts: a
//! [`run_with`](crate::run_with) setup step hands it to a periodic task (section 8), which
//! then opens (and, after a failure and a back-off, reopens) a connection that must stay up
//! whether or not any client is connected, as the chat example's links to Redis do.
//!
//! **Testing.** [`TestConnection::connecting`](crate::TestConnection::connecting) drives an
//! outbound handler whose connect is under way: nothing runs until the test says
//! [`connected`](crate::TestConnection::connected) (`on_open`) or
//! [`connect_fails`](crate::TestConnection::connect_fails) (`on_connect_failed`, then the
//! close), or [`advance`](crate::TestConnection::advance) passes the connect timeout;
//! [`is_reset`](crate::TestConnection::is_reset) tells whether a connection ended with
//! [`reset`](crate::Context::reset). A handler that connects from a `TestConnection` gets a
//! `ConnectError` (there is no reactor), so relays and shared back ends are tested over
//! sockets, as above.
//!
//! ```
//! use std::io::ErrorKind;
//! use std::time::Duration;
//! use turbine::{CloseReason, Config, Context, Handler, LinesCodec, TestConnection};
//!
//! /// A back-end client: logs in as soon as it is connected.
//! struct Login {
//!     failed: Option<ErrorKind>,
//! }
//!
//! impl Handler for Login {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
//!         ctx.send("LOGIN app");
//!     }
//!     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//!     fn on_connect_failed(&mut self, _ctx: &mut Context<'_, Self>, error: std::io::Error) {
//!         self.failed = Some(error.kind());
//!     }
//! }
//!
//! let mut conn = TestConnection::connecting(Login { failed: None });
//! assert_eq!(conn.take_output(), b""); // nothing runs while it connects
//! conn.connected();
//! assert_eq!(conn.take_output(), b"LOGIN app\n");
//!
//! let mut refused = TestConnection::connecting(Login { failed: None });
//! refused.connect_fails(ErrorKind::ConnectionRefused.into());
//! assert_eq!(refused.handler().failed, Some(ErrorKind::ConnectionRefused));
//! let reason = CloseReason::ConnectFailed(ErrorKind::ConnectionRefused);
//! assert_eq!(refused.close_reason(), Some(&reason));
//!
//! let mut silent = TestConnection::connecting(Login { failed: None });
//! silent.advance(Duration::from_secs(5)); // TURBINE_CONNECT_TIMEOUT's default
//! assert_eq!(silent.handler().failed, Some(ErrorKind::TimedOut));
//! ```
//!
//! # 11. Speaking TLS
//!
//! TLS is a layer of the connection, below the codec: set `TURBINE_TLS_CERT` (a PEM certificate
//! chain) and `TURBINE_TLS_KEY` (its PEM private key: PKCS#8, RSA or SEC1) and the main
//! listener speaks TLS 1.3 and 1.2 (rustls, with the `ring` provider), with every codec and
//! handler unchanged:
//!
//! ```text
//! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
//!     -subj /CN=localhost -addext subjectAltName=DNS:localhost \
//!     -addext basicConstraints=critical,CA:FALSE -keyout key.pem -out cert.pem
//! TURBINE_TLS_CERT=cert.pem TURBINE_TLS_KEY=key.pem cargo run --release --example echo
//! openssl s_client -connect 127.0.0.1:7878 -CAfile cert.pem -servername localhost -quiet
//! ```
//!
//! What changes for a handler:
//!
//! - **`on_open` comes after the handshake**, so a handler never sees a connection whose peer
//!   has not proved it speaks TLS; from then on [`ctx.tls()`](crate::Context::tls) gives the
//!   [`TlsInfo`](crate::TlsInfo): the server name the client asked for (SNI), the protocol
//!   ALPN settled on (`TURBINE_TLS_ALPN` lists the ones offered, in order of preference), the
//!   version. A handshake not done within `TURBINE_TLS_HANDSHAKE_TIMEOUT` (10 s) is closed.
//! - **Close reasons tell a clean end from a cut one.** A peer that sends `close_notify`
//!   closes as [`PeerClosed`](crate::CloseReason::PeerClosed); one that drops the TCP
//!   connection without it shows as `Io(UnexpectedEof)`, which is also what a truncation
//!   attack looks like, so a protocol whose messages carry no length of their own should not
//!   take that input as complete. A bad handshake or record is
//!   [`Tls`](crate::CloseReason::Tls) with rustls's reason (the client got an alert where one
//!   fits, and the reactor's `tls_failures` counts it); a stalled one is
//!   [`HandshakeTimeout`](crate::CloseReason::HandshakeTimeout). Every close this side makes,
//!   even a half-close, sends `close_notify` before the FIN, and a peer's `close_notify` is
//!   answered with ours.
//! - **SIGHUP reloads the certificate and key** (under [`run`](crate::run)): new handshakes
//!   use the new pair, sessions already open keep theirs, and a pair that does not load is
//!   logged with the reason and the old one stays. A bad pair at start is a configuration
//!   error, exit code 2, naming the variable.
//!
//! **Outbound connections over TLS.** [`Connect::tls`](crate::Connect::tls) takes a rustls
//! client configuration and the name the server's certificate must be valid for;
//! [`tls_client_config`](crate::tls_client_config) makes the configuration from a CA file
//! (TLS 1.3 and 1.2, ring, those roots only). The handshake follows the connect on the
//! reactor, bounded by `TURBINE_TLS_HANDSHAKE_TIMEOUT`; `on_open` runs once it is done, with
//! [`ctx.tls()`](crate::Context::tls) set, and a handshake that fails (an untrusted
//! certificate, the wrong name, a server that does not speak TLS) or stalls ends in
//! `on_connect_failed`, like a connect that fails, closing with `CloseReason::Tls` or
//! `HandshakeTimeout`:
//!
//! ```no_run
//! use turbine::rustls::pki_types::ServerName;
//! use turbine::{Config, Connect, Context, Handler, LinesCodec, tls_client_config};
//!
//! struct Backend;
//! impl Handler for Backend {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
//! }
//!
//! # fn open(ctx: &mut Context<'_, Backend>) -> Result<(), Box<dyn std::error::Error>> {
//! let tls = tls_client_config("/etc/backend/ca.pem")?; // once, at start-up
//! let to = Connect::to("10.0.0.7:7000".parse()?).tls(tls, ServerName::try_from("backend")?);
//! let id = ctx.connect(to, Backend).map_err(|e| e.to_string())?;
//! # let _ = id;
//! # Ok(())
//! # }
//! ```
//!
//! A program that needs more (client certificates, its own certificate resolver, several
//! names) builds its own rustls `ServerConfig`, with the rustls Turbine re-exports so the
//! versions agree, and hands it to [`Server::with_tls`](crate::Server::with_tls) for the main
//! listener or [`Server::listen_tls`](crate::Server::listen_tls) for another one:
//!
//! ```no_run
//! use std::sync::Arc;
//! use turbine::rustls::{self, pki_types::pem::PemObject};
//! use turbine::{Config, Context, Handler, RawCodec, Server};
//!
//! struct Echo;
//! impl Handler for Echo {
//!     type Codec = RawCodec;
//!     fn codec(&mut self, _config: &Config) -> RawCodec {
//!         RawCodec::new()
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
//!         ctx.send(bytes);
//!     }
//! }
//!
//! let certs = rustls::pki_types::CertificateDer::pem_file_iter("cert.pem")?
//!     .collect::<Result<Vec<_>, _>>()?;
//! let key = rustls::pki_types::PrivateKeyDer::from_pem_file("key.pem")?;
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let mut tls = rustls::ServerConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()?
//!     .with_no_client_auth()
//!     .with_single_cert(certs, key)?;
//! tls.alpn_protocols = vec![b"echo/1".to_vec()];
//! let running = Server::bind(Config::from_env()?)?
//!     .with_tls(Arc::new(tls))
//!     .start(|_peer| Echo)?;
//! running.join();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **A handshake costs the reactor CPU.** rustls is sans-I/O, so the whole handshake runs on
//! the reactor thread, and while it runs the reactor's other connections wait. Measured with
//! `cargo bench --bench tls` (BENCHMARKS.md) on this project's 2-core test machine, one full
//! TLS 1.3 handshake takes the server about **0.2 ms** with an ECDSA P-256 certificate and
//! about **1 ms** with RSA-2048 (signing with an RSA key is several times dearer; TLS 1.2
//! costs a little less than 1.3 for each). So a reactor completes some 4,500 full
//! ECDSA handshakes per second of CPU, or some 1,000 RSA ones, and a burst of new connections on
//! one reactor delays its established ones by the sum of their handshakes. What follows:
//!
//! - Use an **ECDSA P-256** certificate unless clients that only know RSA must connect: four to
//!   five times the handshakes per core, and a quarter or less of the stall each one causes.
//! - Run **one reactor per core** (the default): SO_REUSEPORT spreads new connections, and so
//!   handshakes, over every reactor.
//! - Expect **reconnect storms** (after a restart, or a load balancer's failover) to be
//!   handshake-bound: a server that must take N clients back at once needs N x 0.2 ms (ECDSA)
//!   of CPU spread over its reactors; `TURBINE_MAX_CONNECTIONS` caps what a reactor takes on.
//! - Keep `TURBINE_TLS_HANDSHAKE_TIMEOUT` short where clients are near, so that connections
//!   that never finish do not hold slots.
//! - Resumed sessions skip the certificate's signature: rustls's server keeps the last 256
//!   sessions of the process and resumes clients that offer one.
//!
//! # 12. Running, stopping, observing
//!
//! [`turbine::run`](crate::run) is the whole life of a program. For tests and programs that
//! embed a server, [`Server::bind`](crate::Server::bind) does everything that can fail before
//! a thread starts (a bad configuration, a port in use), and
//! [`start`](crate::Server::start) returns a [`Running`](crate::Running) at once:
//!
//! - [`stats`](crate::Running::stats) (or a [`StatsHandle`](crate::StatsHandle) from any
//!   thread): each reactor's counters (open, accepted connections; closed ones by
//!   [`CloseReason`](crate::CloseReason) and rejected ones by cap, in
//!   [`ClosedBy`](crate::ClosedBy) and [`RejectedBy`](crate::RejectedBy); bytes and frames
//!   each way, output buffered, panics, jobs pending, outbound connections open, connects
//!   started and failed, TLS handshakes, turns of the loop and how long each was busy),
//!   published once per turn of its loop, so a snapshot may lag by one turn;
//!   [`pool_stats`](crate::Running::pool_stats) for the worker pool.
//! - [`connector`](crate::Running::connector) opens outbound connections on the reactors from
//!   any thread (section 10).
//! - [`shutdown`](crate::Running::shutdown) stops gracefully and waits;
//!   [`shutdown_handle`](crate::Running::shutdown_handle) gives a
//!   [`ShutdownHandle`](crate::ShutdownHandle) that starts it from any thread (`run` calls it
//!   on SIGINT and SIGTERM), and [`join`](crate::Running::join) waits for the end. Dropping a
//!   `Running` shuts it down too, so a failing test does not leave a server behind.
//!
//! A shutdown closes every listener at once and drains each connection as section 2 says;
//! each reactor logs how many connections drained and how many were closed by force.
//!
//! ```
//! use std::io::{BufRead, BufReader, Read, Write};
//! use std::net::TcpStream;
//! use turbine::{Config, Context, Handler, LinesCodec, Server};
//!
//! /// Echoes lines, and says goodbye when the server shuts down.
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line);
//!     }
//!     fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
//!         ctx.send("bye");
//!     }
//! }
//!
//! let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
//! let running = Server::bind(config)?.start(|_peer| Echo)?;
//! let client = TcpStream::connect(running.local_addr())?;
//! let mut reader = BufReader::new(&client);
//! (&client).write_all(b"one\n")?;
//! let mut line = String::new();
//! reader.read_line(&mut line)?;
//! assert_eq!(line, "one\n");
//! assert_eq!(running.stats().total().open, 1);
//!
//! running.shutdown_handle().shutdown(); // returns at once
//! let mut rest = String::new();
//! reader.read_to_string(&mut rest)?; // the client is idle: goodbye, then our FIN
//! assert_eq!(rest, "bye\n");
//! drop(reader);
//! drop(client);
//!
//! let stats = running.stats_handle();
//! running.join()?;
//! let total = stats.snapshot().total(); // final once the reactors have stopped
//! assert_eq!((total.accepted, total.closed, total.frames_in), (1, 1, 1));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Metrics for Prometheus
//!
//! With `TURBINE_METRICS_ADDR=127.0.0.1:9100` (or
//! [`Config::metrics_addr`](crate::Config::metrics_addr)) the server has one more listener, on
//! its own reactors and bounded like any connection: `GET /metrics` answers in the Prometheus
//! text format, or OpenMetrics when the scraper's `Accept` asks for it (Prometheus does), and
//! `GET /health` answers `ok`. The same counters as the stats, per reactor
//! (`reactor="0"`...), become `turbine_*` families: `turbine_connections_open`,
//! `turbine_connections_closed_total{reason="idle_timeout"}` (the label is
//! [`CloseReason::label`](crate::CloseReason::label)), `turbine_bytes_received_total`,
//! `turbine_loop_busy_seconds` (a histogram of how long each turn of the loop took, the
//! loop's lag), `turbine_pool_queued` and the rest (the README lists them). They are read
//! from the published stats when a scrape comes, so the reactors count nothing more for them.
//!
//! A program adds its own figures to the same registry, [`Server::metrics`](crate::Server::metrics):
//! a [`prometheus_client`](crate::prometheus_client) counter or gauge it updates (an atomic,
//! no lock), a collector, or a gauge computed at each scrape, as the chat example counts its
//! members and rooms:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use turbine::prometheus_client::metrics::counter::Counter;
//! use turbine::{Config, MetricsFormat, Server};
//!
//! let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
//! let server = Server::bind(config)?;
//! let members = Arc::new(AtomicUsize::new(0));
//! let read = Arc::clone(&members);
//! server.metrics().gauge_fn("chat_members", "Members connected", move || {
//!     read.load(Ordering::Relaxed) as i64
//! });
//! let messages: Counter = Counter::default(); // `_total` is added when written
//! server.metrics().register("chat_messages", "Messages relayed", messages.clone());
//! members.fetch_add(2, Ordering::Relaxed);
//! messages.inc();
//!
//! let text = server.metrics().encode(MetricsFormat::Prometheus).unwrap();
//! assert!(text.contains("chat_members 2\n"));
//! assert!(text.contains("chat_messages_total 1\n"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 13. Testing without sockets
//!
//! [`TestConnection`](crate::TestConnection) runs a handler and its codec through the
//! reactor's own connection code, over an in-memory socket whose other end is the test; the
//! examples above use it throughout. What it gives:
//!
//! - **Input in any chunking:** each [`push`](crate::TestConnection::push) is one read;
//!   [`push_eof`](crate::TestConnection::push_eof) is the peer's FIN. Splitting the same bytes
//!   at every point is the cheapest way to find a protocol's partial-frame bugs.
//! - **Output:** [`take_output`](crate::TestConnection::take_output) as bytes,
//!   [`take_frames`](crate::TestConnection::take_frames) decoded by a client's decoder (an
//!   incomplete last frame is kept for the next call);
//!   [`output_len`](crate::TestConnection::output_len) for what waits in the connection.
//! - **A slow peer:** [`set_peer_window`](crate::TestConnection::set_peer_window) bounds the
//!   unread output the peer takes, like a socket buffer (section 5).
//! - **Time:** the clock stands still until [`advance`](crate::TestConnection::advance) moves
//!   it; timeouts and timers due by then fire (section 7).
//! - **Other threads:** [`handle`](crate::TestConnection::handle) gives a
//!   [`ConnHandle`](crate::ConnHandle); what handles and broadcasts send, and offloaded
//!   results, arrive on [`deliver`](crate::TestConnection::deliver) (which `take_output`
//!   calls) or [`finish_offloads`](crate::TestConnection::finish_offloads) (sections 3, 4, 6).
//! - **Outbound connections:** [`connecting`](crate::TestConnection::connecting) starts one
//!   whose connect is under way, which the test completes or fails (section 10).
//! - **Outcome:** [`close_reason`](crate::TestConnection::close_reason),
//!   [`stats`](crate::TestConnection::stats), and the handler itself
//!   ([`handler`](crate::TestConnection::handler)); [`shutdown`](crate::TestConnection::shutdown)
//!   plays a server shutdown (section 2).
//!
//! ```
//! use turbine::{CloseReason, Config, Context, Handler, LinesCodec, TestConnection};
//!
//! struct Upper;
//!
//! impl Handler for Upper {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.frame_limits())
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line.to_uppercase());
//!     }
//! }
//!
//! let input = b"abc\r\ndef\n";
//! for split in 0..=input.len() {
//!     let mut conn = TestConnection::new(Upper);
//!     conn.push(&input[..split]);
//!     conn.push(&input[split..]);
//!     conn.push_eof();
//!     let mut client = LinesCodec::new(64);
//!     assert_eq!(conn.take_frames(&mut client)?, ["ABC", "DEF"], "split at {split}");
//!     assert_eq!(conn.close_reason(), Some(&CloseReason::PeerClosed));
//!     assert_eq!(conn.stats().frames_in, 2);
//! }
//! # Ok::<(), turbine::CodecError>(())
//! ```
//!
//! Over real sockets, bind port 0 on `127.0.0.1` and read
//! [`Running::local_addr`](crate::Running::local_addr), as sections 8 to 12 do.
