//! `Feed`: the instance's subscriber connection to Redis (cluster mode, on reactor 0). It
//! listens to the cluster's events and this instance's own channel, keeps the registry's
//! mirror of the other instances, and hands their lines to the local members.
//!
//! On connecting it subscribes, then asks reactor 0's link for a snapshot of every stream;
//! events that arrive meanwhile wait, and are applied after the snapshot (their numbers sort
//! out the overlap). One subscriber connection per instance means that what one stream
//! publishes arrives here in the order it was published, and is passed on in that order.
//! While it is up it also watches for silent streams (an instance that died, or lost Redis):
//! their members are shown as left.

use std::sync::Arc;
use std::time::Instant;

use turbine::{
    ByteLinesCodec, CloseReason, Command, Config, Context, FrameLimits, Handler, PubSub,
    RespClientCodec, Value,
};

use super::cluster::{Cluster, Phase};
use super::codec::{chat_codec, line};
use super::node::{self, Node, Request};
use super::room::{Notice, send_private};
use super::wire::{EVENTS, Event, Place, TO_PREFIX, instance_of, parse_snapshot};

/// Largest push the feed takes: a reset carries a whole stream.
const MAX_PUSH: usize = 256 << 20;

/// Most bytes of events held while the snapshot is awaited: a link that does not answer for
/// that long (while the cluster talks on) has the feed start over rather than grow.
const MAX_HELD: usize = 64 << 20;

/// The timer tag of the periodic check.
const CHECK: u64 = 1;

/// The subscriber.
#[derive(Debug)]
pub(crate) struct Feed {
    /// Settings, name and registry.
    cluster: Arc<Cluster>,
    /// How far it is.
    stage: Stage,
    /// Whether a `PING` is out, and since when: a subscriber that stops answering is broken.
    ping: Ping,
    /// Encodes the lines it hands to members.
    wire: ByteLinesCodec,
}

/// Where the feed is.
#[derive(Debug)]
enum Stage {
    /// Connecting, or subscribed to fewer than both channels.
    Subscribing,
    /// Subscribed, waiting for the snapshot; events wait here, in arrival order.
    Syncing {
        /// Whether the snapshot is asked for.
        snapshot: Snapshot,
        /// Payloads received since subscribing.
        held: Vec<Vec<u8>>,
        /// Their bytes, bounded by [`MAX_HELD`].
        bytes: usize,
    },
    /// In sync: events are applied as they come.
    Up,
    /// Closed (its `on_close` ran).
    Closed,
}

/// The feed's snapshot request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Snapshot {
    /// To ask (the link was not connected, or dropped the request).
    Wanted,
    /// Asked; the link hands the reply over.
    Asked,
}

/// The feed's liveness probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ping {
    /// None out.
    Idle,
    /// One out since then.
    Sent(Instant),
}

impl Feed {
    /// The feed, not connected yet.
    pub(crate) fn new(cluster: Arc<Cluster>) -> Self {
        Feed {
            cluster,
            stage: Stage::Subscribing,
            ping: Ping::Idle,
            wire: chat_codec(usize::MAX),
        }
    }

    /// A feed that starts in sync, as if its snapshot had come: for tests, which have no link
    /// to answer one.
    #[cfg(test)]
    pub(crate) fn in_sync(cluster: Arc<Cluster>) -> Self {
        let mut feed = Feed::new(cluster);
        feed.stage = Stage::Up;
        feed
    }

    /// Reactor 0's link connected: the snapshot can be asked for.
    pub(crate) fn link_ready(&mut self, ctx: &mut Context<'_, Self>) {
        self.ask_snapshot(ctx);
    }

    /// The link closed before answering the snapshot: it is asked for again on its next
    /// connect.
    pub(crate) fn snapshot_failed(&mut self, _ctx: &mut Context<'_, Self>) {
        if let Stage::Syncing { snapshot, .. } = &mut self.stage {
            *snapshot = Snapshot::Wanted;
        }
    }

    /// Asks reactor 0's link for the snapshot, if it is wanted and the link can take it.
    fn ask_snapshot(&mut self, ctx: &mut Context<'_, Self>) {
        let id = ctx.id();
        if let Stage::Syncing { snapshot, .. } = &mut self.stage {
            if *snapshot == Snapshot::Wanted
                && node::send(ctx, &self.cluster, Request::Snapshot { feed: id })
            {
                *snapshot = Snapshot::Asked;
            }
        }
    }

    /// The snapshot's reply: every stream is reset to it, then the events held meanwhile are
    /// applied, and the feed is up.
    pub(crate) fn on_snapshot(&mut self, ctx: &mut Context<'_, Self>, reply: &Value) {
        let Stage::Syncing { .. } = self.stage else {
            return;
        };
        let Some(streams) = parse_snapshot(reply) else {
            log::warn!("cluster: snapshot not understood: {reply:?}");
            return self.snapshot_failed(ctx);
        };
        let now = ctx.now();
        let registry = Arc::clone(self.cluster.registry());
        let mut notices = Vec::new();
        let mut others = 0;
        for state in &streams {
            if instance_of(&state.stream) == self.cluster.instance() {
                continue;
            }
            others += 1;
            let members = (state.members.iter())
                .map(|(member, nick, room)| (*member, Place { nick, room }))
                .collect();
            notices.extend(registry.reset_remote((&state.stream, state.seq), members, now));
        }
        registry.refresh(now);
        self.tell(&notices);
        let Stage::Syncing { held, .. } = std::mem::replace(&mut self.stage, Stage::Up) else {
            unreachable!("checked above")
        };
        for payload in held {
            self.apply(ctx, &payload);
        }
        log::info!("cluster: in sync ({others} streams of other instances)");
        self.cluster.set_feed(Phase::Up);
    }

    /// Applies one event from another instance.
    fn apply(&mut self, ctx: &mut Context<'_, Self>, payload: &[u8]) {
        let Some(event) = Event::decode(payload) else {
            let shown = String::from_utf8_lossy(&payload[..payload.len().min(80)]).into_owned();
            return log::warn!("cluster: event not understood: {shown:?}");
        };
        let now = ctx.now();
        let registry = Arc::clone(self.cluster.registry());
        if let Some(stream) = event.stream() {
            if instance_of(stream) == self.cluster.instance() {
                return; // our own, already told here
            }
            registry.heard(stream, now);
        }
        let notices = match event {
            Event::Update {
                stream,
                seq,
                member,
                place,
            } => registry.update_remote((stream, seq), member, place, now),
            Event::Reset {
                stream,
                seq,
                members,
            } => registry.reset_remote((stream, seq), members, now),
            Event::Say {
                room, nick, text, ..
            } => {
                let said = line(&mut self.wire, &[nick, ": ", text]);
                registry.members(room).send(None, &said);
                Vec::new()
            }
            Event::Private {
                member,
                nick,
                from,
                text,
            } => {
                let target = registry.find(nick).filter(|h| h.id().serial() == member);
                if let Some(target) = target {
                    let private = [from, " (private): ", text].concat().into_bytes();
                    let _ = send_private(&mut self.wire, &target, private);
                }
                Vec::new()
            }
            Event::Alive { .. } => Vec::new(),
        };
        self.tell(&notices);
    }

    /// Sends each notice to its room's local members.
    fn tell(&mut self, notices: &[Notice]) {
        for notice in notices {
            notice.send(&mut self.wire);
        }
    }
}

impl Handler for Feed {
    type Codec = RespClientCodec;

    fn codec(&mut self, _config: &Config) -> RespClientCodec {
        RespClientCodec::new(FrameLimits::new(MAX_PUSH, 1 << 10))
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        log::info!("cluster: subscribed to Redis {}", ctx.peer_addr());
        let id = ctx.id();
        ctx.reactor_local::<Node>().set_feed(Some(id));
        self.cluster.set_feed(Phase::Syncing);
        let own = format!("{TO_PREFIX}{}", self.cluster.instance());
        ctx.send(Command::from(["SUBSCRIBE", EVENTS, &own]));
        let _ = ctx.set_timer(self.cluster.check_every(), CHECK);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, value: Value) {
        match value.pubsub() {
            Some(PubSub::Message { payload, .. }) => match &mut self.stage {
                Stage::Syncing { held, bytes, .. } => {
                    *bytes += payload.len();
                    held.push(payload.to_vec());
                    if *bytes > MAX_HELD {
                        log::warn!(
                            "cluster: no snapshot while {bytes} bytes of events came; starting over"
                        );
                        ctx.close();
                    }
                }
                Stage::Up => self.apply(ctx, payload),
                Stage::Subscribing | Stage::Closed => {}
            },
            Some(PubSub::Subscribe { count: 2, .. }) => {
                self.stage = Stage::Syncing {
                    snapshot: Snapshot::Wanted,
                    held: Vec::new(),
                    bytes: 0,
                };
                self.ask_snapshot(ctx);
            }
            Some(PubSub::Pong { .. }) => self.ping = Ping::Idle,
            Some(_) => {}
            // A `PING` that crossed the subscription is answered the unsubscribed way.
            None if value == Value::simple("PONG") => self.ping = Ping::Idle,
            None => {
                log::warn!("cluster: the subscriber got {value:?}; reconnecting");
                ctx.close();
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _tag: u64) {
        let now = ctx.now();
        match self.ping {
            Ping::Sent(at) if now.duration_since(at) > self.cluster.reply_timeout() => {
                log::warn!("cluster: the subscriber does not answer PING; reconnecting");
                return ctx.close_now();
            }
            Ping::Sent(_) => {}
            Ping::Idle => {
                ctx.send(Command::from(["PING"]));
                self.ping = Ping::Sent(now);
            }
        }
        match self.stage {
            Stage::Up => {
                let ttl = self.cluster.settings().ttl;
                if let Some(before) = now.checked_sub(ttl) {
                    let notices = self.cluster.registry().expire(before);
                    self.tell(&notices);
                }
            }
            Stage::Syncing { .. } => self.ask_snapshot(ctx),
            Stage::Subscribing | Stage::Closed => {}
        }
        let _ = ctx.set_timer(self.cluster.check_every(), CHECK);
    }

    fn on_close(&mut self, ctx: &mut Context<'_, Self>, reason: CloseReason) {
        match self.stage {
            _ if reason == CloseReason::Shutdown => {
                log::info!("cluster: unsubscribed for the shutdown")
            }
            Stage::Subscribing => log::debug!("cluster: subscriber cannot reach Redis: {reason}"),
            _ => log::warn!("cluster: subscriber lost Redis: {reason}"),
        }
        self.stage = Stage::Closed;
        let id = ctx.id();
        let node = ctx.reactor_local::<Node>();
        if node.feed() == Some(id) {
            node.set_feed(None);
        }
        self.cluster.set_feed(Phase::Down);
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        // A connect that could not even start drops the handler without `on_close`.
        if !matches!(self.stage, Stage::Closed) {
            self.cluster.set_feed(Phase::Down);
        }
    }
}
