//! `Room`: one room's members, on this instance and (in cluster mode) on the others;
//! `Members`, the handles a line for the room goes to; `Notice`, such a line not sent yet.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use turbine::{ByteLinesCodec, ConnHandle, ConnId, Payload, SendError};

use super::codec::{Line, line};
use super::mirror::RemoteId;

/// Rooms that have members, by name (so `/rooms` lists them sorted).
pub(crate) type Rooms = BTreeMap<String, Room>;

/// One room: its members here and elsewhere, and a snapshot of the local members' handles for
/// broadcasting.
#[derive(Debug, Default)]
pub(crate) struct Room {
    /// Members on this instance: each one's nick as written and its handle, by connection.
    local: HashMap<ConnId, Seat>,
    /// Members on other instances (cluster mode): each one's nick, as the mirror knows it.
    remote: HashMap<RemoteId, String>,
    /// The local members' handles, built on the first broadcast after the local membership
    /// changed and shared by every broadcast until the next change.
    snapshot: Option<Members>,
}

/// A local member's place in a room.
#[derive(Debug)]
pub(crate) struct Seat {
    /// The nick as the member wrote it.
    pub(crate) nick: String,
    /// Sends to the member's connection.
    pub(crate) handle: ConnHandle<Line>,
}

impl Room {
    /// The handles of every local member, the snapshot built again if membership changed.
    pub(crate) fn snapshot(&mut self) -> Members {
        let local = &self.local;
        self.snapshot
            .get_or_insert_with(|| Members(local.values().map(|s| s.handle.clone()).collect()))
            .clone()
    }

    /// Seats a local member, invalidating the snapshot.
    pub(crate) fn insert(&mut self, id: ConnId, seat: Seat) {
        self.local.insert(id, seat);
        self.snapshot = None;
    }

    /// Unseats a local member, invalidating the snapshot.
    pub(crate) fn remove(&mut self, id: ConnId) {
        self.snapshot = None;
        self.local.remove(&id);
    }

    /// A local member's seat.
    pub(crate) fn seat_mut(&mut self, id: ConnId) -> Option<&mut Seat> {
        self.local.get_mut(&id)
    }

    /// The local members' seats, by connection.
    pub(crate) fn seats(&self) -> impl Iterator<Item = (&ConnId, &Seat)> {
        self.local.iter()
    }

    /// Seats (or renames) a member of another instance.
    pub(crate) fn insert_remote(&mut self, id: RemoteId, nick: &str) {
        self.remote.insert(id, nick.to_string());
    }

    /// Unseats a member of another instance.
    pub(crate) fn remove_remote(&mut self, id: &RemoteId) {
        self.remote.remove(id);
    }

    /// How many members the room has, on every instance.
    pub(crate) fn count(&self) -> usize {
        self.local.len() + self.remote.len()
    }

    /// Whether nobody is in the room any more (it is then dropped).
    pub(crate) fn is_empty(&self) -> bool {
        self.local.is_empty() && self.remote.is_empty()
    }

    /// Every member's nick, local and remote, unsorted.
    pub(crate) fn nicks(&self) -> impl Iterator<Item = &str> {
        let local = self.local.values().map(|seat| seat.nick.as_str());
        local.chain(self.remote.values().map(String::as_str))
    }
}

/// The handles of a room's local members at one moment; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Members(Arc<[ConnHandle<Line>]>);

impl Members {
    /// The handles in `handles`.
    pub(crate) fn of(handles: impl IntoIterator<Item = ConnHandle<Line>>) -> Members {
        Members(handles.into_iter().collect())
    }

    /// Sends one encoded line to every member but `except`, with
    /// [`turbine::broadcast`]: the line is stored once, however many members get it, and a
    /// member whose output would pass the write limit is cut off instead (`on_overflow`).
    /// Returns to how many members it went.
    pub(crate) fn send(&self, except: Option<ConnId>, line: &Payload<Line>) -> usize {
        turbine::broadcast(self.0.iter().filter(|m| Some(m.id()) != except), line)
    }

    /// How many members the snapshot holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the snapshot holds nobody.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A line for a room's local members, worked out under the registry's lock and sent after it
/// is released.
#[derive(Debug)]
pub(crate) struct Notice {
    /// Who gets it.
    pub(crate) to: Members,
    /// The line, without its `\n`.
    pub(crate) line: String,
}

impl Notice {
    /// Sends the notice, encoded once with `wire`.
    pub(crate) fn send(&self, wire: &mut ByteLinesCodec) {
        self.to.send(None, &line(wire, &[&self.line]));
    }
}

/// Why a private message was not delivered: its target's connection is closing or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gone;

/// Sends private line `private` (without its `\n`) to `target`.
///
/// # Errors
///
/// [`Gone`] if the target's connection is closing or closed.
pub(crate) fn send_private(
    wire: &mut ByteLinesCodec,
    target: &ConnHandle<Line>,
    private: Line,
) -> Result<(), Gone> {
    match target.send(private) {
        Ok(()) => Ok(()),
        Err(SendError::Closed(_)) => Err(Gone),
        Err(SendError::Full(private)) => {
            // The target is over its write limit: hand the line to its reactor the way room
            // messages go, which cuts it off as too slow (`on_overflow`) rather than dropping
            // the message quietly.
            if let Ok(private) = Payload::encode(wire, private) {
                turbine::broadcast([target], &private);
            }
            Ok(())
        }
    }
}
