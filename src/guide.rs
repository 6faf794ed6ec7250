//! A tour of Turbine, in the order a new protocol meets it.
//!
//! # 1. A protocol is a codec and a handler
//!
//! The codec turns bytes into frames and back ([`Decoder`](crate::Decoder),
//! [`Encoder`](crate::Encoder)); the handler reacts to frames. One handler value exists per
//! connection and lives on that connection's reactor thread, so its state is plain fields: no
//! locks, no `Arc`, no `Send`.
//!
//! ```
//! use turbine::{Config, Context, Handler, LinesCodec};
//!
//! /// Counts the lines of each connection and answers each with its number.
//! struct Counter {
//!     lines: u64,
//! }
//!
//! impl Handler for Counter {
//!     type Codec = LinesCodec;
//!
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.max_frame)
//!     }
//!
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         self.lines += 1;
//!         ctx.send(format!("{} {line}", self.lines));
//!     }
//! }
//! ```
//!
//! A program's `main` is then `turbine::run(Config::from_env(), |_peer| Counter { lines: 0 })`:
//! configuration from `TURBINE_*` variables (a bad value exits with code 2 before anything is
//! bound), one reactor per core, graceful shutdown on SIGINT or SIGTERM.
//!
//! # 2. The life of a connection
//!
//! 1. A reactor accepts it and calls the factory with the peer address, then
//!    [`Handler::codec`](crate::Handler::codec) and [`on_open`](crate::Handler::on_open).
//! 2. Each read is decoded into as many frames as it holds; each goes to
//!    [`on_frame`](crate::Handler::on_frame). What the handler sends meanwhile is encoded into
//!    the connection's output and written once, after the whole read is handled.
//! 3. Bad input goes to [`on_decode_error`](crate::Handler::on_decode_error), where a protocol
//!    can send an error reply; the connection then closes after flushing it.
//! 4. [`Context::close`](crate::Context::close), the peer closing, the idle timeout or a server
//!    shutdown end it: output is flushed, our side is shut down, and
//!    [`on_close`](crate::Handler::on_close) says why.
//!
//! A panic in any callback closes that connection alone and is counted in the stats.
//!
//! # 3. Sending from elsewhere
//!
//! [`Context::handle`](crate::Context::handle) gives a [`ConnHandle`](crate::ConnHandle):
//! `Send + Clone`, usable from any thread. Its frames go through the reactor's mailbox and are
//! encoded on the reactor. A send fails, handing the frame back, when the connection has closed
//! (a handle never reaches a later connection in the same slot) or when its output is over the
//! write limit: nothing buffers without bound.
//!
//! # 4. Backpressure
//!
//! When a connection's output passes `TURBINE_WRITE_HIGH_WATERMARK` the reactor stops reading
//! from it, so a peer that sends without reading is slowed by TCP itself; below
//! `TURBINE_WRITE_LOW_WATERMARK` reading resumes and [`on_writable`](crate::Handler::on_writable)
//! is called. `TURBINE_WRITE_LIMIT` caps what other threads can add.
//!
//! # 5. Running, stopping, observing
//!
//! [`Server::bind`](crate::Server::bind) binds every listener (port 0 picks one port for all);
//! [`start`](crate::Server::start) returns a [`Running`](crate::Running) whose
//! [`stats`](crate::Running::stats) reports per-reactor counters and whose
//! [`shutdown`](crate::Running::shutdown) stops it gracefully. Tests use exactly this:
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use turbine::{Config, Context, Handler, LinesCodec, Server};
//!
//! struct Echo;
//!
//! impl Handler for Echo {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.max_frame)
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line);
//!     }
//! }
//!
//! let config = Config::new().addr("127.0.0.1:0".parse().unwrap()).reactors(1);
//! let server = Server::bind(config)?.start(|_peer| Echo)?;
//!
//! let mut client = std::net::TcpStream::connect(server.local_addr())?;
//! client.write_all(b"one\ntwo\n")?;
//! let mut lines = BufReader::new(client).lines();
//! assert_eq!(lines.next().unwrap()?, "one");
//! assert_eq!(lines.next().unwrap()?, "two");
//! drop(lines);
//!
//! // Stats are published once per loop turn; after a shutdown they are final.
//! let stats = server.stats_handle();
//! server.shutdown()?;
//! assert_eq!(stats.snapshot().total().frames_in, 2);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 6. Testing a protocol without sockets
//!
//! [`TestConnection`](crate::TestConnection) drives a handler and its codec the way a reactor
//! does, with bytes you push in any chunking: read the output back as bytes or frames, see
//! whether and why the connection closed, and deliver what was sent through its handles. The
//! echo example's tests (`examples/echo.rs`) use it.
//!
//! ```
//! use turbine::{Config, Context, Handler, LinesCodec, TestConnection};
//!
//! struct Upper;
//!
//! impl Handler for Upper {
//!     type Codec = LinesCodec;
//!     fn codec(&mut self, config: &Config) -> LinesCodec {
//!         LinesCodec::new(config.max_frame)
//!     }
//!     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
//!         ctx.send(line.to_uppercase());
//!     }
//! }
//!
//! let mut conn = TestConnection::new(Upper);
//! for byte in b"abc\ndef\n" {
//!     conn.push(&[*byte]); // one byte at a time
//! }
//! assert_eq!(conn.take_output(), b"ABC\nDEF\n");
//! ```
