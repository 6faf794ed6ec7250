//! What the instances of a cluster tell each other through Redis: the events published on its
//! channels, and a member's place as its stream's hash keeps it.
//!
//! Every payload is one event in plain text: a one-letter kind, then fields separated by one
//! space, free text last (it may hold spaces). A *stream* is one reactor of one instance,
//! named `<instance>.<reactor>`: its events go through one Redis connection, so they arrive
//! in the order they were sent, and its membership events are numbered (`seq`) so that a
//! late copy of an old one never undoes a newer state.
//!
//! | payload | meaning |
//! |---|---|
//! | `U <stream> <seq> <member> <nick> <room>` | member `<member>` of the stream is `<nick>`, in `<room>` (arrived, renamed or moved) |
//! | `G <stream> <seq> <member>` | the member left |
//! | `R <stream> <seq> [<member> <nick> <room>]...` | every member of the stream, replacing what was known |
//! | `S <stream> <room> <nick> <text>` | `<nick>` said `<text>` in `<room>` |
//! | `P <member> <nick> <from> <text>` | private message from `<from>` to member `<member>`, called `<nick>` (on the target instance's own channel) |
//! | `H <stream>` | the stream is alive (its instance renewed its entries) |
//!
//! Decoding trusts nothing: a payload that is not UTF-8, holds a `\n` (which would forge a
//! line to members), has a field missing or extra, a number that does not parse or a name the
//! protocol would refuse is dropped whole.

use turbine::Value;

use super::command::is_valid_name;

/// The channel every instance subscribes to: membership, room messages, heartbeats.
pub(crate) const EVENTS: &str = "chat:events";

/// Prefix of each instance's own channel (`chat:to:<instance>`): private messages to its
/// members.
pub(crate) const TO_PREFIX: &str = "chat:to:";

/// Hex digits in an instance's name.
pub(crate) const INSTANCE_LEN: usize = 16;

/// Where a member is: its nick and its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place<'a> {
    /// The nick as the member wrote it.
    pub(crate) nick: &'a str,
    /// The room it is in.
    pub(crate) room: &'a str,
}

/// One event between instances, borrowed from its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// `U` (with a place) or `G` (without): one member's new state.
    Update {
        /// The member's stream.
        stream: &'a str,
        /// The stream's event number.
        seq: u64,
        /// The member, unique in its instance.
        member: u64,
        /// Where it is now; `None` once it left.
        place: Option<Place<'a>>,
    },
    /// `R`: every member of a stream.
    Reset {
        /// The stream.
        stream: &'a str,
        /// The stream's event number.
        seq: u64,
        /// Each member and its place.
        members: Vec<(u64, Place<'a>)>,
    },
    /// `S`: a line said in a room.
    Say {
        /// The sender's stream.
        stream: &'a str,
        /// The room.
        room: &'a str,
        /// The sender's nick.
        nick: &'a str,
        /// What it said.
        text: &'a str,
    },
    /// `P`: a private message.
    Private {
        /// The member it is for.
        member: u64,
        /// That member's nick, as the sender knew it (checked against the member's own).
        nick: &'a str,
        /// The sender's nick.
        from: &'a str,
        /// The text.
        text: &'a str,
    },
    /// `H`: a stream's heartbeat.
    Alive {
        /// The stream.
        stream: &'a str,
    },
}

impl<'a> Event<'a> {
    /// The payload that carries this event.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let text = match self {
            Event::Update {
                stream,
                seq,
                member,
                place: Some(place),
            } => format!("U {stream} {seq} {member} {} {}", place.nick, place.room),
            Event::Update {
                stream,
                seq,
                member,
                place: None,
            } => format!("G {stream} {seq} {member}"),
            Event::Reset {
                stream,
                seq,
                members,
            } => {
                let mut text = format!("R {stream} {seq}");
                for (member, place) in members {
                    text.push_str(&format!(" {member} {} {}", place.nick, place.room));
                }
                text
            }
            Event::Say {
                stream,
                room,
                nick,
                text,
            } => format!("S {stream} {room} {nick} {text}"),
            Event::Private {
                member,
                nick,
                from,
                text,
            } => format!("P {member} {nick} {from} {text}"),
            Event::Alive { stream } => format!("H {stream}"),
        };
        text.into_bytes()
    }

    /// The event `payload` carries, or `None` if it is not one (see the module's docs).
    pub(crate) fn decode(payload: &'a [u8]) -> Option<Event<'a>> {
        let text = std::str::from_utf8(payload).ok()?;
        if text.contains('\n') {
            return None;
        }
        let (kind, rest) = text.split_once(' ')?;
        let event = match kind {
            "U" => {
                let [stream, seq, member, nick, room] = fields(rest)?;
                Event::Update {
                    stream: checked_stream(stream)?,
                    seq: number(seq)?,
                    member: number(member)?,
                    place: Some(Place::checked(nick, room)?),
                }
            }
            "G" => {
                let [stream, seq, member] = fields(rest)?;
                Event::Update {
                    stream: checked_stream(stream)?,
                    seq: number(seq)?,
                    member: number(member)?,
                    place: None,
                }
            }
            "R" => {
                let mut words = rest.split(' ');
                let stream = checked_stream(words.next()?)?;
                let seq = number(words.next()?)?;
                let mut members = Vec::new();
                while let Some(member) = words.next() {
                    let (nick, room) = (words.next()?, words.next()?);
                    members.push((number(member)?, Place::checked(nick, room)?));
                }
                Event::Reset {
                    stream,
                    seq,
                    members,
                }
            }
            "S" => {
                let mut parts = rest.splitn(4, ' ');
                let stream = checked_stream(parts.next()?)?;
                let room = name(parts.next()?)?;
                let nick = name(parts.next()?)?;
                Event::Say {
                    stream,
                    room,
                    nick,
                    text: parts.next()?,
                }
            }
            "P" => {
                let mut parts = rest.splitn(4, ' ');
                let member = number(parts.next()?)?;
                let nick = name(parts.next()?)?;
                let from = name(parts.next()?)?;
                Event::Private {
                    member,
                    nick,
                    from,
                    text: parts.next()?,
                }
            }
            "H" => {
                let [stream] = fields(rest)?;
                Event::Alive {
                    stream: checked_stream(stream)?,
                }
            }
            _ => return None,
        };
        Some(event)
    }

    /// The stream the event comes from (a private message names none).
    pub(crate) fn stream(&self) -> Option<&'a str> {
        match self {
            Event::Update { stream, .. }
            | Event::Reset { stream, .. }
            | Event::Say { stream, .. }
            | Event::Alive { stream } => Some(stream),
            Event::Private { .. } => None,
        }
    }
}

impl<'a> Place<'a> {
    /// A place of valid names only.
    fn checked(nick: &'a str, room: &'a str) -> Option<Place<'a>> {
        Some(Place {
            nick: name(nick)?,
            room: name(room)?,
        })
    }

    /// How a stream's hash keeps it: `<nick> <room>`.
    pub(crate) fn encode(&self) -> String {
        format!("{} {}", self.nick, self.room)
    }

    /// The place a stream's hash keeps, or `None` if `value` is not one.
    pub(crate) fn decode(value: &'a [u8]) -> Option<Place<'a>> {
        let text = std::str::from_utf8(value).ok()?;
        let [nick, room] = fields(text)?;
        Place::checked(nick, room)
    }
}

/// The name of reactor `reactor`'s stream in instance `instance`.
pub(crate) fn stream_name(instance: &str, reactor: usize) -> String {
    format!("{instance}.{reactor}")
}

/// The instance a stream belongs to (the stream's name up to its dot).
pub(crate) fn instance_of(stream: &str) -> &str {
    stream
        .split_once('.')
        .map_or(stream, |(instance, _)| instance)
}

/// Whether `stream` is a stream's name: 16 lower-case hex digits, a dot, a reactor's index.
pub(crate) fn is_stream(stream: &str) -> bool {
    let Some((instance, reactor)) = stream.split_once('.') else {
        return false;
    };
    instance.len() == INSTANCE_LEN
        && instance
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && (1..=5).contains(&reactor.len())
        && reactor.bytes().all(|b| b.is_ascii_digit())
}

/// One stream as a snapshot of Redis found it: its last event number and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamState {
    /// The stream.
    pub(crate) stream: String,
    /// Its last event number.
    pub(crate) seq: u64,
    /// Each member, its nick and its room.
    pub(crate) members: Vec<(u64, String, String)>,
}

/// The streams in a reply to the snapshot script: an array of stream names, each followed by
/// its hash as field and value pairs (`seq`, then `<member>` → `<nick> <room>`). A stream
/// whose name or `seq` is not valid is left out, as is a member that does not parse; `None`
/// if the reply is not such an array at all (an error reply, say).
pub(crate) fn parse_snapshot(reply: &Value) -> Option<Vec<StreamState>> {
    let items = reply.as_array()?;
    let mut streams = Vec::new();
    for pair in items.chunks(2) {
        let [name, hash] = pair else {
            return None;
        };
        let Some(stream) = name.as_bytes().and_then(|b| std::str::from_utf8(b).ok()) else {
            continue;
        };
        let (Some(fields), true) = (hash.as_array(), is_stream(stream)) else {
            continue;
        };
        let mut seq = None;
        let mut members = Vec::new();
        for field in fields.chunks(2) {
            let [key, value] = field else { break };
            let (Some(key), Some(value)) = (key.as_bytes(), value.as_bytes()) else {
                continue;
            };
            if key == b"seq" {
                seq = std::str::from_utf8(value).ok().and_then(number);
                continue;
            }
            let member = std::str::from_utf8(key).ok().and_then(number);
            if let (Some(member), Some(place)) = (member, Place::decode(value)) {
                members.push((member, place.nick.to_string(), place.room.to_string()));
            }
        }
        if let Some(seq) = seq {
            streams.push(StreamState {
                stream: stream.to_string(),
                seq,
                members,
            });
        }
    }
    Some(streams)
}

/// Exactly `N` space-separated fields, none empty.
fn fields<const N: usize>(text: &str) -> Option<[&str; N]> {
    let mut words = text.split(' ');
    let fields: [&str; N] = std::array::from_fn(|_| words.next().unwrap_or(""));
    (words.next().is_none() && fields.iter().all(|f| !f.is_empty())).then_some(fields)
}

/// A decimal `u64` written as this module writes one: digits only, no leading zero.
fn number(text: &str) -> Option<u64> {
    let canonical = text == "0" || !text.starts_with('0');
    if text.is_empty() || !canonical || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `text` if it is a valid nick or room name.
fn name(text: &str) -> Option<&str> {
    is_valid_name(text).then_some(text)
}

/// `stream` if it is a stream's name.
fn checked_stream(stream: &str) -> Option<&str> {
    is_stream(stream).then_some(stream)
}
