//! `Conns`: a reactor's connections by slab key, and the caps they count against.

use std::sync::Arc;

use mio::net::TcpStream;
use slab::Slab;

use crate::Handler;
use crate::connection::{Conn, Connection, Step};
use crate::core::Core;
use crate::limits::Limits;

/// A reactor's connections. A connection is removed (and its socket closed, its place in the
/// server-wide caps released) as soon as a step says it is closed.
pub(crate) struct Conns {
    /// Open connections, keyed by slab slot (also their mio token).
    slab: Slab<Box<dyn Conn>>,
    /// Caps shared with the other reactors.
    limits: Arc<Limits>,
}

impl Conns {
    pub(crate) fn new(limits: Arc<Limits>) -> Self {
        Conns {
            slab: Slab::new(),
            limits,
        }
    }

    /// The server-wide caps.
    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Open connections.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether none is open.
    pub(crate) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// The key the next insert will use.
    pub(crate) fn vacant_key(&self) -> usize {
        self.slab.vacant_key()
    }

    /// Adds a connection (under [`vacant_key`](Self::vacant_key)) and opens it.
    pub(crate) fn open(&mut self, core: &mut Core, conn: Box<dyn Conn>) {
        let key = self.slab.insert(conn);
        self.step(core, key, None, |c, core| c.open(core));
    }

    /// The keys of every open connection.
    pub(crate) fn keys(&self) -> Vec<usize> {
        self.slab.iter().map(|(key, _)| key).collect()
    }

    /// Runs `f` on connection `key` if it is there (and still number `serial`, when given);
    /// drops it if `f` closed it.
    pub(crate) fn step(
        &mut self,
        core: &mut Core,
        key: usize,
        serial: Option<u64>,
        f: impl FnOnce(&mut dyn Conn, &mut Core) -> Step,
    ) {
        let Some(conn) = self.slab.get_mut(key) else {
            return; // an event or message for a connection closed earlier
        };
        if serial.is_some_and(|s| s != conn.id().serial()) {
            return; // the slot was reused: it was for a connection that is gone
        }
        if f(conn.as_mut(), core) == Step::Closed {
            self.remove(key);
        }
    }

    /// [`step`](Self::step) for a connection known to have handler `H`.
    pub(crate) fn step_typed<H: Handler>(
        &mut self,
        core: &mut Core,
        key: usize,
        serial: u64,
        f: impl FnOnce(&mut Connection<H, TcpStream>, &mut Core) -> Step,
    ) {
        self.step(core, key, Some(serial), |conn, core| {
            match conn.as_any_mut().downcast_mut::<Connection<H, TcpStream>>() {
                Some(conn) => f(conn, core),
                None => Step::Open, // unreachable: serials are unique, mailboxes typed
            }
        });
    }

    /// Drops a closed connection.
    fn remove(&mut self, key: usize) {
        let conn = self.slab.remove(key);
        self.limits.release(conn.peer().ip());
    }

    /// Closes every connection by force (the shutdown deadline passed); returns how many.
    pub(crate) fn force_close_all(&mut self, core: &mut Core) -> usize {
        let keys = self.keys();
        for &key in &keys {
            self.slab[key].force_close(core);
            self.remove(key);
        }
        keys.len()
    }
}
