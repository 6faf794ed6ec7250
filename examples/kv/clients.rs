//! `Clients`: the open connections, shared by every reactor, for `CLIENT LIST`; `ClientEntry`:
//! what it knows of one, and the line `CLIENT LIST` and `CLIENT INFO` write for it.
//!
//! A connection is registered when it opens and removed when it closes (`on_close` runs
//! however a connection ends, after a panic too), so the registry holds no dead client.
//! Registering and removing take the registry's lock, once per connection. A command takes no
//! shared lock: its connection's entry records when it began and what it was in two atomics
//! that only the connection's own reactor writes. A name (`CLIENT SETNAME`) sits under the
//! entry's own lock, which only that connection and a `CLIENT LIST` ever take.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::commands::Called;

/// Every open connection, by `CLIENT ID`.
#[derive(Debug)]
pub(crate) struct Clients {
    /// The id the next connection gets: ids start at 1 and only grow, as Redis's do.
    next_id: AtomicU64,
    /// The open connections by id, so `CLIENT LIST` shows them oldest first, as Redis does;
    /// each connection's handler adds its entry when it opens and removes it when it closes.
    open: Mutex<BTreeMap<u64, Arc<ClientEntry>>>,
}

impl Clients {
    /// No connection yet.
    pub(crate) fn new() -> Clients {
        Clients {
            next_id: AtomicU64::new(1),
            open: Mutex::new(BTreeMap::new()),
        }
    }

    /// Registers a connection that opened at `now`, from `addr` (the client: the PROXY
    /// header's source behind a balancer) to `laddr` (where it connected); its entry, with a
    /// new id.
    pub(crate) fn open(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        now: Instant,
    ) -> Arc<ClientEntry> {
        let entry = Arc::new(ClientEntry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr,
            opened: now,
            active_ms: AtomicU64::new(0),
            command: AtomicU32::new(Called::NONE.code()),
            name: Mutex::new(String::new()),
        });
        self.lock().insert(entry.id, Arc::clone(&entry));
        entry
    }

    /// Forgets the connection `id`, which has closed.
    pub(crate) fn close(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// The open connections, oldest first (the lock is held only to copy the `Arc`s: lines are
    /// written after it, so a long list never holds up connections opening elsewhere).
    pub(crate) fn all(&self) -> Vec<Arc<ClientEntry>> {
        self.lock().values().cloned().collect()
    }

    /// The open connections among `ids`, in the order asked (twice if asked twice, as Redis
    /// does); ids of no open connection are skipped.
    pub(crate) fn find(&self, ids: &[i64]) -> Vec<Arc<ClientEntry>> {
        let open = self.lock();
        ids.iter()
            .filter_map(|&id| open.get(&(id as u64)).cloned())
            .collect()
    }

    /// How many connections are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The map, whatever a panic elsewhere left in it (every change is one insert or remove).
    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<ClientEntry>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What `CLIENT LIST` knows of one connection.
#[derive(Debug)]
pub(crate) struct ClientEntry {
    /// Its `CLIENT ID`: unique in the process, greater than every earlier connection's.
    id: u64,
    /// The client's address (`addr=`).
    addr: SocketAddr,
    /// The address the client connected to (`laddr=`).
    laddr: SocketAddr,
    /// When it opened, on its reactor's clock.
    opened: Instant,
    /// When its latest command began, in milliseconds after `opened`: written by its reactor
    /// before each command, read by `CLIENT LIST` on any.
    active_ms: AtomicU64,
    /// Its latest command (a [`Called`] code), written with `active_ms`.
    command: AtomicU32,
    /// Its name (`CLIENT SETNAME`), empty for none: printable ASCII without spaces only.
    name: Mutex<String>,
}

impl ClientEntry {
    /// Its `CLIENT ID`.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Records that the command `called` begins at `now`: two stores, no lock.
    pub(crate) fn touch(&self, now: Instant, called: Called) {
        let ms = now.saturating_duration_since(self.opened).as_millis() as u64;
        self.active_ms.store(ms, Ordering::Relaxed);
        self.command.store(called.code(), Ordering::Relaxed);
    }

    /// Its name; empty for none.
    pub(crate) fn name(&self) -> String {
        self.name_lock().clone()
    }

    /// Names it; an empty `name` clears the name. The caller has checked the characters.
    pub(crate) fn set_name(&self, name: String) {
        *self.name_lock() = name;
    }

    /// Appends its line as Redis 7.0 writes it in `CLIENT LIST` and `CLIENT INFO`, `\n`
    /// included, as of `now`; `argv_mem` is the size of the arguments of the command it runs
    /// (Redis's `argv-mem`: the caller's, 0 for the others, which are between commands).
    ///
    /// Fields with no counterpart here are constants, as the example's docs list: `fd=-1`
    /// (handlers see no descriptor), `flags=N`, `db=0`, no subscriptions or transaction, no
    /// buffer sizes (`qbuf`, `rbs`, `obl`, `omem`, `tot-mem`... are 0), `events=r`,
    /// `user=default`, `redir=-1`, `resp=2`.
    pub(crate) fn write_line(&self, out: &mut String, now: Instant, argv_mem: usize) {
        let age = now.saturating_duration_since(self.opened);
        let active_ms = self.active_ms.load(Ordering::Relaxed);
        let idle = (age.as_millis() as u64).saturating_sub(active_ms) / 1000;
        let command = Called::from_code(self.command.load(Ordering::Relaxed)).name();
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={idle} flags=N db=0 sub=0 \
             psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem={argv_mem} multi-mem=0 rbs=0 \
             rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={command} user=default \
             redir=-1 resp=2",
            self.id,
            self.addr,
            self.laddr,
            self.name_lock(),
            age.as_secs(),
        );
    }

    /// The name, whatever a panic elsewhere left in it.
    fn name_lock(&self) -> MutexGuard<'_, String> {
        self.name.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The connection a `CLIENT` command runs for, and the others.
#[derive(Debug)]
pub(crate) struct Caller<'a> {
    /// Every open connection.
    pub clients: &'a Clients,
    /// The caller's own entry.
    pub me: &'a ClientEntry,
    /// The time of the command, on the caller's reactor's clock.
    pub now: Instant,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Ids grow from 1, entries leave on close, `find` keeps the order asked, and a line has
    /// Redis 7.0's fields with the age and idle time of the entry's clock.
    #[test]
    fn registry_and_lines() {
        let clients = Clients::new();
        let t0 = Instant::now();
        let addr: SocketAddr = "203.0.113.7:51000".parse().unwrap();
        let laddr: SocketAddr = "[2001:db8::1]:6380".parse().unwrap();
        let a = clients.open(addr, laddr, t0);
        let b = clients.open(addr, laddr, t0 + Duration::from_millis(10));
        assert_eq!((a.id(), b.id()), (1, 2));
        let ids: Vec<u64> = clients
            .find(&[2, 9, 1, 2, -1])
            .iter()
            .map(|e| e.id())
            .collect();
        assert_eq!(ids, [2, 1, 2]);

        a.touch(t0 + Duration::from_millis(1500), Called::NONE);
        a.set_name("conn-a".into());
        let mut line = String::new();
        a.write_line(&mut line, t0 + Duration::from_millis(5200), 10);
        assert_eq!(
            line,
            "id=1 addr=203.0.113.7:51000 laddr=[2001:db8::1]:6380 fd=-1 name=conn-a age=5 \
             idle=3 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=10 \
             multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=NULL \
             user=default redir=-1 resp=2\n"
        );
        // A reader on a reactor whose clock is behind the entry's sees 0, not a wrap.
        line.clear();
        b.write_line(&mut line, t0, 0);
        assert!(line.contains(" age=0 idle=0 "), "{line}");

        clients.close(a.id());
        assert_eq!(clients.len(), 1);
        assert_eq!(clients.all()[0].id(), 2);
        assert_eq!(clients.open(addr, laddr, t0).id(), 3);
    }
}
