//! `ConnId` is unique in the process: across servers running at once, across connections that
//! reuse a slab slot, and across `TestConnection`s.

mod util;

use std::collections::HashSet;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use turbine::{Config, ConnId, Context, Handler, LinesCodec, Running, TestConnection};
use util::hardening::assert_echoes;
use util::{config, connect, start, wait_until};

/// Ids of the connections a server opened, recorded by their handlers.
#[derive(Debug, Clone, Default)]
struct Ids(Arc<Mutex<Vec<ConnId>>>);

impl Ids {
    fn push(&self, id: ConnId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    fn all(&self) -> Vec<ConnId> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A lines echo that records its connection's id when it opens.
struct Recorder {
    /// Where the id goes.
    ids: Ids,
}

impl Handler for Recorder {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        self.ids.push(ctx.id());
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }
}

/// Starts a server whose handlers record their ids.
fn recording(config: Config) -> (Running, Ids) {
    let ids = Ids::default();
    let recorded = ids.clone();
    let running = start(config, move |_| Recorder {
        ids: recorded.clone(),
    });
    (running, ids)
}

/// Connections each server gets.
const PER_SERVER: usize = 100;
/// `TestConnection`s made.
const TEST_CONNECTIONS: usize = 12;

/// Two servers run at once, driven from two threads: one reactor where 100 connections open
/// and close one after another (so every one gets slot 0), two reactors where 100 stay open
/// together; plus 12 `TestConnection`s. Every id (as handlers see them, and as a
/// `TestConnection`'s handle names it) is distinct, and so is every `serial()`; the two
/// servers' connections on reactor 0, slot 0 have different ids.
#[test]
fn ids_are_unique_in_the_process() {
    let (one_by_one, one_by_one_ids) = recording(config().reactors(1));
    let (together, together_ids) = recording(config().reactors(2));

    let addr = one_by_one.local_addr();
    let sequential = std::thread::spawn(move || {
        for i in 0..PER_SERVER {
            let mut client = connect(addr);
            assert_echoes(&mut client, &format!("one {i}"), "one-by-one client");
            drop(client);
            assert!(
                wait_until(Duration::from_secs(10), || one_by_one.stats().total().open
                    == 0),
                "connection {i} never closed"
            );
        }
        one_by_one
    });
    let addr = together.local_addr();
    let concurrent = std::thread::spawn(move || {
        let mut clients: Vec<TcpStream> = (0..PER_SERVER).map(|_| connect(addr)).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            assert_echoes(client, &format!("together {i}"), "concurrent client");
        }
        (together, clients)
    });
    let _one_by_one = sequential.join().expect("one-by-one clients");
    let (_together, _clients) = concurrent.join().expect("concurrent clients");

    let one_by_one_ids = one_by_one_ids.all();
    let together_ids = together_ids.all();
    assert_eq!(one_by_one_ids.len(), PER_SERVER);
    assert_eq!(together_ids.len(), PER_SERVER);
    assert!(
        one_by_one_ids
            .iter()
            .all(|id| (id.reactor(), id.slot()) == (0, 0)),
        "each connection closed before the next: all in slot 0 of reactor 0: {one_by_one_ids:?}"
    );

    let mut test_ids = Vec::new();
    for _ in 0..TEST_CONNECTIONS {
        let ids = Ids::default();
        let mut conn = TestConnection::new(Recorder { ids: ids.clone() });
        let id = conn.handle().id();
        assert_eq!(ids.all(), [id], "the handle names the handler's connection");
        assert_eq!((id.reactor(), id.slot()), (0, 0));
        test_ids.push(id);
    }

    let all: Vec<ConnId> = [&one_by_one_ids, &together_ids, &test_ids]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    assert_eq!(all.len(), 2 * PER_SERVER + TEST_CONNECTIONS);
    let distinct: HashSet<ConnId> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "some ids repeat");
    let serials: HashSet<u64> = all.iter().map(ConnId::serial).collect();
    assert_eq!(serials.len(), all.len(), "some serial numbers repeat");

    let first_slot = |ids: &[ConnId]| {
        *ids.iter()
            .find(|id| (id.reactor(), id.slot()) == (0, 0))
            .expect("a connection in reactor 0, slot 0")
    };
    let (a, b) = (first_slot(&one_by_one_ids), first_slot(&together_ids));
    assert_ne!(a, b, "two servers' first connections on reactor 0, slot 0");
    assert_ne!(a.serial(), b.serial());
    assert_ne!(a.to_string(), b.to_string());
}
