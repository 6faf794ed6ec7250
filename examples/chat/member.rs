//! `Member`: the handler of one chat connection.

use std::sync::Arc;

use turbine::{
    ByteLinesCodec, CodecError, Config, ConnHandle, ConnId, Context, Handler, Payload, SendError,
};

use super::codec::{Line, chat_codec};
use super::command::{Command, is_valid_name};
use super::registry::{AlreadyIn, LOBBY, NickTaken, Registry};

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
    /// Set in `on_open`; taken when the member leaves (`/quit`, or the connection closes).
    presence: Option<Presence>,
    /// Encodes the lines this member broadcasts, as its connection's encoder would.
    wire: ByteLinesCodec,
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
            presence: None,
            wire: chat_codec(usize::MAX),
        }
    }

    /// Takes the member out of the registry and tells its room; does nothing the second time.
    fn leave(&mut self) {
        if let Some(me) = self.presence.take() {
            let room = self.registry.leave(me.id, &me.nick, &me.room);
            room.send(
                None,
                &line(&mut self.wire, &["* ", &me.nick, " left ", &me.room]),
            );
        }
    }
}

/// One line for the wire, assembled from `parts` and encoded once, to be shared by every member
/// it goes to. The parts are the server's words and a client's line, which the decoder split at
/// its `\n`, so the encoder never refuses them; if it did, the line would go to nobody.
fn line(wire: &mut ByteLinesCodec, parts: &[&str]) -> Payload<Line> {
    let bytes: Line = parts.concat().into_bytes();
    Payload::encode(wire, bytes).unwrap_or_else(|e| {
        log::error!("chat line not encoded: {e}");
        Payload::from_encoded_bytes(Vec::new())
    })
}

impl Handler for Member {
    type Codec = ByteLinesCodec;

    fn codec(&mut self, config: &Config) -> ByteLinesCodec {
        chat_codec(config.max_frame)
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let handle = ctx.handle();
        let id = handle.id();
        let (nick, lobby) = self.registry.arrive(handle.clone());
        // Sent before anything a broadcast can bring: those arrive through the mailbox, later.
        ctx.send(format!("* welcome {nick}"));
        lobby.send(
            Some(id),
            &line(&mut self.wire, &["* ", &nick, " joined ", LOBBY]),
        );
        self.presence = Some(Presence {
            handle,
            id,
            nick,
            room: LOBBY.to_string(),
        });
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, bytes: Line) {
        if bytes.is_empty() {
            return;
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return ctx.send("! invalid utf-8");
        };
        let Some(me) = self.presence.as_mut() else {
            return; // gone after `/quit`; no frame follows a close anyway
        };
        let registry = &self.registry;
        let wire = &mut self.wire;
        match Command::parse(text) {
            Command::Say(text) => {
                let room = registry.members(&me.room);
                room.send(Some(me.id), &line(wire, &[&me.nick, ": ", text]));
            }
            Command::Nick(name) if !is_valid_name(name) => ctx.send("! invalid nick"),
            Command::Nick(name) => match registry.rename(me.id, &me.room, &me.nick, name) {
                Ok(room) => {
                    ctx.send(format!("* you are {name}"));
                    if name != me.nick {
                        let renamed = line(wire, &["* ", &me.nick, " is now ", name]);
                        room.send(Some(me.id), &renamed);
                        me.nick = name.to_string();
                    }
                }
                Err(NickTaken) => ctx.send(format!("! nick {name} is taken")),
            },
            Command::Join(room) if !is_valid_name(room) => ctx.send("! invalid room"),
            Command::Join(room) => match registry.join(&me.handle, &me.nick, &me.room, room) {
                Ok(moved) => {
                    ctx.send(format!(
                        "* you joined {room} ({} members)",
                        moved.joined.len()
                    ));
                    let left = line(wire, &["* ", &me.nick, " left ", &me.room]);
                    moved.left.send(None, &left);
                    let joined = line(wire, &["* ", &me.nick, " joined ", room]);
                    moved.joined.send(Some(me.id), &joined);
                    me.room = room.to_string();
                }
                Err(AlreadyIn) => ctx.send(format!("! already in {room}")),
            },
            Command::Rooms => ctx.send(registry.rooms_line()),
            Command::Who => ctx.send(registry.who_line(&me.room)),
            Command::Msg { to, text } => {
                let Some(target) = registry.find(to) else {
                    return ctx.send(format!("! no such nick {to}"));
                };
                let private = format!("{} (private): {text}", me.nick).into_bytes();
                match target.send(private) {
                    Ok(()) => {}
                    Err(SendError::Closed(_)) => ctx.send(format!("! no such nick {to}")),
                    Err(SendError::Full(private)) => {
                        // The target is over its write limit: hand the line to its reactor the
                        // way room messages go, which cuts it off as too slow (`on_overflow`)
                        // rather than dropping the message quietly.
                        if let Ok(private) = Payload::encode(wire, private) {
                            turbine::broadcast([&target], &private);
                        }
                    }
                }
            }
            Command::Quit => {
                self.leave();
                ctx.send("* bye");
                ctx.close();
            }
            Command::Help => HELP.iter().for_each(|help| ctx.send(*help)),
            Command::Unknown(word) => ctx.send(format!("! unknown command {word}")),
        }
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
            self.leave();
        }
    }

    fn on_overflow(&mut self, ctx: &mut Context<'_, Self>) {
        // Drop what it has not read, so it costs nothing more: the line being written is
        // finished (never torn), then the notice, best effort within the write timeout.
        ctx.close_for_overflow();
        ctx.send("! too slow");
        self.leave();
    }

    /// Every connection ends here, after a panic in another callback too.
    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, _reason: turbine::CloseReason) {
        self.leave();
    }
}
