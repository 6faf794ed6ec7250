//! The two handlers of a relayed pair: `Client`, the accepted connection, and `Upstream`, its
//! outbound partner on the same reactor.
//!
//! Bytes go from one to the other with `with_partner` (no channel, no copy beyond the read
//! buffer and the output queue), the framework couples their backpressure (a side whose
//! partner's output is over the high watermark stops reading), half-closes are relayed with
//! `close_write` (`on_peer_closed` keeps the side open for the other direction), and a side
//! that fails resets its partner.

use std::sync::Arc;

use turbine::{CloseReason, Config, Connect, Context, HalfClose, Handler, RawCodec};

use super::upstreams::{Choice, Upstreams};

/// What every pair shares: the upstreams and how long a connect may take.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The upstream servers, their connection counts and back-offs.
    pub(crate) upstreams: Upstreams,
    /// `PROXY_CONNECT_TIMEOUT`.
    pub(crate) connect_timeout: std::time::Duration,
}

/// Where a client is with its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// A connect to this upstream is under way; the client's bytes wait in `waiting`.
    Connecting(Choice),
    /// Connected: bytes go straight through.
    Relaying(Choice),
    /// No upstream could be reached: the client is being closed.
    Failed,
}

/// The accepted side of a pair.
#[derive(Debug)]
pub(crate) struct Client {
    /// Shared by every pair.
    shared: Arc<Shared>,
    /// Where it is with its upstream.
    stage: Stage,
    /// Upstreams already tried for this client, a bit per index.
    tried: u64,
    /// Bytes from the client the upstream has not taken yet (it is still connecting), kept so
    /// they can go to another upstream if this one fails. Bounded: reading pauses past the
    /// high watermark.
    waiting: Vec<u8>,
    /// The client has closed its side; relayed once an upstream is connected.
    ended: bool,
}

impl Client {
    /// A client of the proxy, not yet relayed anywhere.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Client {
            shared,
            stage: Stage::Failed,
            tried: 0,
            waiting: Vec::new(),
            ended: false,
        }
    }

    /// Connects to the next upstream in service this client has not tried; closes the client
    /// if none is left.
    fn try_next(&mut self, ctx: &mut Context<'_, Self>) {
        let upstreams = &self.shared.upstreams;
        while let Some(choice) = upstreams.choose(self.tried, ctx.now()) {
            self.tried |= 1 << choice.index;
            let to = Connect::to(choice.addr).timeout(self.shared.connect_timeout);
            let upstream = Upstream {
                shared: Arc::clone(&self.shared),
                choice,
            };
            match ctx.connect_partner(to, upstream) {
                Ok(_) => {
                    self.stage = Stage::Connecting(choice);
                    return;
                }
                Err(e) => {
                    // Not even started (out of descriptors...): the next one, at once.
                    upstreams.release(choice.index);
                    upstreams.failed(choice.index, e.error(), ctx.now());
                }
            }
        }
        upstreams.warn(format_args!(
            "{}: no upstream could be reached; closing the client",
            ctx.peer_addr()
        ));
        self.stage = Stage::Failed;
        self.waiting = Vec::new();
        ctx.close();
    }
}

impl Handler for Client {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        self.try_next(ctx);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
        match self.stage {
            Stage::Relaying(_) => {
                ctx.with_partner::<Upstream, _>(|_, upstream| upstream.send_encoded(bytes));
            }
            Stage::Connecting(_) => {
                self.waiting.extend_from_slice(&bytes);
                if self.waiting.len() > ctx.config().write_high_watermark {
                    ctx.pause_reading(); // until the upstream takes them
                }
            }
            Stage::Failed => {}
        }
    }

    fn on_peer_closed(&mut self, ctx: &mut Context<'_, Self>) -> HalfClose {
        self.ended = true;
        if let Stage::Relaying(_) = self.stage {
            // The client's FIN becomes the upstream's, after what came before it.
            ctx.with_partner::<Upstream, _>(|_, upstream| upstream.close_write());
        }
        // The other direction goes on until the upstream closes its side.
        HalfClose::KeepWriting
    }

    fn on_partner_closed(&mut self, ctx: &mut Context<'_, Self>, reason: &CloseReason) {
        match (self.stage, reason) {
            (Stage::Connecting(_), CloseReason::ConnectFailed(_)) => self.try_next(ctx),
            (_, reason) if is_clean(reason) => ctx.close(),
            // The upstream failed: the client must not take a cut stream for a whole one.
            _ => ctx.reset(),
        }
    }

    fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.keep_open(); // a relayed session runs to its end, or to the shutdown deadline
    }
}

/// The outbound side of a pair: the connection to the upstream chosen for a client.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// Shared by every pair.
    shared: Arc<Shared>,
    /// Which upstream.
    choice: Choice,
}

impl Handler for Upstream {
    type Codec = RawCodec;

    fn codec(&mut self, _config: &Config) -> RawCodec {
        RawCodec::new()
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        self.shared.upstreams.succeeded(self.choice.index);
        let taken = ctx.with_partner::<Client, _>(|client, client_ctx| {
            if let Stage::Connecting(choice) = client.stage {
                client.stage = Stage::Relaying(choice);
            }
            client_ctx.resume_reading();
            (std::mem::take(&mut client.waiting), client.ended)
        });
        let Some((waiting, ended)) = taken else {
            return ctx.close(); // the client is gone
        };
        if !waiting.is_empty() {
            ctx.send_encoded(waiting);
        }
        if ended {
            ctx.close_write();
        }
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Vec<u8>) {
        ctx.with_partner::<Client, _>(|_, client| client.send_encoded(bytes));
    }

    fn on_peer_closed(&mut self, ctx: &mut Context<'_, Self>) -> HalfClose {
        ctx.with_partner::<Client, _>(|_, client| client.close_write());
        HalfClose::KeepWriting
    }

    fn on_connect_failed(&mut self, ctx: &mut Context<'_, Self>, error: std::io::Error) {
        let _ = ctx;
        self.shared
            .upstreams
            .failed(self.choice.index, &error, std::time::Instant::now());
    }

    fn on_partner_closed(&mut self, ctx: &mut Context<'_, Self>, reason: &CloseReason) {
        if is_clean(reason) {
            ctx.close();
        } else {
            ctx.reset(); // the client failed: the upstream sees a reset, not an end
        }
    }

    fn on_shutdown(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.keep_open();
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, _reason: CloseReason) {
        self.shared.upstreams.release(self.choice.index);
    }
}

/// Whether a side ended as a stream should: every byte through, both directions finished (or,
/// idle, nothing in flight either way).
fn is_clean(reason: &CloseReason) -> bool {
    matches!(
        reason,
        CloseReason::PeerClosed
            | CloseReason::Closed
            | CloseReason::Shutdown
            | CloseReason::IdleTimeout
    )
}
