//! `Mirror`: what this instance knows of the members of the other instances (cluster mode),
//! one stream at a time, and the notices a change there means for the local members.
//!
//! It is fed by the subscriber ([`Feed`](super::feed::Feed)): a snapshot of Redis when it
//! (re)subscribes, then each event. Membership events are numbered per stream and applied
//! only if newer than what the mirror holds for that stream, so a snapshot and the events
//! that overlap it converge on the newest state whatever their order. Every change is
//! compared with what was known, and the difference becomes the notices a member would have
//! sent itself: `joined`, `left`, `is now`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::room::{Members, Notice, Rooms};
use super::wire::Place;

/// A member of another instance: its stream and its number there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RemoteId {
    /// The member's stream (`<instance>.<reactor>`).
    pub(crate) stream: Arc<str>,
    /// Its number in its instance.
    pub(crate) member: u64,
}

/// Where a remote member is, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    /// Its nick as written.
    nick: String,
    /// Its room.
    room: String,
}

/// What the mirror knows of one stream.
#[derive(Debug)]
struct Stream {
    /// The stream's name, shared by its members' ids.
    name: Arc<str>,
    /// Number of the last membership event applied.
    seq: u64,
    /// When it was last heard from: any event, or a snapshot holding it.
    heard: Instant,
    /// Its members.
    members: HashMap<u64, Seen>,
}

/// The members of other instances, by stream, and their nicks.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// Every stream known, by name.
    streams: HashMap<Arc<str>, Stream>,
    /// Remote members by nick in lower case. Usually one each; two instances can hand out the
    /// same nick while the link is down, until one of them is renamed.
    nicks: HashMap<String, Vec<RemoteId>>,
    /// The highest `N` of a remote `guest<N>` seen.
    guest_high: u64,
}

impl Mirror {
    /// Applies one member's new state (`place`, or `None` once it left) from membership event
    /// `seq` of `stream`, unless the mirror already holds that event or a newer one.
    pub(crate) fn update(
        &mut self,
        rooms: &mut Rooms,
        (stream, seq): (&str, u64),
        member: u64,
        place: Option<Place<'_>>,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) {
        let known = self.stream(stream, now);
        if seq <= known.seq {
            return;
        }
        known.seq = seq;
        let id = RemoteId {
            stream: Arc::clone(&known.name),
            member,
        };
        let new = place.map(|p| Seen {
            nick: p.nick.to_string(),
            room: p.room.to_string(),
        });
        let old = match &new {
            Some(seen) => known.members.insert(member, seen.clone()),
            None => known.members.remove(&member),
        };
        self.change(rooms, &id, old, new.as_ref(), notices);
    }

    /// Replaces what is known of `stream` with `members` (each one's number, nick and room),
    /// the state as of its membership event `seq`, unless the mirror holds a newer one.
    pub(crate) fn reset(
        &mut self,
        rooms: &mut Rooms,
        (stream, seq): (&str, u64),
        members: Vec<(u64, Place<'_>)>,
        now: Instant,
        notices: &mut Vec<Notice>,
    ) {
        let known = self.stream(stream, now);
        if seq <= known.seq {
            return;
        }
        known.seq = seq;
        let name = Arc::clone(&known.name);
        let mut old = std::mem::take(&mut known.members);
        let members: Vec<(u64, Seen)> = (members.into_iter())
            .map(|(member, place)| {
                let seen = Seen {
                    nick: place.nick.to_string(),
                    room: place.room.to_string(),
                };
                (member, seen)
            })
            .collect();
        let new: HashMap<u64, Seen> = members.iter().cloned().collect();
        let id = |member| RemoteId {
            stream: Arc::clone(&name),
            member,
        };
        // Those gone first, so that a nick handed from one member to another is free again
        // before it is taken.
        let gone: Vec<u64> = old
            .keys()
            .filter(|m| !new.contains_key(m))
            .copied()
            .collect();
        for member in gone {
            let seen = old.remove(&member);
            self.change(rooms, &id(member), seen, None, notices);
        }
        // Then in the stream's order, as its members would have told it.
        for (member, seen) in &members {
            let before = old.remove(member);
            self.change(rooms, &id(*member), before, Some(seen), notices);
        }
        if let Some(known) = self.streams.get_mut(&name) {
            known.members = new;
        }
    }

    /// Notes that `stream` was heard from.
    pub(crate) fn heard(&mut self, stream: &str, now: Instant) {
        self.stream(stream, now).heard = now;
    }

    /// Counts every stream as heard from now: after this instance could hear nobody (its own
    /// link was down), silence until now says nothing about the others.
    pub(crate) fn refresh(&mut self, now: Instant) {
        for stream in self.streams.values_mut() {
            stream.heard = now;
        }
    }

    /// Forgets every stream not heard from since `before`, its members shown as left.
    pub(crate) fn expire(&mut self, rooms: &mut Rooms, before: Instant, notices: &mut Vec<Notice>) {
        let dead: Vec<Arc<str>> = self
            .streams
            .values()
            .filter(|s| s.heard < before)
            .map(|s| Arc::clone(&s.name))
            .collect();
        for name in dead {
            let Some(stream) = self.streams.remove(&name) else {
                continue;
            };
            log::info!(
                "cluster: stream {name} silent, its {} members shown as left",
                stream.members.len()
            );
            for (member, seen) in stream.members {
                let id = RemoteId {
                    stream: Arc::clone(&name),
                    member,
                };
                self.change(rooms, &id, Some(seen), None, notices);
            }
        }
    }

    /// A remote member called `nick` (any case).
    pub(crate) fn find(&self, nick: &str) -> Option<&RemoteId> {
        self.nicks.get(&nick.to_ascii_lowercase())?.first()
    }

    /// Whether a remote member is called `key` (a nick in lower case).
    pub(crate) fn holds(&self, key: &str) -> bool {
        self.nicks.contains_key(key)
    }

    /// The highest `N` of a remote `guest<N>` seen so far.
    pub(crate) fn guest_high(&self) -> u64 {
        self.guest_high
    }

    /// The stream called `name`, known from now on if it was not (heard from `now`).
    fn stream(&mut self, name: &str, now: Instant) -> &mut Stream {
        if !self.streams.contains_key(name) {
            let name: Arc<str> = Arc::from(name);
            let stream = Stream {
                name: Arc::clone(&name),
                seq: 0,
                heard: now,
                members: HashMap::new(),
            };
            self.streams.insert(name, stream);
        }
        self.streams.get_mut(name).expect("inserted above")
    }

    /// Moves remote member `id` from `old` to `new` in the rooms and the nick index, with the
    /// notices that says to the local members of the rooms concerned.
    fn change(
        &mut self,
        rooms: &mut Rooms,
        id: &RemoteId,
        old: Option<Seen>,
        new: Option<&Seen>,
        notices: &mut Vec<Notice>,
    ) {
        if old.as_ref() == new {
            return;
        }
        if let Some(old) = &old {
            if new.is_none_or(|new| new.nick != old.nick) {
                self.forget_nick(&old.nick, id);
            }
        }
        if let Some(new) = new {
            if old.as_ref().is_none_or(|old| old.nick != new.nick) {
                self.learn_nick(&new.nick, id);
            }
        }
        if let (Some(old), Some(new)) = (&old, new) {
            if old.room == new.room {
                let room = rooms.entry(new.room.clone()).or_default();
                room.insert_remote(id.clone(), &new.nick);
                let line = ["* ", &old.nick, " is now ", &new.nick];
                return notify(notices, room.snapshot(), line);
            }
        }
        if let Some(old) = old {
            if let Some(room) = rooms.get_mut(&old.room) {
                room.remove_remote(id);
                notify(
                    notices,
                    room.snapshot(),
                    ["* ", &old.nick, " left ", &old.room],
                );
                if room.is_empty() {
                    rooms.remove(&old.room);
                }
            }
        }
        if let Some(new) = new {
            let room = rooms.entry(new.room.clone()).or_default();
            room.insert_remote(id.clone(), &new.nick);
            notify(
                notices,
                room.snapshot(),
                ["* ", &new.nick, " joined ", &new.room],
            );
        }
    }

    /// Indexes `id` under `nick`.
    fn learn_nick(&mut self, nick: &str, id: &RemoteId) {
        let key = nick.to_ascii_lowercase();
        if let Some(n) = guest_number(&key) {
            self.guest_high = self.guest_high.max(n);
        }
        self.nicks.entry(key).or_default().push(id.clone());
    }

    /// Takes `id` out of the index under `nick`.
    fn forget_nick(&mut self, nick: &str, id: &RemoteId) {
        let key = nick.to_ascii_lowercase();
        if let Some(ids) = self.nicks.get_mut(&key) {
            ids.retain(|other| other != id);
            if ids.is_empty() {
                self.nicks.remove(&key);
            }
        }
    }
}

/// Adds a notice made of `parts` for `to`, if `to` is anybody.
fn notify<const N: usize>(notices: &mut Vec<Notice>, to: Members, parts: [&str; N]) {
    if !to.is_empty() {
        notices.push(Notice {
            to,
            line: parts.concat(),
        });
    }
}

/// `N` if `key` (a nick in lower case) is `guest<N>`.
pub(crate) fn guest_number(key: &str) -> Option<u64> {
    let digits = key.strip_prefix("guest")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
