//! `Registry`: the state all reactors share (nicks and rooms), behind one mutex; in cluster
//! mode also the [`Mirror`] of the other instances' members, so that `/who`, `/rooms`, `/msg`
//! and nick checks see the whole cluster without asking Redis.
//!
//! Every method takes the lock, changes or reads a few maps, and returns; nothing is sent while
//! the lock is held. What must be told to a room comes back as [`Members`], a snapshot of the
//! room's local handles (or as [`Notice`]s), and the caller broadcasts to it after the lock is
//! released. The order of events in a room is the order in which they took the lock: a member
//! sees a message if it was in the room when the sender took its snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use turbine::{ConnHandle, ConnId, Metrics};

use super::codec::Line;
use super::mirror::{Mirror, RemoteId, guest_number};
use super::room::{Members, Notice, Room, Rooms, Seat};
use super::wire::Place;

/// The room every member starts in.
pub(crate) const LOBBY: &str = "lobby";

/// Nicks and rooms of one server, shared by every connection's handler.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Nicks and rooms; each method holds the lock briefly.
    state: Mutex<State>,
    /// The last `N` handed out as `guest<N>` by [`arrive`](Registry::arrive).
    guests: AtomicU64,
    /// The highest `N` of a `guest<N>` a local member has held.
    guest_high: AtomicU64,
}

/// What the registry's lock protects.
#[derive(Debug, Default)]
struct State {
    /// Every local member by its nick in ASCII lower case: makes nicks unique ignoring case. A
    /// member waiting for Redis to grant it a new nick holds both.
    nicks: HashMap<String, ConnHandle<Line>>,
    /// Rooms that have members, here or on other instances.
    rooms: Rooms,
    /// The other instances' members (cluster mode; empty otherwise).
    mirror: Mirror,
    /// Members seated here and not yet gone: kept as they come and go, so a scrape reads it
    /// without walking the rooms under the lock every command needs.
    seated: usize,
}

/// Who `/join` leaves and joins, and the new room's size.
#[derive(Debug)]
pub(crate) struct Move {
    /// The local members left in the old room.
    pub(crate) left: Members,
    /// The local members of the new room, the mover included.
    pub(crate) joined: Members,
    /// Members of the new room on every instance, the mover included.
    pub(crate) count: usize,
}

/// Why `/nick` was refused: another member has that nick, ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NickTaken;

/// Why `/join` was refused: the member is in that room already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AlreadyIn;

/// Where a `/msg` goes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A member of this instance.
    Local(ConnHandle<Line>),
    /// A member of another instance.
    Remote(RemoteId),
}

impl Registry {
    /// An empty registry: no members, no rooms.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler is caught per connection; the maps are consistent between calls.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a member as `guest<N>` (N unique on this server) in the lobby. Returns its nick and
    /// the lobby's local members, the newcomer included.
    pub(crate) fn arrive(&self, handle: ConnHandle<Line>) -> (String, Members) {
        let mut state = self.lock();
        // A member may have named itself `guest<N>` for an N not handed out yet: skip it.
        let nick = loop {
            let n = self.guests.fetch_add(1, Ordering::Relaxed) + 1;
            let nick = format!("guest{n}");
            if !state.is_taken(&nick) {
                break nick;
            }
        };
        let members = self.seat(&mut state, nick.clone(), handle);
        (nick, members)
    }

    /// [`arrive`](Registry::arrive) in cluster mode while Redis cannot hand out a number: N is
    /// above every guest number known here, local or remote, which is as close to unique as
    /// an instance alone can get (the nick is checked again when the link returns).
    pub(crate) fn arrive_unlinked(&self, handle: ConnHandle<Line>) -> (String, Members) {
        self.guests.fetch_max(self.guest_high(), Ordering::Relaxed);
        self.arrive(handle)
    }

    /// Adds a member as `nick` (a guest nick Redis reserved for this instance) in the lobby.
    /// Returns the lobby's local members, the newcomer included.
    ///
    /// # Errors
    ///
    /// [`NickTaken`] when a member known here already has it.
    pub(crate) fn arrive_as(
        &self,
        handle: ConnHandle<Line>,
        nick: &str,
    ) -> Result<Members, NickTaken> {
        let mut state = self.lock();
        if state.is_taken(nick) {
            return Err(NickTaken);
        }
        Ok(self.seat(&mut state, nick.to_string(), handle))
    }

    /// Seats a new member called `nick` in the lobby.
    fn seat(&self, state: &mut State, nick: String, handle: ConnHandle<Line>) -> Members {
        self.note_guest(&nick);
        state.seated += 1;
        state
            .nicks
            .insert(nick.to_ascii_lowercase(), handle.clone());
        let id = handle.id();
        let lobby = state.rooms.entry(LOBBY.to_string()).or_default();
        lobby.insert(id, Seat { nick, handle });
        lobby.snapshot()
    }

    /// Renames member `id` of `room` from `old` to `new` (already checked to be a valid name).
    /// A member may change the case of its own nick. Returns the room's local members.
    ///
    /// # Errors
    ///
    /// [`NickTaken`] when another member has `new`, ignoring ASCII case.
    pub(crate) fn rename(
        &self,
        handle: &ConnHandle<Line>,
        room: &str,
        old: &str,
        new: &str,
    ) -> Result<Members, NickTaken> {
        let mut state = self.lock();
        state.reserve(handle, new)?;
        Ok(self.commit(&mut state, handle.id(), room, old, new))
    }

    /// Holds `new` for the member with `handle` while Redis is asked whether it is free on
    /// the other instances: no local member can take it meanwhile. The member keeps its old
    /// nick until [`confirm`](Registry::confirm) or [`withdraw`](Registry::withdraw).
    ///
    /// # Errors
    ///
    /// [`NickTaken`] when another member known here has `new`, ignoring ASCII case.
    pub(crate) fn reserve(&self, handle: &ConnHandle<Line>, new: &str) -> Result<(), NickTaken> {
        self.lock().reserve(handle, new)
    }

    /// Gives member `id` of `room` the nick `new` it reserved, in place of `old`. Returns the
    /// room's local members.
    pub(crate) fn confirm(&self, id: ConnId, room: &str, old: &str, new: &str) -> Members {
        let mut state = self.lock();
        self.commit(&mut state, id, room, old, new)
    }

    /// Lets go of `new`, reserved by member `id`.
    pub(crate) fn withdraw(&self, id: ConnId, new: &str) {
        self.lock().drop_nick(id, new);
    }

    /// Member `id` of `room` goes from `old` to `new`, which it holds already.
    fn commit(&self, state: &mut State, id: ConnId, room: &str, old: &str, new: &str) -> Members {
        self.note_guest(new);
        if !old.eq_ignore_ascii_case(new) {
            state.drop_nick(id, old);
        }
        let Some(room) = state.rooms.get_mut(room) else {
            return Members::default();
        };
        if let Some(seat) = room.seat_mut(id) {
            seat.nick = new.to_string();
        }
        room.snapshot()
    }

    /// Moves the member with `handle`, called `nick`, from room `from` to room `to` (a valid
    /// name).
    ///
    /// # Errors
    ///
    /// [`AlreadyIn`] when `from` is `to`.
    pub(crate) fn join(
        &self,
        handle: &ConnHandle<Line>,
        nick: &str,
        from: &str,
        to: &str,
    ) -> Result<Move, AlreadyIn> {
        if from == to {
            return Err(AlreadyIn);
        }
        let id = handle.id();
        let seat = Seat {
            nick: nick.to_string(),
            handle: handle.clone(),
        };
        let mut state = self.lock();
        let left = unseat(&mut state, id, from);
        let room = state.rooms.entry(to.to_string()).or_default();
        room.insert(id, seat);
        Ok(Move {
            left,
            joined: room.snapshot(),
            count: room.count(),
        })
    }

    /// Removes member `id` (nick `nick`, in `room`) from the server. Returns who is left in the
    /// room here.
    pub(crate) fn leave(&self, id: ConnId, nick: &str, room: &str) -> Members {
        let mut state = self.lock();
        state.seated = state.seated.saturating_sub(1);
        state.drop_nick(id, nick);
        unseat(&mut state, id, room)
    }

    /// The local members of `room` now (none if it has none).
    pub(crate) fn members(&self, room: &str) -> Members {
        let mut state = self.lock();
        state
            .rooms
            .get_mut(room)
            .map(Room::snapshot)
            .unwrap_or_default()
    }

    /// Every local member: who hears of the cluster link going down or up.
    pub(crate) fn everyone(&self) -> Members {
        Members::of(self.lock().nicks.values().cloned())
    }

    /// The handle of the local member called `nick`, ignoring ASCII case.
    pub(crate) fn find(&self, nick: &str) -> Option<ConnHandle<Line>> {
        self.lock().nicks.get(&nick.to_ascii_lowercase()).cloned()
    }

    /// The member called `nick`, ignoring ASCII case: on this instance if one is, else on
    /// another.
    pub(crate) fn target(&self, nick: &str) -> Option<Target> {
        let state = self.lock();
        if let Some(handle) = state.nicks.get(&nick.to_ascii_lowercase()) {
            return Some(Target::Local(handle.clone()));
        }
        state.mirror.find(nick).cloned().map(Target::Remote)
    }

    /// Each local member of reactor `reactor`: its connection, nick and room (for its stream's
    /// reset and for renewing its nick in Redis).
    pub(crate) fn seats_on(&self, reactor: usize) -> Vec<(ConnId, String, String)> {
        let state = self.lock();
        let mut seats = Vec::new();
        for (name, room) in &state.rooms {
            for (id, seat) in room.seats().filter(|(id, _)| id.reactor() == reactor) {
                seats.push((*id, seat.nick.clone(), name.clone()));
            }
        }
        seats
    }

    /// The highest `N` of any `guest<N>` known here, local or remote: a floor for the next
    /// ones, as Redis's counter may have started again from 0.
    pub(crate) fn guest_high(&self) -> u64 {
        let remote = self.lock().mirror.guest_high();
        self.guest_high.load(Ordering::Relaxed).max(remote)
    }

    /// Notes a local nick that may be a guest's.
    fn note_guest(&self, nick: &str) {
        if let Some(n) = guest_number(&nick.to_ascii_lowercase()) {
            self.guest_high.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// Members on this instance, and rooms with members on any instance: the figures the
    /// metrics endpoint shows (`chat_members`, `chat_rooms`), read when scraped (two counts,
    /// no walk: the lock is one every command takes).
    pub(crate) fn figures(&self) -> (usize, usize) {
        let state = self.lock();
        (state.seated, state.rooms.len())
    }

    /// Adds the chat's figures to the server's metrics: `chat_members` and `chat_rooms`, read
    /// from the registry at each scrape (nothing to update as members come and go).
    pub(crate) fn register_metrics(registry: &Arc<Registry>, metrics: &Metrics) {
        let members = Arc::clone(registry);
        metrics.gauge_fn(
            "chat_members",
            "Members connected to this instance",
            move || members.figures().0 as i64,
        );
        let rooms = Arc::clone(registry);
        metrics.gauge_fn(
            "chat_rooms",
            "Rooms with members, on any instance",
            move || rooms.figures().1 as i64,
        );
    }

    /// The `/rooms` reply: `* rooms: <name>(<count>) ...`, sorted by name.
    pub(crate) fn rooms_line(&self) -> String {
        let state = self.lock();
        let mut line = String::from("* rooms:");
        for (name, room) in &state.rooms {
            line.push_str(&format!(" {name}({})", room.count()));
        }
        line
    }

    /// The `/who` reply for `room`: `* in <room>: <nick> ...`, sorted.
    pub(crate) fn who_line(&self, room: &str) -> String {
        let mut nicks: Vec<String> = {
            let state = self.lock();
            let members = state.rooms.get(room).map(|r| r.nicks());
            members.into_iter().flatten().map(str::to_string).collect()
        };
        nicks.sort_unstable();
        format!("* in {room}: {}", nicks.join(" "))
    }

    /// Applies membership event `seq` of remote stream `stream`: `member` is at `place` now
    /// (`None`: it left). Returns the notices for the local members.
    pub(crate) fn update_remote(
        &self,
        (stream, seq): (&str, u64),
        member: u64,
        place: Option<Place<'_>>,
        now: Instant,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        let state = &mut *self.lock();
        let at = (stream, seq);
        (state.mirror).update(&mut state.rooms, at, member, place, now, &mut notices);
        notices
    }

    /// Replaces what is known of remote stream `stream` with `members`, its state as of its
    /// membership event `seq`. Returns the notices for the local members.
    pub(crate) fn reset_remote(
        &self,
        (stream, seq): (&str, u64),
        members: Vec<(u64, Place<'_>)>,
        now: Instant,
    ) -> Vec<Notice> {
        let mut notices = Vec::new();
        let state = &mut *self.lock();
        let at = (stream, seq);
        (state.mirror).reset(&mut state.rooms, at, members, now, &mut notices);
        notices
    }

    /// Notes that remote stream `stream` was heard from.
    pub(crate) fn heard(&self, stream: &str, now: Instant) {
        self.lock().mirror.heard(stream, now);
    }

    /// Counts every remote stream as heard from now (see [`Mirror::refresh`]).
    pub(crate) fn refresh(&self, now: Instant) {
        self.lock().mirror.refresh(now);
    }

    /// Forgets the remote streams not heard from since `before`, their members shown as left.
    /// Returns the notices for the local members.
    pub(crate) fn expire(&self, before: Instant) -> Vec<Notice> {
        let mut notices = Vec::new();
        let state = &mut *self.lock();
        state.mirror.expire(&mut state.rooms, before, &mut notices);
        notices
    }
}

impl State {
    /// Whether a member known here, local or remote, is called `nick` ignoring case.
    fn is_taken(&self, nick: &str) -> bool {
        let key = nick.to_ascii_lowercase();
        self.nicks.contains_key(&key) || self.mirror.holds(&key)
    }

    /// Holds `new` for the member with `handle`, unless another member has it.
    fn reserve(&mut self, handle: &ConnHandle<Line>, new: &str) -> Result<(), NickTaken> {
        let key = new.to_ascii_lowercase();
        match self.nicks.get(&key) {
            Some(holder) if holder.id() != handle.id() => return Err(NickTaken),
            Some(_) => return Ok(()), // its own nick, in another case
            None if self.mirror.holds(&key) => return Err(NickTaken),
            None => {}
        }
        self.nicks.insert(key, handle.clone());
        Ok(())
    }

    /// Lets go of `nick` if member `id` holds it.
    fn drop_nick(&mut self, id: ConnId, nick: &str) {
        let key = nick.to_ascii_lowercase();
        if self.nicks.get(&key).is_some_and(|holder| holder.id() == id) {
            self.nicks.remove(&key);
        }
    }
}

/// Takes member `id` out of `room`, dropping the room once it is empty. Returns who is left
/// there locally.
fn unseat(state: &mut State, id: ConnId, room: &str) -> Members {
    let Some(members) = state.rooms.get_mut(room) else {
        return Members::default();
    };
    members.remove(id);
    if members.is_empty() {
        state.rooms.remove(room);
        return Members::default();
    }
    members.snapshot()
}
