//! `Member`: the handler of one chat connection.
//!
//! In cluster mode a member also tells the other instances what it does, through its
//! reactor's link to Redis ([`node::send`]), and waits for Redis twice: for a guest nick when
//! the reactor's reserve is empty, and for the answer to `/nick`. While it waits, the lines it
//! sends wait too (and its socket is not read), so that nothing it says overtakes the nick
//! it asked for.

use std::collections::VecDeque;
use std::sync::Arc;

use turbine::{ByteLinesCodec, CodecError, Config, ConnHandle, ConnId, Context, Handler};

use super::cluster::{Cluster, Status};
use super::codec::{Line, chat_codec, line};
use super::command::{Command, is_valid_name};
use super::node::{self, Request};
use super::registry::{AlreadyIn, LOBBY, NickTaken, Registry, Target};
use super::room::{Gone, send_private};
use super::wire::{EVENTS, Event, TO_PREFIX, instance_of};

#[path = "member_cluster.rs"]
mod clustered;

pub(crate) use clustered::{Claim, Renamed, Welcome};

/// The `/help` reply, one `* ` line each.
const HELP: [&str; 10] = [
    "* commands:",
    "*   <text>              say <text> to your room",
    "*   //<text>            say /<text> (a line starting with one / is a command)",
    "*   /nick <name>        change your nick: 1 to 32 of A-Z a-z 0-9 _ -",
    "*   /join <room>        leave your room for another (named like nicks)",
    "*   /rooms              list the rooms and how many are in each",
    "*   /who                list who is in your room",
    "*   /msg <nick> <text>  send <text> to <nick> alone",
    "*   /quit               leave",
    "*   /help               this list",
];

/// One connection's side of the chat: who it is, where it is, and the shared registry.
///
/// Runs on the reactor that accepted the connection; everything shared with other connections
/// goes through the [`Registry`] (under its lock, briefly) and through [`ConnHandle`]s and
/// [`turbine::broadcast`] (after the lock is released).
pub(crate) struct Member {
    /// Nicks and rooms, shared with every other connection.
    registry: Arc<Registry>,
    /// Cluster mode's shared state; `None` for a server on its own.
    cluster: Option<Arc<Cluster>>,
    /// Where the member is; changed by its commands, by Redis's answers, and by leaving.
    stage: Stage,
    /// Lines received while the member waits for Redis, oldest first; handled when the wait
    /// ends. Bounded by what one read brings: reading stops while the member waits.
    queue: VecDeque<Line>,
    /// Encodes the lines this member broadcasts, as its connection's encoder would.
    wire: ByteLinesCodec,
}

/// Where a member is.
enum Stage {
    /// Not arrived yet (before `on_open`), or gone (`/quit`, or the connection closed).
    Outside,
    /// Connected, waiting for a guest nick from Redis (cluster mode); nothing sent yet.
    Arriving(ConnHandle<Line>),
    /// In the chat.
    Here(Presence),
    /// In the chat, waiting for Redis to say whether the nick it asked for is free.
    Claiming(Presence, String),
}

/// Who a member is while it is on the server.
struct Presence {
    /// Sends to this connection from any thread; the room's snapshots hold clones.
    handle: ConnHandle<Line>,
    /// The connection, to leave it out of its own room's messages.
    id: ConnId,
    /// The member's nick as it wrote it; changed by `/nick`.
    nick: String,
    /// The room the member is in; changed by `/join`.
    room: String,
}

impl Member {
    /// A member of the chat served by `registry`, not arrived yet (`on_open` does that).
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Member {
            registry,
            cluster: None,
            stage: Stage::Outside,
            queue: VecDeque::new(),
            wire: chat_codec(usize::MAX),
        }
    }

    /// A member of a chat instance linked to others by `cluster`.
    pub(crate) fn clustered(registry: Arc<Registry>, cluster: Arc<Cluster>) -> Self {
        Member {
            cluster: Some(cluster),
            ..Member::new(registry)
        }
    }

    /// Whether the member waits for Redis (its lines wait too).
    fn is_waiting(&self) -> bool {
        matches!(self.stage, Stage::Arriving(_) | Stage::Claiming(..))
    }

    /// Asks Redis, through the reactor's link, to take `request`; `false` if it does not now.
    fn tell_cluster(&self, ctx: &mut Context<'_, Self>, request: Request) -> bool {
        match &self.cluster {
            Some(cluster) => node::send(ctx, cluster, request),
            None => false,
        }
    }

    /// Tells the other instances where member `me` is now.
    fn announce(&self, ctx: &mut Context<'_, Self>, me: &Presence) {
        let place = Some((me.nick.clone(), me.room.clone()));
        let member = me.id.serial();
        self.tell_cluster(ctx, Request::Update { member, place });
    }

    /// The member is welcomed as `nick`, into the lobby, whose local members are `lobby`.
    fn arrived(
        &mut self,
        ctx: &mut Context<'_, Self>,
        handle: ConnHandle<Line>,
        nick: String,
        lobby: super::room::Members,
    ) {
        let id = handle.id();
        log::debug!("{} welcomed as {nick}", ctx.peer_addr());
        // Sent before anything a broadcast can bring: those arrive through the mailbox, later.
        ctx.send(format!("* welcome {nick}"));
        lobby.send(
            Some(id),
            &line(&mut self.wire, &["* ", &nick, " joined ", LOBBY]),
        );
        let me = Presence {
            handle,
            id,
            nick,
            room: LOBBY.to_string(),
        };
        if let Some(cluster) = &self.cluster {
            cluster.arrived(ctx.reactor());
            if cluster.status() == Status::Down {
                ctx.send("* cluster link down");
            }
        }
        self.announce(ctx, &me);
        self.stage = Stage::Here(me);
        self.drain(ctx);
    }

    /// Handles the lines that waited, until the member waits again; then reads again.
    fn drain(&mut self, ctx: &mut Context<'_, Self>) {
        if self.queue.is_empty() {
            return; // reading was never paused
        }
        while !self.is_waiting() {
            let Some(bytes) = self.queue.pop_front() else {
                if !matches!(self.stage, Stage::Outside) {
                    ctx.resume_reading();
                }
                return;
            };
            self.handle_line(ctx, bytes);
        }
    }

    /// Takes the member out of the registry and tells its room, here and on the other
    /// instances; does nothing the second time.
    fn leave(&mut self, ctx: &mut Context<'_, Self>) {
        let me = match std::mem::replace(&mut self.stage, Stage::Outside) {
            Stage::Here(me) => me,
            Stage::Claiming(me, asked) => {
                self.registry.withdraw(me.id, &asked);
                me
            }
            Stage::Arriving(_) | Stage::Outside => return,
        };
        self.queue.clear();
        let room = self.registry.leave(me.id, &me.nick, &me.room);
        room.send(
            None,
            &line(&mut self.wire, &["* ", &me.nick, " left ", &me.room]),
        );
        if let Some(cluster) = &self.cluster {
            cluster.left(ctx.reactor());
        }
        let member = me.id.serial();
        self.tell_cluster(
            ctx,
            Request::Update {
                member,
                place: None,
            },
        );
        self.tell_cluster(ctx, Request::Release { nick: me.nick });
    }

    /// Handles one line from the member.
    fn handle_line(&mut self, ctx: &mut Context<'_, Self>, bytes: Line) {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return ctx.send("! invalid utf-8");
        };
        if !matches!(self.stage, Stage::Here(_)) {
            return; // gone after `/quit`; no frame follows a close anyway
        }
        match Command::parse(text) {
            Command::Say(text) => self.say(ctx, text),
            Command::Nick(name) if !is_valid_name(name) => ctx.send("! invalid nick"),
            Command::Nick(name) => self.nick(ctx, name),
            Command::Join(room) if !is_valid_name(room) => ctx.send("! invalid room"),
            Command::Join(room) => self.join(ctx, room),
            Command::Rooms => ctx.send(self.registry.rooms_line()),
            Command::Who => {
                if let Stage::Here(me) = &self.stage {
                    ctx.send(self.registry.who_line(&me.room));
                }
            }
            Command::Msg { to, text } => self.msg(ctx, to, text),
            Command::Quit => {
                self.leave(ctx);
                ctx.send("* bye");
                ctx.close();
            }
            Command::Help => HELP.iter().for_each(|help| ctx.send(*help)),
            Command::Unknown(word) => ctx.send(format!("! unknown command {word}")),
        }
    }

    /// `<text>`: to the room here, and to the other instances while the link is up.
    fn say(&mut self, ctx: &mut Context<'_, Self>, text: &str) {
        let Stage::Here(me) = &self.stage else {
            return;
        };
        let room = self.registry.members(&me.room);
        room.send(Some(me.id), &line(&mut self.wire, &[&me.nick, ": ", text]));
        if let Some(cluster) = &self.cluster {
            let stream = cluster.stream(ctx.reactor());
            let payload = Event::Say {
                stream: &stream,
                room: &me.room,
                nick: &me.nick,
                text,
            }
            .encode();
            let channel = EVENTS.to_string();
            self.tell_cluster(ctx, Request::Publish { channel, payload });
        }
    }

    /// `/nick <name>` (a valid name). With the reactor's link connected, a new nick is claimed
    /// in Redis first and the member waits for the answer; otherwise (and for a change of case
    /// of its own nick) it is checked against the members known here.
    fn nick(&mut self, ctx: &mut Context<'_, Self>, name: &str) {
        let Stage::Here(me) = &self.stage else {
            return;
        };
        let claim =
            self.cluster.is_some() && !name.eq_ignore_ascii_case(&me.nick) && node::can_claim(ctx);
        if !claim {
            return match self.registry.rename(&me.handle, &me.room, &me.nick, name) {
                Ok(_) => self.renamed(ctx, name),
                Err(NickTaken) => ctx.send(format!("! nick {name} is taken")),
            };
        }
        if self.registry.reserve(&me.handle, name) == Err(NickTaken) {
            return ctx.send(format!("! nick {name} is taken"));
        }
        let request = Request::Claim {
            member: me.id,
            nick: name.to_string(),
        };
        if let Stage::Here(me) = std::mem::replace(&mut self.stage, Stage::Outside) {
            self.stage = Stage::Claiming(me, name.to_string());
        }
        if !self.tell_cluster(ctx, request) {
            self.on_claim(ctx, name, Claim::Unknown);
        }
    }

    /// The member's nick is `new` in the registry now: it is told, its room is told, here and
    /// on the other instances, and Redis lets the old nick go.
    fn renamed(&mut self, ctx: &mut Context<'_, Self>, new: &str) {
        ctx.send(format!("* you are {new}"));
        let Stage::Here(me) = &mut self.stage else {
            return;
        };
        if new == me.nick {
            return;
        }
        let old = std::mem::replace(&mut me.nick, new.to_string());
        let room = self.registry.members(&me.room);
        room.send(
            Some(me.id),
            &line(&mut self.wire, &["* ", &old, " is now ", new]),
        );
        let Stage::Here(me) = &self.stage else {
            return;
        };
        self.announce(ctx, me);
        if !old.eq_ignore_ascii_case(new) {
            // Only after the announcement: whoever takes the old nick next is announced after
            // this member gave it up, on every instance.
            self.tell_cluster(ctx, Request::Release { nick: old });
        }
    }

    /// `/join <room>` (a valid name).
    fn join(&mut self, ctx: &mut Context<'_, Self>, room: &str) {
        let Stage::Here(me) = &mut self.stage else {
            return;
        };
        match self.registry.join(&me.handle, &me.nick, &me.room, room) {
            Ok(moved) => {
                ctx.send(format!("* you joined {room} ({} members)", moved.count));
                let left = line(&mut self.wire, &["* ", &me.nick, " left ", &me.room]);
                moved.left.send(None, &left);
                let joined = line(&mut self.wire, &["* ", &me.nick, " joined ", room]);
                moved.joined.send(Some(me.id), &joined);
                me.room = room.to_string();
                let Stage::Here(me) = &self.stage else {
                    return;
                };
                self.announce(ctx, me);
            }
            Err(AlreadyIn) => ctx.send(format!("! already in {room}")),
        }
    }

    /// `/msg <to> <text>`: to a member here directly, to one elsewhere through Redis (while
    /// the link is up; otherwise it is lost, as room messages are).
    fn msg(&mut self, ctx: &mut Context<'_, Self>, to: &str, text: &str) {
        let Stage::Here(me) = &self.stage else {
            return;
        };
        match self.registry.target(to) {
            Some(Target::Local(target)) => {
                let private = format!("{} (private): {text}", me.nick).into_bytes();
                if send_private(&mut self.wire, &target, private) == Err(Gone) {
                    ctx.send(format!("! no such nick {to}"));
                }
            }
            Some(Target::Remote(id)) => {
                let payload = Event::Private {
                    member: id.member,
                    nick: to,
                    from: &me.nick,
                    text,
                }
                .encode();
                let channel = format!("{TO_PREFIX}{}", instance_of(&id.stream));
                self.tell_cluster(ctx, Request::Publish { channel, payload });
            }
            None => ctx.send(format!("! no such nick {to}")),
        }
    }
}

impl Handler for Member {
    type Codec = ByteLinesCodec;

    fn codec(&mut self, config: &Config) -> ByteLinesCodec {
        chat_codec(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        if let Some(header) = ctx.proxy().filter(|header| header.is_local()) {
            // A balancer's health check: HAProxy's `check-send-proxy` sends a LOCAL header
            // (no client in it), and its plain `check` tests only that the connect succeeds.
            // It is no member: closed at once, with nothing said, no guest number taken and
            // nobody told.
            log::debug!("health check from {}", header.balancer());
            return ctx.close();
        }
        let handle = ctx.handle();
        match self.cluster.clone() {
            None => {
                let (nick, lobby) = self.registry.arrive(handle.clone());
                self.arrived(ctx, handle, nick, lobby);
            }
            Some(cluster) => {
                self.stage = Stage::Arriving(handle);
                self.arrive_clustered(ctx, &cluster);
            }
        }
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Line) {
        if bytes.is_empty() {
            return;
        }
        if self.is_waiting() {
            // Frames already read still come; no more are read until the wait ends.
            self.queue.push_back(bytes);
            return ctx.pause_reading();
        }
        self.handle_line(ctx, bytes);
    }

    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        match error {
            // The framework closes the connection once this reply is flushed.
            CodecError::FrameTooLong { .. } => ctx.send("! line too long"),
            // The peer closed in the middle of a line: nobody is left to tell.
            _ => log::debug!("{}: {error}", ctx.peer_addr()),
        }
        if error.is_fatal() {
            // The room hears of it now, not when the peer gets round to closing its side.
            self.leave(ctx);
        }
    }

    fn on_overflow(&mut self, ctx: &mut Context<'_, Self>) {
        // Drop what it has not read, so it costs nothing more: the line being written is
        // finished (never torn), then the notice, best effort within the write timeout.
        ctx.close_for_overflow();
        ctx.send("! too slow");
        self.leave(ctx);
    }

    /// Every connection ends here, after a panic in another callback too.
    fn on_close(&mut self, ctx: &mut Context<'_, Self>, _reason: turbine::CloseReason) {
        self.leave(ctx);
    }
}
