//! The connection table: stepping a connection, reaching another one, dropping closed ones.

use std::any::Any;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use super::Core;
use crate::connection::{Conn, Connection, Origin, Readiness, Step};
use crate::stream::Stream;
use crate::{CloseReason, ConnId, Handler};

impl Core {
    /// Open connections on this reactor.
    pub(crate) fn open_count(&self) -> usize {
        self.conns.len()
    }

    /// The keys of every open connection.
    pub(crate) fn keys(&self) -> Vec<usize> {
        self.conns.iter().map(|(key, _)| key).collect()
    }

    /// The key the next connection added will get (its mio token).
    pub(crate) fn vacant_key(&self) -> usize {
        self.conns.vacant_key()
    }

    /// Adds a connection (under [`vacant_key`](Self::vacant_key)) and opens it: `on_open` for
    /// an accepted one; an outbound one starts its connect clock and waits.
    pub(crate) fn insert(&mut self, conn: Box<dyn Conn>) {
        let key = self.conns.insert(conn);
        self.step(key, None, |c, core| c.open(core));
    }

    /// Runs `f` on connection `key` if it is there (and still number `serial`, when given);
    /// drops it if `f` closed it.
    ///
    /// The connection is taken out of the table while `f` runs (a placeholder holds its place),
    /// so `f` gets the whole `Core` and the connection's callbacks can reach the others. A
    /// connection reached again while it is out (a partner calling back) is not there: the
    /// call does nothing, so nothing runs re-entrantly.
    pub(crate) fn step(
        &mut self,
        key: usize,
        serial: Option<u64>,
        f: impl FnOnce(&mut dyn Conn, &mut Core) -> Step,
    ) {
        let Some(slot) = self.conns.get_mut(key) else {
            return; // an event or message for a connection closed earlier
        };
        if slot.is_vacant() || serial.is_some_and(|s| s != slot.id().serial()) {
            return; // out for its own step, or the slot was reused by a later connection
        }
        let mut conn = std::mem::replace(slot, Box::new(Vacant));
        let id = conn.id();
        let mut step = f(conn.as_mut(), self);
        while step == Step::Replaced {
            conn = self
                .successor
                .take()
                .expect("Step::Replaced without a hand-over");
            // Input that came with what the old one read makes no new edge: read it now.
            step = match conn.open(self) {
                Step::Open => conn.ready(self, Readiness::READABLE),
                other => other,
            };
        }
        match step {
            Step::Open => self.conns[key] = conn,
            Step::Closed | Step::Replaced => {
                self.conns.remove(key);
                self.release(conn.as_ref());
            }
        }
        // Its partner closed while it was out (a callback of its own into the partner ended
        // it): it hears of it now.
        if let Some(i) = self.partner_closes.iter().position(|(to, _)| *to == id) {
            let (_, reason) = self.partner_closes.swap_remove(i);
            self.partner_closed(id, &reason);
        }
    }

    /// Ends the step of the connection in the table's slot `next.id().slot()`: `next` (same id,
    /// same socket registration) takes its place and opens. Returns the step to end with.
    pub(crate) fn hand_over(&mut self, next: Box<dyn Conn>) -> Step {
        self.successor = Some(next);
        Step::Replaced
    }

    /// [`step`](Self::step) for a connection known to have handler `H` (a message from its
    /// typed mailbox, a call from another connection).
    pub(crate) fn step_typed<H: Handler>(
        &mut self,
        key: usize,
        serial: u64,
        f: impl FnOnce(&mut Connection<H, Stream>, &mut Core) -> Step,
    ) {
        self.step(key, Some(serial), |conn, core| {
            match conn.as_any_mut().downcast_mut::<Connection<H, Stream>>() {
                Some(conn) => f(conn, core),
                None => Step::Open, // another handler type under that id: not for us
            }
        });
    }

    /// Pending output of connection `id`, if it is on this reactor and not being stepped.
    pub(crate) fn output_of(&self, id: ConnId) -> Option<usize> {
        let conn = self.conns.get(id.slot())?;
        (!conn.is_vacant() && conn.id() == id).then(|| conn.pending_output())
    }

    /// Tells connection `id` that its partner's output, now `output` bytes, drained below the
    /// low watermark: a connection paused for it reads again.
    pub(crate) fn partner_drained(&mut self, id: ConnId, output: usize) {
        self.step(id.slot(), Some(id.serial()), |c, core| {
            c.partner_drained(core, output)
        });
    }

    /// Tells connection `id` that its partner closed, and why: now, or, if `id` is out of the
    /// table for its own step, as soon as that step ends.
    pub(crate) fn partner_closed(&mut self, id: ConnId, reason: &CloseReason) {
        let stepping = self
            .conns
            .get(id.slot())
            .is_some_and(|slot| slot.is_vacant());
        if stepping {
            self.partner_closes.push((id, reason.clone()));
            return;
        }
        self.step(id.slot(), Some(id.serial()), |c, core| {
            c.partner_closed(core, reason)
        });
    }

    /// Closes every connection by force (the shutdown deadline passed); returns how many.
    pub(crate) fn force_close_all(&mut self) -> usize {
        let keys = self.keys();
        for &key in &keys {
            self.step(key, None, |c, core| {
                c.force_close(core);
                Step::Closed
            });
        }
        keys.len()
    }

    /// Releases what a closed connection held in the server-wide caps.
    fn release(&self, conn: &dyn Conn) {
        match conn.origin() {
            Origin::Accepted => self.limits.release(conn.peer().ip()),
            Origin::Connected | Origin::Pending => self.limits.release_slot(),
        }
    }
}

/// What holds a connection's place in the table while it is stepped.
struct Vacant;

impl Conn for Vacant {
    fn id(&self) -> ConnId {
        ConnId::new(usize::MAX, usize::MAX, u64::MAX)
    }

    fn peer(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    }

    fn origin(&self) -> Origin {
        Origin::Accepted
    }

    fn is_vacant(&self) -> bool {
        true
    }

    fn pending_output(&self) -> usize {
        0
    }

    fn open(&mut self, _core: &mut Core) -> Step {
        Step::Open
    }

    fn ready(&mut self, _core: &mut Core, _readiness: Readiness) -> Step {
        Step::Open
    }

    fn serve_queued(&mut self, _core: &mut Core) -> Step {
        Step::Open
    }

    fn deadline(&mut self, _core: &mut Core, _at: Instant) -> Step {
        Step::Open
    }

    fn shutdown(&mut self, _core: &mut Core) -> Step {
        Step::Open
    }

    fn force_close(&mut self, _core: &mut Core) {}

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
