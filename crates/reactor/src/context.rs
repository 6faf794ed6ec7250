//! `Context`: what a handler can do with its connection during a callback.

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use turbine_pool::{JobError, SubmitError};

use crate::conn_timers::{TimerError, TimerId};
use crate::connection::ConnState;
use crate::core::Core;
use crate::mailbox::Message;
use crate::offload::OffloadError;
use turbine_codec::CodecError;

use crate::ProxyHeader;
use crate::connection::Step;
use crate::tls::TlsInfo;
use crate::{
    CloseReason, Config, ConnHandle, ConnId, Connect, ConnectError, FileRegion, FrameOut, Handler,
    Payload,
};

/// Where the frames a callback sends go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Behind the latest pending offloaded job, so replies keep request order.
    InOrder,
    /// Straight onto the output: the callback is a job's continuation, whose turn has come.
    Direct,
}

/// The connection a [`Handler`] callback runs for: send frames, close, set timers, offload
/// work, get a [`ConnHandle`].
///
/// A context lives only for one callback. Everything it does is local to the reactor thread:
/// sends are encoded into the connection's output at once and written when the callback (and
/// the other frames of the same read) are done, in one write.
pub struct Context<'a, H: Handler> {
    /// The connection's state.
    state: &'a mut ConnState<H>,
    /// The reactor's shared parts.
    core: &'a mut Core,
    /// Where sends go.
    route: Route,
}

impl<'a, H: Handler> Context<'a, H> {
    pub(crate) fn new(state: &'a mut ConnState<H>, core: &'a mut Core, route: Route) -> Self {
        Context { state, core, route }
    }
}

impl<H: Handler> Context<'_, H> {
    /// Encodes `frame` onto the connection's output.
    ///
    /// Output produced here is paced by the watermarks: once the connection's output passes the
    /// high watermark the reactor stops reading from it, so a request/response protocol cannot
    /// be made to buffer without bound. If the encoder refuses the frame (for example one over
    /// `TURBINE_MAX_FRAME_OUT` with a stock codec built from
    /// [`Config::frame_limits`]) the error is logged with the frame's size and the connection is
    /// closed after flushing what came before ([`CloseReason::Encode`], unless it was already
    /// closing for another reason); later sends are dropped, since the peer would see a gap.
    /// Sends after our side has finished closing are dropped.
    pub fn send(&mut self, frame: impl Into<FrameOut<H>>) {
        self.state.send(frame.into(), self.route, self.core);
    }

    /// Queues `bytes` that are already in the protocol's wire format, bypassing the encoder: a
    /// large buffer is queued as it is, not copied. For a relay passing bytes on (a proxy), or
    /// a reply encoded ahead of time. Paced and bounded like [`send`](Context::send); the
    /// caller promises the bytes are whole frames of the protocol (nothing checks them).
    pub fn send_encoded(&mut self, bytes: impl Into<Vec<u8>>) {
        self.state.send_encoded(bytes.into(), self.route, self.core);
    }

    /// Queues `region` of a file, for the kernel to send from the page cache to the socket
    /// (`sendfile(2)`) with no copy through user space: the zero-copy path of a file server.
    /// It takes its place in the output like a frame ([`send`](Context::send)'s order, behind
    /// pending offloaded jobs), and its bytes count as pending output until written, so the
    /// watermarks, [`output_len`](Context::output_len), [`is_writable`](Context::is_writable)
    /// and [`on_writable`](Handler::on_writable) pace a stream of regions as they pace bytes;
    /// it is written as the socket takes it, partial sends and the write timeout included, and
    /// the file stays open until it is written or the connection closes. Dropped, like a
    /// frame, once the connection no longer takes output.
    ///
    /// The range is read when it is sent, on the reactor thread: a page that is not in the page
    /// cache then is read from the disk right there, and every connection of the reactor waits.
    /// So queue only a range the worker pool has just brought into the page cache (an
    /// [`offload`](Context::offload)ed job that reads it), in windows of a few hundred KiB,
    /// the next one once the connection [`is_writable`](Context::is_writable), so that what
    /// was brought in is sent before memory pressure can evict it (nginx pairs `sendfile` with
    /// `aio threads` the same way). A file that ends before the region does (it shrank
    /// meanwhile) closes the connection, [`CloseReason::Io`] with `UnexpectedEof`: the peer
    /// sees the stream end short of what it was promised, never other bytes in their place.
    ///
    /// # Errors
    ///
    /// The region, handed back, when the socket cannot send files: on TLS (records are
    /// encrypted in user space) or off Linux. Read the range on the worker pool and
    /// [`send_encoded`](Context::send_encoded) the bytes instead; [`tls`](Context::tls) tells
    /// beforehand.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::fs::File;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use turbine_codec::LinesCodec;
    /// use turbine_reactor::{Config, Context, FileRegion, Handler, TestConnection};
    ///
    /// /// Each line names a file: answers its length, then its bytes.
    /// struct Files;
    ///
    /// impl Handler for Files {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, path: String) {
    ///         // Opening and reading wait on the disk: on the worker pool. Reading the file
    ///         // there brings it into the page cache, where the reactor's `sendfile` finds it.
    ///         let open = move || -> std::io::Result<(File, usize)> {
    ///             let file = File::open(path)?;
    ///             let len = std::io::copy(&mut &file, &mut std::io::sink())? as usize;
    ///             Ok((file, len))
    ///         };
    ///         let offloaded = ctx.offload(open, |_files, ctx, opened| match opened {
    ///             Ok(Ok((file, len))) => {
    ///                 ctx.send(len.to_string());
    ///                 if ctx.send_file(FileRegion::new(Arc::new(file), 0, len)).is_err() {
    ///                     ctx.close(); // TLS: a real server sends the bytes instead
    ///                 }
    ///             }
    ///             _ => ctx.send("ERR no such file"),
    ///         });
    ///         if offloaded.is_err() {
    ///             ctx.send("ERR busy");
    ///         }
    ///     }
    /// }
    ///
    /// let path = std::env::temp_dir().join(format!("send-file-doc-{}", std::process::id()));
    /// std::fs::write(&path, b"file bytes\n")?;
    /// let mut conn = TestConnection::new(Files);
    /// conn.push(format!("{}\n", path.display()).as_bytes());
    /// assert!(conn.finish_offloads(Duration::from_secs(10)));
    /// assert_eq!(conn.take_output(), b"11\nfile bytes\n");
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_file(&mut self, region: FileRegion) -> Result<(), FileRegion> {
        self.state.send_file(region, self.route, self.core)
    }

    /// Closes the connection once its output is flushed: frames stop being delivered now
    /// (frames still buffered are dropped; input that arrives is read and discarded, so the
    /// peer is never stuck writing), pending output and the replies of pending offloaded jobs
    /// are written, then our side is shut down. Handles fail from now on. Frames this callback
    /// sends after the call still go out, before the close.
    pub fn close(&mut self) {
        self.state.begin_close(CloseReason::Closed);
    }

    /// Closes the connection without waiting for its peer to catch up: frames not yet started
    /// and pending offloaded jobs are dropped, the frame being written (if a write stopped in
    /// the middle of it) is finished, so the peer never sees a torn frame, then what this
    /// callback sends after the call goes out (best effort, within `TURBINE_WRITE_TIMEOUT`),
    /// and the connection closes. The way to say `! too slow` to a peer that is not reading.
    pub fn close_now(&mut self) {
        self.state.close_now(CloseReason::Closed, self.core);
    }

    /// [`close_now`](Context::close_now), with [`CloseReason::Overflow`] as the reason: for an
    /// [`on_overflow`](Handler::on_overflow) that sends a goodbye before cutting a slow peer off
    /// (the default `on_overflow` calls it and sends nothing).
    pub fn close_for_overflow(&mut self) {
        self.state.close_now(CloseReason::Overflow, self.core);
    }

    /// Encodes `frame` once with this connection's own encoder, for [`broadcast`](crate::broadcast)
    /// to connections of the same protocol (this one included, or not).
    ///
    /// # Errors
    ///
    /// The encoder's refusal; nothing is sent and the connection is unaffected.
    pub fn payload(
        &mut self,
        frame: impl Into<FrameOut<H>>,
    ) -> Result<Payload<FrameOut<H>>, CodecError> {
        self.state.encode_payload(frame.into())
    }

    /// A handle that sends to this connection (or closes it) from any thread.
    pub fn handle(&mut self) -> ConnHandle<FrameOut<H>> {
        let shared = self.state.shared();
        let mailbox = self.core.mailbox::<H>();
        ConnHandle::new(
            self.state.id(),
            mailbox,
            shared,
            self.core.config().write_limit,
        )
    }

    /// Opens an outbound TCP connection to `to` on this reactor, served by `handler` (with its
    /// own codec): returns its id at once, without waiting. The connect never blocks: when it
    /// completes, the new connection's [`on_open`](Handler::on_open) runs; if it fails or
    /// times out (`TURBINE_CONNECT_TIMEOUT`, or [`Connect::timeout`]), its
    /// [`on_connect_failed`](Handler::on_connect_failed) runs and it closes. Frames sent to it
    /// before it is connected (through [`with_conn`](Context::with_conn)) wait in its output
    /// and go first.
    ///
    /// An outbound connection is a connection like any other: it counts against
    /// `TURBINE_MAX_CONNECTIONS`, has the idle, frame and write timeouts, backpressure, panic
    /// isolation, takes part in a graceful shutdown, and shows in the stats (`outbound`,
    /// `connects`, `connect_failures`). `to` is an address: a reactor never resolves names
    /// (see [`resolve`](Context::resolve)).
    ///
    /// # Errors
    ///
    /// The connect could not even start (out of descriptors, over `TURBINE_MAX_CONNECTIONS`,
    /// an address refused at once, or no reactor: a [`TestConnection`](crate::TestConnection));
    /// the handler is handed back.
    pub fn connect<P: Handler>(
        &mut self,
        to: impl Into<Connect>,
        handler: P,
    ) -> Result<ConnId, ConnectError<P>> {
        self.core.connect(to.into(), handler, None)
    }

    /// [`connect`](Context::connect), linking the new connection to this one as partners: the
    /// two are coupled by backpressure (each stops reading while the other's output is over
    /// the high watermark, since what it reads goes there), and when one closes the other's
    /// [`on_partner_closed`](Handler::on_partner_closed) runs. A relay (a proxy's client and
    /// upstream) is a pair of partners; each reaches the other with
    /// [`with_partner`](Context::with_partner).
    ///
    /// A partner's idle clock counts its writes as well as its reads, so the idle timeout
    /// closes a relayed pair once neither side has read or written for that long, and a
    /// one-way stream (a download whose client sends nothing) is not cut while its bytes flow
    /// (output that stops moving is the write timeout's to judge).
    ///
    /// # Errors
    ///
    /// As for [`connect`](Context::connect); also `AlreadyExists` if this connection already
    /// has a partner.
    pub fn connect_partner<P: Handler>(
        &mut self,
        to: impl Into<Connect>,
        handler: P,
    ) -> Result<ConnId, ConnectError<P>> {
        if self.state.partner().is_some() {
            let why = "this connection already has a partner";
            return Err(ConnectError::new(
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, why),
                handler,
            ));
        }
        let id = self
            .core
            .connect(to.into(), handler, Some(self.state.id()))?;
        self.state.link(id);
        Ok(id)
    }

    /// This connection's partner, while it is open.
    pub fn partner(&self) -> Option<ConnId> {
        self.state.partner()
    }

    /// Runs `f` with the handler and a context of connection `id`, another connection of this
    /// reactor whose handler is a `P`, directly: no channel, no copy. What `f` sends is
    /// written in this turn of the loop or the next; it can close that connection, pause its
    /// reading, read its handler's state. A connection that is closing still runs `f` (what it
    /// sends then follows its context's rules: kept before its FIN, dropped after). Returns
    /// `None` (and `f` does not run) if `id` is not a connection of this reactor with a `P`
    /// handler (closed, another reactor's, another type), or is the connection running this
    /// callback (or one that called into it: calls never nest back). A panic in `f` closes
    /// that connection (its partner, if it was this one, hears of it when this callback ends).
    pub fn with_conn<P: Handler, R>(
        &mut self,
        id: ConnId,
        f: impl FnOnce(&mut P, &mut Context<'_, P>) -> R,
    ) -> Option<R> {
        if id.reactor() != self.core.index() {
            return None;
        }
        let mut result = None;
        self.core
            .step_typed::<P>(id.slot(), id.serial(), |conn, core| {
                match conn.run(core, f) {
                    Ok(value) => {
                        result = Some(value);
                        Step::Open
                    }
                    Err(_) => conn.panicked(core),
                }
            });
        result
    }

    /// [`with_conn`](Context::with_conn) for this connection's partner.
    pub fn with_partner<P: Handler, R>(
        &mut self,
        f: impl FnOnce(&mut P, &mut Context<'_, P>) -> R,
    ) -> Option<R> {
        let partner = self.state.partner()?;
        self.with_conn(partner, f)
    }

    /// State the program keeps per reactor, shared by every connection of this reactor (of any
    /// handler type) with no lock: a `T` made with `Default` on first use. For example, the
    /// back-end connections a reactor's clients share.
    pub fn reactor_local<T: Default + 'static>(&mut self) -> &mut T {
        self.core.local::<T>()
    }

    /// Stops reading from this connection until [`resume_reading`](Context::resume_reading),
    /// whatever the watermarks say: input waits in the kernel, and the peer is slowed by TCP.
    /// Frames already read are still delivered (called from `on_frame`, the rest of that read
    /// follows): a handler that must hold its input queues those.
    pub fn pause_reading(&mut self) {
        self.state.pause_reading();
    }

    /// Reads again after [`pause_reading`](Context::pause_reading).
    pub fn resume_reading(&mut self) {
        self.state.resume_reading(self.core);
    }

    /// Half-closes: our FIN goes out once the output queued so far is written, and the
    /// connection keeps reading. Frames sent after this are dropped. Once the peer has closed
    /// its side too, the connection closes ([`CloseReason::PeerClosed`]).
    pub fn close_write(&mut self) {
        self.state.close_write(self.core);
    }

    /// Closes at once with a reset (SO_LINGER 0): output not yet written is dropped and the
    /// peer sees `ECONNRESET`, not a clean end: for a relay whose other side failed, so the
    /// peer does not take a cut stream for a complete one ([`CloseReason::Reset`]).
    pub fn reset(&mut self) {
        self.state.reset();
    }

    /// During a graceful shutdown (in [`on_shutdown`](Handler::on_shutdown) or later): keeps
    /// this connection open until it closes on its own or the shutdown deadline passes,
    /// instead of closing it at its first quiet moment: for a session that must run to its end
    /// (a relayed connection, a request waiting on another connection).
    pub fn keep_open(&mut self) {
        self.state.keep_open();
    }

    /// Resolves `host` (a DNS name or an address) and `port` on the worker pool, since a lookup
    /// blocks, and calls `done` on this connection's reactor with the addresses, in request
    /// order like any [`offload`](Context::offload). Then [`connect`](Context::connect) to one.
    ///
    /// # Errors
    ///
    /// As for [`offload`](Context::offload): the pool's queue is full or it is unavailable.
    pub fn resolve<D>(
        &mut self,
        host: impl Into<String>,
        port: u16,
        done: D,
    ) -> Result<(), OffloadError<()>>
    where
        D: FnOnce(&mut H, &mut Context<'_, H>, std::io::Result<Vec<SocketAddr>>) + 'static,
    {
        use std::net::ToSocketAddrs;
        let host = host.into();
        let lookup = move || (host.as_str(), port).to_socket_addrs().map(Vec::from_iter);
        let reply = move |handler: &mut H, ctx: &mut Context<'_, H>, result| {
            let addrs = match result {
                Ok(addrs) => addrs,
                Err(e) => Err(std::io::Error::other(format!("name lookup failed: {e}"))),
            };
            done(handler, ctx, addrs);
        };
        self.offload(lookup, reply).map_err(|e| match e {
            OffloadError::Busy(_) => OffloadError::Busy(()),
            OffloadError::Unavailable(_) => OffloadError::Unavailable(()),
        })
    }

    /// The connection's identity, unique in the process.
    pub fn id(&self) -> ConnId {
        self.state.id()
    }

    /// The TLS session's facts (the server name the client asked for, the protocol ALPN
    /// settled on, the version), on a TLS connection; `None` on a plain one. A TLS connection's
    /// `on_open` comes after its handshake, so this is set in every callback.
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.state.tls()
    }

    /// The peer's address: the client's, from the PROXY header when the listener takes them
    /// (`TURBINE_PROXY_PROTOCOL`; [`proxy`](Context::proxy) has the balancer's), else the
    /// socket's peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.state.peer()
    }

    /// The address the peer reached: the destination a PROXY header names, else the socket's
    /// local address. An outbound connection's is the local end of its socket, known once it
    /// connects (`0.0.0.0:0` in `on_connect_failed`).
    pub fn local_addr(&self) -> SocketAddr {
        self.state.local()
    }

    /// The PROXY header the connection started with, on a listener that takes them
    /// (`TURBINE_PROXY_PROTOCOL`): the balancer's address, the TLVs. `None` otherwise.
    pub fn proxy(&self) -> Option<&ProxyHeader> {
        self.state.proxy()
    }

    /// Calls [`Handler::on_timer`] with `tag` once `after` has passed, unless cancelled or the
    /// connection starts closing first. Timers are per connection, at most
    /// [`MAX_TIMERS`](crate::MAX_TIMERS) pending at once, and fire on the connection's
    /// reactor between two turns of its loop (never early; late by at most one turn).
    ///
    /// # Errors
    ///
    /// [`TimerError::TooMany`] past [`MAX_TIMERS`](crate::MAX_TIMERS),
    /// [`TimerError::Closing`] once the connection no longer delivers frames.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use turbine_reactor::{Config, Context, Handler, TestConnection};
    /// use turbine_codec::LinesCodec;
    ///
    /// /// Answers each line after a delay given in milliseconds.
    /// struct Later;
    ///
    /// impl Handler for Later {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
    ///         let ms: u64 = line.parse().unwrap_or(0);
    ///         let _ = ctx.set_timer(Duration::from_millis(ms), ms);
    ///     }
    ///     fn on_timer(&mut self, ctx: &mut Context<'_, Self>, tag: u64) {
    ///         ctx.send(format!("{tag} ms"));
    ///     }
    /// }
    ///
    /// let mut conn = TestConnection::new(Later);
    /// conn.push(b"200\n100\n");
    /// conn.advance(Duration::from_millis(150));
    /// assert_eq!(conn.take_output(), b"100 ms\n");
    /// conn.advance(Duration::from_millis(100));
    /// assert_eq!(conn.take_output(), b"200 ms\n");
    /// ```
    pub fn set_timer(&mut self, after: Duration, tag: u64) -> Result<TimerId, TimerError> {
        self.state.set_timer(self.core.now() + after, tag)
    }

    /// Cancels a timer; `false` if it already fired or was cancelled.
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.state.cancel_timer(id)
    }

    /// The time this turn of the reactor's loop began: what timers and timeouts count from
    /// (in a [`TestConnection`](crate::TestConnection), a clock the test moves).
    pub fn now(&self) -> Instant {
        self.core.now()
    }

    /// Runs `job` on the worker pool and, when it is done, `done` on this connection's reactor
    /// with its result: `Ok(value)`, or `Err(JobError::Panicked)` if it panicked (the pool keeps
    /// its thread). Returns at once.
    ///
    /// Results come back in the order the jobs were issued, even though jobs run in parallel.
    /// Frames this handler sends while jobs are pending are written after the reply of the
    /// latest pending job, so replies keep request order. A closing connection waits for its
    /// pending jobs before it closes; if the connection is gone when a result arrives, the
    /// result is dropped and `done` never runs.
    ///
    /// The pool (`TURBINE_WORKERS` threads, at `TURBINE_WORKER_PRIORITY`) starts on first use.
    ///
    /// # Errors
    ///
    /// [`OffloadError::Busy`] when `TURBINE_WORKER_QUEUE` jobs are already waiting (answer
    /// "busy", or run the job handed back yourself), [`OffloadError::Unavailable`] when the
    /// pool is shutting down or could not start. Both hand `job` back; `done` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use turbine_reactor::{Config, Context, Handler, OffloadError};
    /// use turbine_codec::LinesCodec;
    ///
    /// struct Squares;
    ///
    /// impl Handler for Squares {
    ///     type Codec = LinesCodec;
    ///     fn codec(&mut self, config: &Config) -> LinesCodec {
    ///         LinesCodec::new(config.frame_limits())
    ///     }
    ///     fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
    ///         let Ok(n) = line.parse::<u64>() else {
    ///             return ctx.send("ERR not a number");
    ///         };
    ///         let offloaded = ctx.offload(
    ///             move || n.wrapping_mul(n), // runs on a worker thread
    ///             |_handler, ctx, result| match result {
    ///                 Ok(square) => ctx.send(square.to_string()),
    ///                 Err(_) => ctx.send("ERR internal"),
    ///             },
    ///         );
    ///         if let Err(OffloadError::Busy(_job)) = offloaded {
    ///             ctx.send("ERR busy");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn offload<T, J, D>(&mut self, job: J, done: D) -> Result<(), OffloadError<J>>
    where
        T: Send + 'static,
        J: FnOnce() -> T + Send + 'static,
        D: FnOnce(&mut H, &mut Context<'_, H>, Result<T, JobError>) + 'static,
    {
        let mailbox = self.core.mailbox::<H>();
        let Some(pool) = self.core.pool().get() else {
            return Err(OffloadError::Unavailable(job));
        };
        let (id, seq) = self.state.next_offload();
        let report = move |result: Result<T, JobError>| {
            let outcome = result.map(|value| Box::new(value) as Box<dyn Any + Send>);
            let msg = Message::Offloaded {
                key: id.slot(),
                serial: id.serial(),
                seq,
                outcome,
            };
            // Fails only if the reactor has stopped; the result is then moot.
            let _ = mailbox.post(msg);
        };
        pool.submit_with(job, report).map_err(|e| match e {
            SubmitError::Full(job) => OffloadError::Busy(job),
            SubmitError::Closed(job) => OffloadError::Unavailable(job),
        })?;
        self.core.stats_mut().offloads += 1;
        self.state
            .push_offload(Box::new(move |handler, ctx, outcome| {
                let result = outcome.map(|value| {
                    *value
                        .downcast::<T>()
                        .expect("an offload result has the type its job returns")
                });
                done(handler, ctx, result);
            }));
        Ok(())
    }

    /// Offloaded jobs of this connection not yet answered.
    pub fn pending_offloads(&self) -> usize {
        self.state.pending_offloads()
    }

    /// Index of the reactor that owns this connection (0-based).
    pub fn reactor(&self) -> usize {
        self.core.index()
    }

    /// Output bytes queued and not yet written.
    pub fn output_len(&self) -> usize {
        self.state.pending_output()
    }

    /// Whether output is below the high watermark; a producer that sends more than it reads
    /// can stop while this is `false` and resume in [`Handler::on_writable`].
    pub fn is_writable(&self) -> bool {
        self.state.pending_output() <= self.core.config().write_high_watermark
    }

    /// Whether the connection is closing: [`close`](Context::close) was called, the peer
    /// closed, a timeout or an error ended it. Frames are no longer delivered.
    pub fn is_closing(&self) -> bool {
        self.state.is_closing()
    }

    /// The server's configuration.
    pub fn config(&self) -> &Config {
        self.core.config()
    }
}

impl<H: Handler> fmt::Debug for Context<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("id", &self.state.id())
            .field("peer", &self.state.peer())
            .field("output_len", &self.state.pending_output())
            .field("closing", &self.state.is_closing())
            .finish()
    }
}
