//! `Context`: what a handler can do with its connection during a callback.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use turbine_pool::{JobError, SubmitError};

use crate::connection::ConnIo;
use crate::handle::ConnShared;
use crate::mailbox::Message;
use crate::offload::{OffloadError, Pending};
use crate::reactor::Env;
use crate::{CloseReason, Config, ConnHandle, ConnId, FrameOut, Handler, ReactorStats};

/// The connection a [`Handler`] callback runs for: send frames, close, get a [`ConnHandle`].
///
/// A context lives only for one callback. Everything it does is local to the reactor thread:
/// sends are encoded into the connection's output at once and written when the callback (and
/// the other frames of the same read) are done, in one write.
pub struct Context<'a, H: Handler> {
    /// The connection's I/O state.
    pub(crate) io: &'a mut ConnIo<H>,
    /// The reactor's shared parts.
    pub(crate) env: &'a Env<H>,
    /// The reactor's counters.
    pub(crate) stats: &'a mut ReactorStats,
}

impl<H: Handler> Context<'_, H> {
    /// Encodes `frame` onto the connection's output.
    ///
    /// Output produced here is paced by the watermarks: once the connection's output passes the
    /// high watermark the reactor stops reading from it, so a request/response protocol cannot
    /// be made to buffer without bound. If the encoder refuses the frame the error is logged and
    /// the connection is closed after flushing what came before
    /// ([`CloseReason::Encode`]); later sends are dropped, since the peer would see a gap.
    pub fn send(&mut self, frame: impl Into<FrameOut<H>>) {
        self.io.encode(frame.into(), self.stats);
    }

    /// Closes the connection once its output is flushed: reading stops now, pending output is
    /// written, then the write side is shut down and the connection is closed when the peer
    /// closes too (or after a short linger). Frames still buffered are not delivered.
    pub fn close(&mut self) {
        self.io.begin_close(CloseReason::Closed);
    }

    /// Closes the connection at once, without waiting for output to drain: output not yet
    /// written is dropped, pending offloaded jobs are forgotten, and the socket is closed after
    /// one more non-blocking write. Frames sent after this call (in the same callback) go into
    /// that last write, best effort: the way to say `! too slow` to a peer that is not reading.
    pub fn close_now(&mut self) {
        self.io.close_now(CloseReason::Closed, self.stats);
    }

    /// [`close_now`](Context::close_now) with [`CloseReason::Overflow`].
    pub(crate) fn close_for_overflow(&mut self) {
        self.io.close_now(CloseReason::Overflow, self.stats);
    }

    /// A handle that sends to this connection from any thread.
    pub fn handle(&mut self) -> ConnHandle<FrameOut<H>> {
        let shared = self.io.shared.get_or_insert_with(ConnShared::new).clone();
        ConnHandle::new(
            self.io.id,
            Arc::clone(&self.env.mailbox),
            shared,
            self.env.config.write_limit,
        )
    }

    /// The connection's identity (reactor, slot, generation).
    pub fn id(&self) -> ConnId {
        self.io.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.io.peer
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
    /// [`OffloadError::Busy`] when `TURBINE_WORKER_QUEUE` jobs are already waiting (the job is
    /// dropped; answer "busy"), [`OffloadError::Unavailable`] when the pool is shutting down or
    /// could not start.
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
    ///         LinesCodec::new(config.max_frame)
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
    ///         if let Err(OffloadError::Busy) = offloaded {
    ///             ctx.send("ERR busy");
    ///         }
    ///     }
    /// }
    /// ```
    pub fn offload<T, J, D>(&mut self, job: J, done: D) -> Result<(), OffloadError>
    where
        T: Send + 'static,
        J: FnOnce() -> T + Send + 'static,
        D: FnOnce(&mut H, &mut Context<'_, H>, Result<T, JobError>) + 'static,
    {
        let pool = self.env.pool.get().ok_or(OffloadError::Unavailable)?;
        let seq = self.io.next_offload;
        let mailbox = Arc::clone(&self.env.mailbox);
        let ConnId {
            key, generation, ..
        } = self.io.id;
        let report = move |result: Result<T, JobError>| {
            let outcome = result.map(|value| Box::new(value) as Box<dyn Any + Send>);
            let msg = Message::Offloaded {
                key,
                generation,
                seq,
                outcome,
            };
            // Fails only if the reactor has stopped; the result is then moot.
            let _ = mailbox.post(msg);
        };
        pool.submit_with(job, report).map_err(|e| match e {
            SubmitError::Full(_) => OffloadError::Busy,
            SubmitError::Closed(_) => OffloadError::Unavailable,
        })?;
        self.io.next_offload += 1;
        self.stats.offloads += 1;
        self.io.offloads.push_back(Pending {
            seq,
            done: Box::new(move |handler, ctx, outcome| {
                let result = outcome.map(|value| {
                    *value
                        .downcast::<T>()
                        .expect("an offload result has the type its job returns")
                });
                done(handler, ctx, result);
            }),
            outcome: None,
            held: Vec::new(),
        });
        Ok(())
    }

    /// Offloaded jobs of this connection not yet answered.
    pub fn pending_offloads(&self) -> usize {
        self.io.offloads.len()
    }

    /// Index of the reactor that owns this connection (0-based).
    pub fn reactor(&self) -> usize {
        self.io.id.reactor
    }

    /// Output bytes queued and not yet written.
    pub fn output_len(&self) -> usize {
        self.io.pending_output()
    }

    /// Whether output is below the high watermark; a producer that sends more than it reads
    /// can stop while this is `false` and resume in [`Handler::on_writable`].
    pub fn is_writable(&self) -> bool {
        self.io.pending_output() <= self.env.config.write_high_watermark
    }

    /// Whether [`close`](Context::close) was called or the connection is otherwise closing.
    pub fn is_closing(&self) -> bool {
        self.io.is_closing()
    }

    /// The server's configuration.
    pub fn config(&self) -> &Config {
        &self.env.config
    }
}
