//! `Link`: one reactor's command connection to Redis (cluster mode). It sends what the
//! reactor's members ask for, in order, and hands each reply to whoever waits for it; it
//! keeps the reactor's entries alive (nicks, its stream's hash, the heartbeat); it checks the
//! members' nicks again whenever it (re)connects, renaming those another instance took
//! meanwhile; and it keeps a reserve of guest nicks.
//!
//! On connecting it is *checking*: it holds every nick of its members (and of its reserve)
//! again, renames the members whose nick another instance holds now, and then resets its
//! stream (its hash in Redis and every other instance's mirror of it) to its members as they
//! are. Only then does it count as up. Members' membership changes made while it checks are
//! in that reset; their claims go out at once, in order with the check.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use turbine::{
    CloseReason, Command, Config, ConnId, Context, FrameLimits, Handler, RespClientCodec, Value,
};

use super::cluster::{Cluster, Phase};
use super::feed::Feed;
use super::member::{Claim, Member};
use super::node::{Node, Request};
use super::scripts;
use super::wire::{Event, Place};

#[path = "link_upkeep.rs"]
mod upkeep;

/// Most nicks held by one `EVAL`, so that no command grows with the instance.
const HOLD_CHUNK: usize = 512;

/// Largest reply or command on the link: a snapshot, or a reset, holds a whole stream.
const MAX_MESSAGE: usize = 256 << 20;

/// The timer tag of the periodic renewal and watchdog.
const RENEW: u64 = 1;

/// A reactor's connection to Redis for commands.
#[derive(Debug)]
pub(crate) struct Link {
    /// Settings, name, registry, and the status of the other connections.
    cluster: Arc<Cluster>,
    /// The reactor it serves (it is opened there).
    reactor: usize,
    /// How far it is.
    stage: Stage,
    /// Replies owed, oldest first: when each command went out, and who waits for it.
    waiting: VecDeque<(Instant, Pending)>,
    /// Nicks of this reactor's members that another instance holds now, to rename.
    lost: VecDeque<String>,
    /// Where the reservation of guest numbers is.
    reserve: Reserve,
    /// This reactor's stream: its name in events, and the holder of its members' nicks in
    /// Redis (a nick is held by the stream of the member that has it, so that a release by one
    /// reactor never deletes a nick another reactor of this instance has just claimed).
    stream: String,
    /// The stream's event number at the last reset: a report that the stream's hash is gone
    /// from before it is stale.
    reset_at: u64,
}

/// Where a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Its connect is under way.
    Connecting,
    /// Connected; `holds` replies of the nick check still to come.
    Checking {
        /// Replies to the check's `HOLD`s not yet in.
        holds: usize,
    },
    /// Checked and announced.
    Up,
    /// Closed (its `on_close` ran).
    Closed,
}

/// The link's reservation of guest numbers: one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reserve {
    /// None under way: one is asked for when the reserve runs low.
    Idle,
    /// One under way.
    Asked,
    /// Redis refused the last one: none is asked for until the next renewal, rather than
    /// again and again at the pace of its refusals.
    Refused,
}

/// Who waits for a reply.
#[derive(Debug)]
enum Pending {
    /// Nobody (a publish, a release, a reset).
    Nobody,
    /// Member `member`, asking for `nick`.
    Claim {
        /// The member.
        member: ConnId,
        /// The nick it asked for.
        nick: String,
    },
    /// The check or a renewal: which nicks were held, in order.
    Hold(Vec<String>),
    /// A reservation of guest numbers.
    Reserve,
    /// A membership change, with its event number: `-1` means the stream's hash is gone and
    /// must be reset.
    Update(u64),
    /// The heartbeat, with the stream's last event number: `0` means the stream's hash is gone
    /// and must be reset.
    Alive(u64),
    /// The feed's snapshot.
    Snapshot(ConnId),
}

impl Link {
    /// The link of reactor `reactor`, not connected yet.
    pub(crate) fn new(cluster: Arc<Cluster>, reactor: usize) -> Self {
        Link {
            stream: cluster.stream(reactor),
            cluster,
            reactor,
            stage: Stage::Connecting,
            waiting: VecDeque::new(),
            lost: VecDeque::new(),
            reserve: Reserve::Idle,
            reset_at: 0,
        }
    }

    /// Sends every queued request, and tops the reserve of guest nicks up.
    pub(crate) fn flush(&mut self, ctx: &mut Context<'_, Self>) {
        if matches!(self.stage, Stage::Connecting | Stage::Closed) {
            return;
        }
        while let Some(request) = ctx.reactor_local::<Node>().next_request() {
            self.send_request(ctx, request);
        }
        self.top_up(ctx);
    }

    /// Sends `command`; `pending` is who waits for its reply.
    fn send(&mut self, ctx: &mut Context<'_, Self>, command: Command, pending: Pending) {
        self.waiting.push_back((ctx.now(), pending));
        ctx.send(command);
    }

    /// Turns one request into its command.
    fn send_request(&mut self, ctx: &mut Context<'_, Self>, request: Request) {
        let stream = self.stream.clone();
        match request {
            Request::Claim { member, nick } => {
                let hold = scripts::hold(std::slice::from_ref(&nick), &stream, self.ttl());
                self.send(ctx, hold, Pending::Claim { member, nick });
            }
            Request::Release { nick } => {
                self.send(ctx, scripts::release(&nick, &stream), Pending::Nobody);
            }
            Request::Update { member, place } => {
                let seq = ctx.reactor_local::<Node>().next_seq();
                let place = place.as_ref().map(|(nick, room)| Place { nick, room });
                let event = Event::Update {
                    stream: &stream,
                    seq,
                    member,
                    place,
                };
                let state = place.map(|p| p.encode()).unwrap_or_default();
                let update = scripts::update(&stream, seq, member, &state, &event.encode());
                self.send(ctx, update, Pending::Update(seq));
            }
            Request::Publish { channel, payload } => {
                self.send(ctx, scripts::publish(&channel, &payload), Pending::Nobody);
            }
            Request::Snapshot { feed } => {
                self.send(ctx, scripts::snapshot(), Pending::Snapshot(feed));
            }
        }
    }

    /// Entries' lifetime in Redis.
    fn ttl(&self) -> std::time::Duration {
        self.cluster.settings().ttl
    }

    /// Hands one reply to whoever waits for it.
    fn answer(&mut self, ctx: &mut Context<'_, Self>, pending: Pending, reply: Value) {
        if let Some(error) = reply.as_error() {
            log::warn!(
                "cluster: Redis refused a command: {}",
                String::from_utf8_lossy(error)
            );
        }
        match pending {
            Pending::Nobody => {}
            Pending::Claim { member, nick } => {
                let outcome = match reply.as_array() {
                    Some([]) => Claim::Won,
                    Some(_) => Claim::Taken,
                    None => Claim::Unknown,
                };
                let kept = ctx
                    .with_conn::<Member, _>(member, |m, m_ctx| m.on_claim(m_ctx, &nick, outcome));
                if outcome == Claim::Won && kept != Some(true) {
                    // The member left meanwhile: the nick is nobody's.
                    let release = scripts::release(&nick, &self.stream);
                    self.send(ctx, release, Pending::Nobody);
                }
            }
            Pending::Hold(nicks) => {
                for index in reply.as_array().unwrap_or_default() {
                    let nick = index
                        .as_integer()
                        .and_then(|i| usize::try_from(i).ok()?.checked_sub(1))
                        .and_then(|i| nicks.get(i));
                    if let Some(nick) = nick {
                        log::info!("cluster: nick {nick} is held by another instance");
                        self.lost.push_back(nick.clone());
                    }
                }
                if let Stage::Checking { holds } = &mut self.stage {
                    *holds = holds.saturating_sub(1);
                }
                self.rename_lost(ctx);
                self.finish_check(ctx);
            }
            Pending::Reserve => {
                let Some(numbers) = reply.as_array() else {
                    // Members waiting for a guest nick get one of this instance's own.
                    self.reserve = Reserve::Refused;
                    let arriving: Vec<ConnId> =
                        ctx.reactor_local::<Node>().arriving().drain(..).collect();
                    for member in arriving {
                        ctx.with_conn::<Member, _>(member, |m, m_ctx| m.welcome_unlinked(m_ctx));
                    }
                    return;
                };
                self.reserve = Reserve::Idle;
                let pool = ctx.reactor_local::<Node>().pool();
                pool.extend(
                    numbers
                        .iter()
                        .filter_map(Value::as_integer)
                        .filter_map(|n| u64::try_from(n).ok()),
                );
                self.serve_arriving(ctx);
                self.rename_lost(ctx);
                self.finish_check(ctx);
            }
            Pending::Update(seq) | Pending::Alive(seq) => {
                // Gone: expired (this link was silent for a TTL, and the other instances have
                // dropped the stream too) or Redis restarted. A reset restores it everywhere;
                // reports from before the last reset are stale.
                let gone = matches!(reply.as_integer(), Some(-1 | 0));
                if gone && self.stage == Stage::Up && seq >= self.reset_at {
                    log::info!("cluster: stream {} not in Redis: resetting it", self.stream);
                    self.reset(ctx);
                }
            }
            Pending::Snapshot(feed) => {
                ctx.with_conn::<Feed, _>(feed, |f, f_ctx| f.on_snapshot(f_ctx, &reply));
            }
        }
    }
}

impl Handler for Link {
    type Codec = RespClientCodec;

    fn codec(&mut self, _config: &Config) -> RespClientCodec {
        RespClientCodec::new(FrameLimits::new(MAX_MESSAGE, MAX_MESSAGE))
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        log::info!(
            "cluster: reactor {} linked to Redis {}",
            self.reactor,
            ctx.peer_addr()
        );
        let id = ctx.id();
        ctx.reactor_local::<Node>().attach(id);
        self.cluster.set_link(self.reactor, Phase::Syncing);
        let holds = self.hold_all(ctx);
        self.stage = Stage::Checking { holds };
        self.top_up(ctx);
        let _ = ctx.set_timer(self.cluster.renew_every(), RENEW);
        if let Some(feed) = ctx.reactor_local::<Node>().feed() {
            ctx.with_conn::<Feed, _>(feed, |f, f_ctx| f.link_ready(f_ctx));
        }
        self.finish_check(ctx);
        self.flush(ctx);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, reply: Value) {
        let Some((_, pending)) = self.waiting.pop_front() else {
            log::warn!("cluster: a reply from Redis nobody asked for");
            return ctx.close();
        };
        self.answer(ctx, pending, reply);
        self.flush(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _tag: u64) {
        let now = ctx.now();
        if let Some((sent, _)) = self.waiting.front() {
            if now.duration_since(*sent) > self.cluster.reply_timeout() {
                log::warn!(
                    "cluster: Redis has not answered for {:?}; reconnecting",
                    now.duration_since(*sent)
                );
                return ctx.close_now();
            }
        }
        if self.reserve == Reserve::Refused {
            self.reserve = Reserve::Idle;
        }
        if self.stage == Stage::Up {
            self.hold_all(ctx);
            let stream = self.stream.clone();
            let beat = Event::Alive { stream: &stream }.encode();
            let seq = ctx.reactor_local::<Node>().seq();
            let alive = scripts::alive(&stream, self.ttl(), &beat);
            self.send(ctx, alive, Pending::Alive(seq));
        }
        let _ = ctx.set_timer(self.cluster.renew_every(), RENEW);
        self.flush(ctx);
    }

    fn is_busy(&self) -> bool {
        // In a shutdown, stay until this reactor's members have left and that is told.
        !self.waiting.is_empty() || self.cluster.members_on(self.reactor) > 0
    }

    fn on_close(&mut self, ctx: &mut Context<'_, Self>, reason: CloseReason) {
        match (&self.stage, &reason) {
            (_, CloseReason::Shutdown) => log::info!(
                "cluster: reactor {} unlinked for the shutdown",
                self.reactor
            ),
            (Stage::Connecting, _) => log::debug!(
                "cluster: reactor {} cannot reach Redis: {reason}",
                self.reactor
            ),
            _ => log::warn!("cluster: reactor {} lost Redis: {reason}", self.reactor),
        }
        self.stage = Stage::Closed;
        let id = ctx.id();
        let unsent = ctx.reactor_local::<Node>().detach(id);
        self.cluster.set_link(self.reactor, Phase::Down);
        let owed = self.waiting.drain(..).map(|(_, pending)| pending);
        let unsent = unsent.into_iter().filter_map(|request| match request {
            Request::Claim { member, nick } => Some(Pending::Claim { member, nick }),
            Request::Snapshot { feed } => Some(Pending::Snapshot(feed)),
            _ => None,
        });
        // Those who wait are told it is unknown: a member keeps the nick it asked for if no
        // one here has it (checked again on the next connect), the feed asks again then.
        for pending in owed.collect::<Vec<_>>().into_iter().chain(unsent) {
            match pending {
                Pending::Claim { member, nick } => {
                    ctx.with_conn::<Member, _>(member, |m, m_ctx| {
                        m.on_claim(m_ctx, &nick, Claim::Unknown)
                    });
                }
                Pending::Snapshot(feed) => {
                    ctx.with_conn::<Feed, _>(feed, |f, f_ctx| f.snapshot_failed(f_ctx));
                }
                _ => {}
            }
        }
        // Members waiting for a guest nick get one this instance picks alone.
        let arriving: Vec<ConnId> = ctx.reactor_local::<Node>().arriving().drain(..).collect();
        for member in arriving {
            ctx.with_conn::<Member, _>(member, |m, m_ctx| m.welcome_unlinked(m_ctx));
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // A connect that could not even start drops the handler without `on_close`.
        if self.stage != Stage::Closed {
            self.cluster.set_link(self.reactor, Phase::Down);
        }
    }
}
