//! Several listeners on one server (`Server::listen`): each address with its own handler type,
//! all on the same reactors, under one connection cap and one shutdown.

mod util;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use turbine::{Config, Context, Handler, LinesCodec, Rejection, Server};
use util::hardening::{End, assert_echoes, echo_line, read_line, read_until_end};
use util::{config, connect, localhost, wait_until};

/// What [`LineEcho`] writes to a connection refused by the connection cap.
const ECHO_FULL: &str = "ERR echo full";
/// What [`Admin`] writes to a connection refused by the connection cap.
const ADMIN_FULL: &str = "ERR admin full";

/// The protocol port: echoes lines.
struct LineEcho;

impl Handler for LineEcho {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn rejection(_reason: Rejection) -> Option<Vec<u8>> {
        Some(format!("{ECHO_FULL}\n").into_bytes())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        ctx.send(line);
    }
}

/// The admin port: answers `stats` with how many echo connections the server has opened,
/// which only it knows; anything else with `unknown`.
struct Admin {
    /// Echo connections opened so far, counted by the echo factory.
    echoes: Arc<AtomicUsize>,
}

impl Handler for Admin {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn rejection(_reason: Rejection) -> Option<Vec<u8>> {
        Some(format!("{ADMIN_FULL}\n").into_bytes())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        if line == "stats" {
            let echoes = self.echoes.load(Ordering::SeqCst);
            ctx.send(format!("echo connections: {echoes}"));
        } else {
            ctx.send("unknown");
        }
    }
}

/// A server with the echo on its main address and the admin protocol on a second one, bound
/// but not started; returns it with the echo factory and the echo connection counter.
fn bind_both(config: Config) -> (Server, impl Fn(SocketAddr) -> LineEcho, Arc<AtomicUsize>) {
    let echoes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&echoes);
    let server = Server::bind(config)
        .expect("bind")
        .listen(localhost(), move |_peer| Admin {
            echoes: Arc::clone(&counted),
        })
        .expect("listen");
    let counting = Arc::clone(&echoes);
    let factory = move |_peer| {
        counting.fetch_add(1, Ordering::SeqCst);
        LineEcho
    };
    (server, factory, echoes)
}

/// Asserts that a connection to `addr` is refused: nothing listens there any more.
fn assert_refused(addr: SocketAddr, what: &str) {
    match TcpStream::connect(addr) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{what}: {e}"),
        Ok(_) => panic!("{what} ({addr}) still accepts connections"),
    }
}

/// The echo and the admin protocol, on two addresses of the same two reactors, both serve:
/// each answers as its own handler type, the admin one with what only it knows; the server and
/// the running server list both addresses, the main one first.
#[test]
fn two_handler_types_serve_side_by_side() {
    let (server, factory, _) = bind_both(config().reactors(2));
    let addrs = server.local_addrs();
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[0], server.local_addr());
    assert_ne!(addrs[0].port(), addrs[1].port());
    let running = server.start(factory).expect("start");
    assert_eq!(running.local_addrs(), &addrs[..]);

    let mut echoes: Vec<TcpStream> = (0..3).map(|_| connect(addrs[0])).collect();
    for (i, echo) in echoes.iter_mut().enumerate() {
        assert_echoes(echo, &format!("hello {i}"), "echo");
        assert_echoes(echo, "stats", "echo"); // just a line to the echo
    }
    let mut admin = connect(addrs[1]);
    assert_eq!(
        echo_line(&mut admin, "stats").unwrap(),
        "echo connections: 3"
    );
    assert_eq!(echo_line(&mut admin, "hello").unwrap(), "unknown");
    let total = running.stats().total();
    assert_eq!(total.panics, 0, "{total:?}");
}

/// `max_connections` counts the connections of both listeners together: with a cap of 2, one
/// echo and one admin connection fill it, a third to either address is refused with its own
/// protocol's line, and a connection closed on one listener makes room on the other.
#[test]
fn both_listeners_share_max_connections() {
    let (server, factory, _) = bind_both(config().reactors(2).max_connections(2));
    let running = server.start(factory).expect("start");
    let [echo_addr, admin_addr] = running.local_addrs()[..] else {
        panic!("two listeners expected");
    };

    let mut echo = connect(echo_addr);
    assert_echoes(&mut echo, "one", "echo");
    let mut admin = connect(admin_addr);
    assert_eq!(
        echo_line(&mut admin, "stats").unwrap(),
        "echo connections: 1"
    );

    for (addr, line) in [(echo_addr, ECHO_FULL), (admin_addr, ADMIN_FULL)] {
        let mut refused = connect(addr);
        let (got, end) = read_until_end(&mut refused, Duration::from_secs(10));
        assert_eq!(String::from_utf8_lossy(&got), format!("{line}\n"));
        assert!(end.is_closed(), "{addr}: {end:?}");
    }
    // A reactor publishes its counters at the end of the turn that refused and closed.
    assert!(
        wait_until(Duration::from_secs(5), || running.stats().total().rejected
            == 2),
        "{:?}",
        running.stats().total()
    );

    drop(echo);
    assert!(
        wait_until(Duration::from_secs(10), || running.stats().total().open
            == 1),
        "{:?}",
        running.stats().total()
    );
    let mut second_admin = connect(admin_addr);
    assert_eq!(
        echo_line(&mut second_admin, "stats").unwrap(),
        "echo connections: 1"
    );
    assert_eq!(running.stats().total().rejected, 2);
    assert_eq!(echo_line(&mut admin, "hello").unwrap(), "unknown");
}

/// One `shutdown()` stops both listeners: a client of each gets a clean end of stream, and
/// afterwards both addresses refuse connections.
#[test]
fn one_shutdown_stops_both_listeners() {
    let (server, factory, _) = bind_both(config().reactors(2));
    let running = server.start(factory).expect("start");
    let addrs = running.local_addrs().to_vec();
    let mut echo = connect(addrs[0]);
    assert_echoes(&mut echo, "hi", "echo");
    let mut admin = connect(addrs[1]);
    assert_eq!(
        echo_line(&mut admin, "stats").unwrap(),
        "echo connections: 1"
    );

    running.shutdown().expect("shutdown");
    for (client, what) in [(&mut echo, "echo"), (&mut admin, "admin")] {
        let (got, end) = read_until_end(client, Duration::from_secs(10));
        assert!(got.is_empty(), "{what} got {got:?}");
        assert_eq!(end, End::Eof, "{what}");
    }
    assert_refused(addrs[0], "the echo listener");
    assert_refused(addrs[1], "the admin listener");
}

/// `Server::run` blocks until a `ShutdownHandle::shutdown()` from another thread, then
/// returns `Ok`, with a client connected to each listener (each gets a clean end of stream).
#[test]
fn run_returns_after_shutdown_from_another_thread() {
    let (server, factory, _) = bind_both(config().reactors(2));
    let addrs = server.local_addrs();
    let shutdown = server.shutdown_handle();
    let (done_tx, done) = mpsc::channel();
    let runner = std::thread::spawn(move || {
        let result = server.run(factory);
        let _ = done_tx.send(result);
    });

    let mut echo = connect(addrs[0]);
    assert_echoes(&mut echo, "hi", "echo");
    let mut admin = connect(addrs[1]);
    assert_eq!(
        echo_line(&mut admin, "stats").unwrap(),
        "echo connections: 1"
    );
    assert!(
        done.recv_timeout(Duration::from_millis(100)).is_err(),
        "run returned before the shutdown"
    );

    shutdown.shutdown();
    let result = done
        .recv_timeout(Duration::from_secs(10))
        .expect("run did not return within 10 s of the shutdown");
    result.expect("run ended with an error");
    runner.join().expect("the thread that called run");
    for (client, what) in [(&mut echo, "echo"), (&mut admin, "admin")] {
        let err = read_line(client).expect_err("no line after the shutdown");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{what}: {err}");
    }
    assert_refused(addrs[0], "the echo listener");
    assert_refused(addrs[1], "the admin listener");
}

/// `listen` on an address in use fails with `AddrInUse` at once, before any reactor starts,
/// whether something else listens there or the server itself does; the failed server's own
/// address is free again afterwards, and the server holding the address is undisturbed.
#[test]
fn listen_on_an_address_in_use_fails() {
    let other = TcpListener::bind(localhost()).expect("bind a plain listener");
    let taken = other.local_addr().unwrap();
    let server = Server::bind(config()).expect("bind");
    let main_addr = server.local_addr();
    let err = server
        .listen(taken, |_| LineEcho)
        .expect_err("listen on a taken address");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    // Nothing of the failed server is left: its main address can be bound again.
    let again = Server::bind(config().addr(main_addr)).expect("bind the address again");

    // The server's own main address is in use too, for a second listener.
    let err = again
        .listen(main_addr, |_| LineEcho)
        .expect_err("listen on the server's own address");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");

    // A running server's address, for a second server's listener.
    let running = Server::bind(config())
        .expect("bind")
        .start(|_| LineEcho)
        .expect("start");
    let err = Server::bind(config())
        .expect("bind")
        .listen(running.local_addr(), |_| LineEcho)
        .expect_err("listen on a running server's address");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    let mut client = connect(running.local_addr());
    assert_echoes(&mut client, "still mine", "the first server");
    drop(other);
}
