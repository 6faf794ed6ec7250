//! `Node`: one reactor's share of cluster mode, kept per reactor (`reactor_local`, no lock):
//! its link to Redis, the requests waiting for it, its stream's event numbers, and its
//! reserve of guest nicks. The functions here are how members and the feed reach the link.
//!
//! Every request of a reactor goes through one queue ([`Node::outbox`]) and one Redis
//! connection, in the order its handlers made them: that is what keeps a member's lines in
//! order on the other instances. A handler queues a request and asks the link to flush; when
//! the link itself is the caller further up the stack (it runs a member's callback with a
//! reply), the flush waits until that callback returns, and the link sends the queue then.

use std::collections::VecDeque;

use turbine::{ConnId, Context, Handler};

use super::cluster::{Cluster, Phase};
use super::link::Link;

/// Guest nicks a reactor keeps claimed ahead, so that a welcome need not wait for Redis.
pub(crate) const GUEST_BLOCK: usize = 32;

/// One reactor's cluster state, kept across reconnections of its link.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// The link to Redis while it is connected.
    link: Option<ConnId>,
    /// How far the link is; decides which requests are taken.
    stage: Stage,
    /// The subscriber, on reactor 0 while it is connected.
    feed: Option<ConnId>,
    /// Requests not yet sent, oldest first.
    outbox: VecDeque<Request>,
    /// The last membership event number of this reactor's stream.
    seq: u64,
    /// Guest numbers whose nicks Redis holds for this instance, not handed out yet.
    pool: VecDeque<u64>,
    /// Members waiting for a guest nick, in arrival order.
    arriving: VecDeque<ConnId>,
}

/// Where a reactor's link is.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Not connected: nothing is sent; nicks are checked on this instance alone.
    #[default]
    Down,
    /// Connected, checking its members' nicks again before it announces them: claims are
    /// sent, membership changes wait for the reset that ends the check.
    Checking,
    /// Connected and announced: everything is sent.
    Up,
}

/// Something a handler asks of Redis.
#[derive(Debug)]
pub(crate) enum Request {
    /// Claim `nick` for member `member`, if no other instance holds it; the answer goes to
    /// the member ([`Member::on_claim`](super::member::Member::on_claim)).
    Claim {
        /// The member asking.
        member: ConnId,
        /// The nick it wants.
        nick: String,
    },
    /// Let go of `nick`, no longer anyone's here.
    Release {
        /// The nick.
        nick: String,
    },
    /// Store and announce a member's new place: nick and room, or `None` once it left.
    Update {
        /// The member's number in this instance (its connection's serial).
        member: u64,
        /// Its nick and room.
        place: Option<(String, String)>,
    },
    /// Publish a room message or a private message.
    Publish {
        /// The channel.
        channel: String,
        /// The event.
        payload: Vec<u8>,
    },
    /// Read every stream's state, for the feed that asks.
    Snapshot {
        /// The feed.
        feed: ConnId,
    },
}

/// What a new member gets instead of a welcome nick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Guest {
    /// A guest nick Redis holds for this instance.
    Nick(String),
    /// None in reserve: the link welcomes the member once Redis has reserved more.
    Wait,
    /// No link: the instance picks a number on its own.
    Unlinked,
}

impl Node {
    /// The link `id` is connected: it checks before it announces.
    pub(crate) fn attach(&mut self, id: ConnId) {
        self.link = Some(id);
        self.stage = Stage::Checking;
    }

    /// The link is checked and announced.
    pub(crate) fn go_up(&mut self) {
        self.stage = Stage::Up;
    }

    /// The link `id` closed: requests not sent are dropped (the reset after the next connect
    /// stands for the membership changes among them). Returns them, for the link to answer
    /// those who wait.
    pub(crate) fn detach(&mut self, id: ConnId) -> Vec<Request> {
        if self.link == Some(id) {
            self.link = None;
            self.stage = Stage::Down;
        }
        self.outbox.drain(..).collect()
    }

    /// The oldest request not sent.
    pub(crate) fn next_request(&mut self) -> Option<Request> {
        self.outbox.pop_front()
    }

    /// The next membership event number of this reactor's stream.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The last membership event number of this reactor's stream.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// The guest numbers held in reserve.
    pub(crate) fn pool(&mut self) -> &mut VecDeque<u64> {
        &mut self.pool
    }

    /// The members waiting for a guest nick.
    pub(crate) fn arriving(&mut self) -> &mut VecDeque<ConnId> {
        &mut self.arriving
    }

    /// Sets or clears the feed of this reactor (reactor 0).
    pub(crate) fn set_feed(&mut self, feed: Option<ConnId>) {
        self.feed = feed;
    }

    /// The feed, on reactor 0 while it is connected.
    pub(crate) fn feed(&self) -> Option<ConnId> {
        self.feed
    }
}

/// Queues `request` for the reactor's link and has it sent, if the link takes such requests
/// now: claims and snapshots while it is connected, membership changes once it is up, room
/// and private messages only while the whole cluster link is up (messages said while it is
/// down stay on this instance). Returns whether it was queued.
pub(crate) fn send<H: Handler>(
    ctx: &mut Context<'_, H>,
    cluster: &Cluster,
    request: Request,
) -> bool {
    let node = ctx.reactor_local::<Node>();
    let taken = match request {
        Request::Claim { .. } | Request::Snapshot { .. } => node.stage != Stage::Down,
        Request::Release { .. } | Request::Update { .. } => node.stage == Stage::Up,
        Request::Publish { .. } => node.stage == Stage::Up && cluster.is_up(),
    };
    if taken {
        node.outbox.push_back(request);
        flush(ctx);
    }
    taken
}

/// Has the reactor's link send what is queued (and top up its reserve of guest nicks). Does
/// nothing if the link is further up the stack: it flushes when its callback returns.
pub(crate) fn flush<H: Handler>(ctx: &mut Context<'_, H>) {
    if let Some(link) = ctx.reactor_local::<Node>().link {
        ctx.with_conn::<Link, _>(link, |link, link_ctx| link.flush(link_ctx));
    }
}

/// Whether a `/nick` can be checked with Redis now: the reactor's link is connected.
pub(crate) fn can_claim<H: Handler>(ctx: &mut Context<'_, H>) -> bool {
    ctx.reactor_local::<Node>().stage != Stage::Down
}

/// A guest nick for member `member`, arriving: one from the reactor's reserve, or, with none
/// left, [`Guest::Wait`] while the link is or may soon be connected (the member is then
/// queued for the link to welcome), or [`Guest::Unlinked`] while it is down.
pub(crate) fn take_guest<H: Handler>(
    ctx: &mut Context<'_, H>,
    cluster: &Cluster,
    member: ConnId,
) -> Guest {
    let reactor = ctx.reactor();
    let node = ctx.reactor_local::<Node>();
    if let Some(n) = node.pool.pop_front() {
        flush(ctx); // tops the reserve up when it runs low
        return Guest::Nick(format!("guest{n}"));
    }
    if cluster.link_phase(reactor) == Phase::Down {
        return Guest::Unlinked;
    }
    node.arriving.push_back(member);
    flush(ctx);
    Guest::Wait
}
