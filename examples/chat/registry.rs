//! `Registry`: the state all reactors share (nicks and rooms), behind one mutex.
//!
//! Every method takes the lock, changes or reads a few maps, and returns; nothing is sent while
//! the lock is held. What must be told to a room comes back as [`Members`], a snapshot of the
//! room's handles, and the caller broadcasts to it after the lock is released. The order of
//! events in a room is the order in which they took the lock: a member sees a message if it was
//! in the room when the sender took its snapshot.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use turbine::{ConnHandle, ConnId, Payload};

use super::codec::Line;

/// The room every member starts in.
pub(crate) const LOBBY: &str = "lobby";

/// Nicks and rooms of one server, shared by every connection's handler.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Nicks and rooms; each method holds the lock briefly.
    state: Mutex<State>,
    /// The last `N` handed out as `guest<N>`.
    guests: AtomicU64,
}

/// What the registry's lock protects.
#[derive(Debug, Default)]
struct State {
    /// Every member by its nick in ASCII lower case: makes nicks unique ignoring case.
    nicks: HashMap<String, ConnHandle<Line>>,
    /// Rooms that have members, by name (so `/rooms` lists them sorted).
    rooms: BTreeMap<String, Room>,
}

/// One room: its members and a snapshot of their handles for broadcasting.
#[derive(Debug, Default)]
struct Room {
    /// Each member's nick as written and its handle, by connection.
    members: HashMap<ConnId, Seat>,
    /// The members' handles, built on the first broadcast after the membership changed and
    /// shared by every broadcast until the next change.
    snapshot: Option<Members>,
}

/// A member's place in a room.
#[derive(Debug)]
struct Seat {
    /// The nick as the member wrote it.
    nick: String,
    /// Sends to the member's connection.
    handle: ConnHandle<Line>,
}

impl Room {
    /// The handles of every member, the snapshot built again if membership changed.
    fn snapshot(&mut self) -> Members {
        let members = &self.members;
        self.snapshot
            .get_or_insert_with(|| Members(members.values().map(|s| s.handle.clone()).collect()))
            .clone()
    }

    /// Seats a member, invalidating the snapshot.
    fn insert(&mut self, id: ConnId, seat: Seat) {
        self.members.insert(id, seat);
        self.snapshot = None;
    }

    /// Unseats a member, invalidating the snapshot.
    fn remove(&mut self, id: ConnId) {
        self.snapshot = None;
        self.members.remove(&id);
    }
}

/// The handles of a room's members at one moment; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Members(Arc<[ConnHandle<Line>]>);

impl Members {
    /// Sends one encoded line to every member but `except`, with
    /// [`turbine::broadcast`]: the line is stored once, however many members get it, and a
    /// member whose output would pass the write limit is cut off instead (`on_overflow`).
    /// Returns to how many members it went.
    pub(crate) fn send(&self, except: Option<ConnId>, line: &Payload<Line>) -> usize {
        turbine::broadcast(self.0.iter().filter(|m| Some(m.id()) != except), line)
    }

    /// How many members the snapshot holds.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// Why `/nick` was refused: another member has that nick, ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NickTaken;

/// Why `/join` was refused: the member is in that room already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AlreadyIn;

/// What a member moving between rooms must tell whom.
#[derive(Debug)]
pub(crate) struct Move {
    /// Who is left in the old room.
    pub left: Members,
    /// Who is in the new room, the mover included.
    pub joined: Members,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> Self {
        Registry::default()
    }

    /// The state, also after a panic elsewhere poisoned the lock: no method panics halfway
    /// through a change (they only insert and remove whole entries), so the maps are still good.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection as `guest<N>` in the lobby. Returns the nick and the lobby's
    /// members, the newcomer included.
    pub(crate) fn arrive(&self, handle: ConnHandle<Line>) -> (String, Members) {
        let mut state = self.lock();
        // A member may have named itself `guest<N>` for an N not handed out yet: skip it.
        let nick = loop {
            let n = self.guests.fetch_add(1, Ordering::Relaxed) + 1;
            let nick = format!("guest{n}");
            if !state.nicks.contains_key(&nick) {
                break nick;
            }
        };
        state.nicks.insert(nick.clone(), handle.clone());
        let id = handle.id();
        let lobby = state.rooms.entry(LOBBY.to_string()).or_default();
        let seat = Seat {
            nick: nick.clone(),
            handle,
        };
        lobby.insert(id, seat);
        let members = lobby.snapshot();
        (nick, members)
    }

    /// Renames member `id` of `room` from `old` to `new` (already checked to be a valid name).
    /// A member may change the case of its own nick. Returns the room's members.
    ///
    /// # Errors
    ///
    /// [`NickTaken`] when another member has `new`, ignoring ASCII case.
    pub(crate) fn rename(
        &self,
        id: ConnId,
        room: &str,
        old: &str,
        new: &str,
    ) -> Result<Members, NickTaken> {
        let old_key = old.to_ascii_lowercase();
        let new_key = new.to_ascii_lowercase();
        let mut state = self.lock();
        if new_key != old_key && state.nicks.contains_key(&new_key) {
            return Err(NickTaken);
        }
        if let Some(handle) = state.nicks.remove(&old_key) {
            state.nicks.insert(new_key, handle);
        }
        let Some(room) = state.rooms.get_mut(room) else {
            return Ok(Members::default());
        };
        if let Some(seat) = room.members.get_mut(&id) {
            seat.nick = new.to_string();
        }
        Ok(room.snapshot())
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
        let joined = room.snapshot();
        Ok(Move { left, joined })
    }

    /// Removes member `id` (nick `nick`, in `room`) from the server. Returns who is left in the
    /// room.
    pub(crate) fn leave(&self, id: ConnId, nick: &str, room: &str) -> Members {
        let mut state = self.lock();
        state.nicks.remove(&nick.to_ascii_lowercase());
        unseat(&mut state, id, room)
    }

    /// The members of `room` now (none if it has none).
    pub(crate) fn members(&self, room: &str) -> Members {
        let mut state = self.lock();
        state
            .rooms
            .get_mut(room)
            .map(Room::snapshot)
            .unwrap_or_default()
    }

    /// The handle of the member called `nick`, ignoring ASCII case.
    pub(crate) fn find(&self, nick: &str) -> Option<ConnHandle<Line>> {
        self.lock().nicks.get(&nick.to_ascii_lowercase()).cloned()
    }

    /// The `/rooms` reply: `* rooms: <name>(<count>) ...`, sorted by name.
    pub(crate) fn rooms_line(&self) -> String {
        let state = self.lock();
        let mut line = String::from("* rooms:");
        for (name, room) in &state.rooms {
            line.push_str(&format!(" {name}({})", room.members.len()));
        }
        line
    }

    /// The `/who` reply for `room`: `* in <room>: <nick> ...`, sorted.
    pub(crate) fn who_line(&self, room: &str) -> String {
        let mut nicks: Vec<String> = {
            let state = self.lock();
            let members = state.rooms.get(room).map(|r| r.members.values());
            members
                .into_iter()
                .flatten()
                .map(|seat| seat.nick.clone())
                .collect()
        };
        nicks.sort_unstable();
        format!("* in {room}: {}", nicks.join(" "))
    }
}

/// Takes member `id` out of `room`, dropping the room once it is empty. Returns who is left.
fn unseat(state: &mut State, id: ConnId, room: &str) -> Members {
    let Some(members) = state.rooms.get_mut(room) else {
        return Members::default();
    };
    members.remove(id);
    if members.members.is_empty() {
        state.rooms.remove(room);
        return Members::default();
    }
    members.snapshot()
}
