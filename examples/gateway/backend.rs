//! The back end: each reactor's connections to Redis (`Backends`, reactor-local state) and the
//! handler of one (`Backend`), which pairs each reply with the request that is waiting for it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use turbine::codec::Value;
use turbine::{CloseReason, Command, Config, ConnId, Connect, Context, Handler, RespClientCodec};

use super::client::{Client, Query, Unavailable};
use super::config::Settings;

/// First wait before reconnecting to a back end that failed.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnect attempts.
const LAST_BACKOFF: Duration = Duration::from_secs(5);

/// One back-end connection of a reactor: where it is, and its back-off.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Connecting or connected (queries go to it, waiting while it connects), or down.
    state: State,
    /// The wait before reconnecting after its next failure: 100 ms after a success, doubling
    /// with each failure in a row, up to 5 s.
    delay: Duration,
}

/// Where one back-end connection is.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Never opened, or failed: a request may reconnect once `retry_at` has passed.
    Down {
        /// When a request may try again.
        retry_at: Option<Instant>,
    },
    /// Connecting or connected.
    Live(ConnId),
}

/// A reactor's connections to the back end, shared by that reactor's clients: reactor-local,
/// so no lock, and no query ever waits on another thread.
#[derive(Debug, Default)]
pub(crate) struct Backends {
    /// One per `GATEWAY_BACKEND_CONNECTIONS`.
    slots: Vec<Slot>,
    /// The slot the next query tries first (round robin).
    next: usize,
}

/// Sends `command` to the back end for request `seq` of the client running `ctx`; its reply
/// comes back through [`Client::on_backend`]. Spreads queries over the reactor's back-end
/// connections in turn, and reconnects (after the back-off) to one that is down.
///
/// # Errors
///
/// [`Unavailable`] when no back-end connection is up or may be retried yet.
pub(crate) fn send(
    ctx: &mut Context<'_, Client>,
    settings: &Arc<Settings>,
    command: Command,
    query: Query,
) -> Result<(), Unavailable> {
    let tag = (ctx.id(), query);
    let now = ctx.now();
    let slots = settings.backend_connections;
    for _ in 0..slots {
        let backends = ctx.reactor_local::<Backends>();
        if backends.slots.len() != slots {
            let down = Slot {
                state: State::Down { retry_at: None },
                delay: FIRST_BACKOFF,
            };
            backends.slots = vec![down; slots];
        }
        let index = backends.next;
        backends.next = (index + 1) % slots;
        let id = match backends.slots[index].state {
            State::Live(id) => id,
            State::Down { retry_at } if retry_at.is_none_or(|at| at <= now) => {
                let to = Connect::to(settings.redis).timeout(settings.timeout);
                match ctx.connect(to, Backend::new(index)) {
                    Ok(id) => {
                        ctx.reactor_local::<Backends>().slots[index].state = State::Live(id);
                        id
                    }
                    Err(e) => {
                        log::warn!(
                            "back end {}: connect not started: {}",
                            settings.redis,
                            e.error()
                        );
                        ctx.reactor_local::<Backends>().failed(index, now);
                        continue;
                    }
                }
            }
            State::Down { .. } => continue,
        };
        let queued = ctx.with_conn::<Backend, _>(id, |backend, backend_ctx| {
            backend.waiting.push_back(tag);
            backend_ctx.send(command.clone());
        });
        if queued.is_some() {
            return Ok(());
        }
    }
    Err(Unavailable)
}

impl Backends {
    /// Slot `index` failed: down until its back-off has passed; the next back-off doubles.
    fn failed(&mut self, index: usize, now: Instant) {
        let slot = &mut self.slots[index];
        slot.state = State::Down {
            retry_at: Some(now + slot.delay),
        };
        slot.delay = (slot.delay * 2).min(LAST_BACKOFF);
    }

    /// Slot `index` connected: its back-off starts over.
    fn connected(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            slot.delay = FIRST_BACKOFF;
        }
    }
}

/// One connection to the back end: commands pipelined out, replies in the same order.
#[derive(Debug)]
pub(crate) struct Backend {
    /// Its slot in the reactor's [`Backends`].
    slot: usize,
    /// Who waits for each reply still to come, oldest first: the client and the query.
    waiting: VecDeque<(ConnId, Query)>,
}

impl Backend {
    fn new(slot: usize) -> Self {
        Backend {
            slot,
            waiting: VecDeque::new(),
        }
    }
}

impl Handler for Backend {
    type Codec = RespClientCodec;

    fn codec(&mut self, config: &Config) -> RespClientCodec {
        // Replies are the server's to bound (TURBINE_MAX_FRAME_OUT is the larger setting);
        // commands are ours.
        RespClientCodec::new(turbine::FrameLimits::new(
            config.max_frame_out,
            config.max_frame,
        ))
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        log::info!("back end {} connected", ctx.peer_addr());
        ctx.reactor_local::<Backends>().connected(self.slot);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, reply: Value) {
        let Some((client, query)) = self.waiting.pop_front() else {
            log::warn!("back end {}: a reply nobody asked for", ctx.peer_addr());
            return ctx.close();
        };
        // A client that is gone, or whose request timed out, drops it.
        ctx.with_conn::<Client, _>(client, |c, c_ctx| c.on_backend(c_ctx, query, Ok(reply)));
    }

    fn is_busy(&self) -> bool {
        !self.waiting.is_empty()
    }

    fn on_close(&mut self, ctx: &mut Context<'_, Self>, reason: CloseReason) {
        log::warn!("back end {}: {reason}", ctx.peer_addr());
        let now = ctx.now();
        let id = ctx.id();
        let backends = ctx.reactor_local::<Backends>();
        if matches!(backends.slots.get(self.slot), Some(slot) if matches!(slot.state, State::Live(live) if live == id))
        {
            backends.failed(self.slot, now);
        }
        for (client, query) in self.waiting.drain(..) {
            ctx.with_conn::<Client, _>(client, |c, c_ctx| {
                c.on_backend(c_ctx, query, Err(Unavailable))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reconnect back-off: 100 ms after a first failure, doubling with each failure in a
    /// row up to 5 s; a connect that succeeds starts it over at 100 ms.
    #[test]
    fn backoff_doubles_from_100ms_to_5s() {
        let mut backends = Backends {
            slots: vec![Slot {
                state: State::Down { retry_at: None },
                delay: FIRST_BACKOFF,
            }],
            next: 0,
        };
        let now = Instant::now();
        let wait = |backends: &mut Backends| {
            backends.failed(0, now);
            let State::Down { retry_at: Some(at) } = backends.slots[0].state else {
                panic!("down after a failure");
            };
            at - now
        };
        let waits: Vec<Duration> = (0..8).map(|_| wait(&mut backends)).collect();
        let ms = Duration::from_millis;
        assert_eq!(
            waits,
            [
                ms(100),
                ms(200),
                ms(400),
                ms(800),
                ms(1600),
                ms(3200),
                ms(5000),
                ms(5000)
            ]
        );
        backends.connected(0);
        assert_eq!(wait(&mut backends), ms(100));
    }
}
