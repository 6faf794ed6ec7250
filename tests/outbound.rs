//! Outbound connections from handlers and from other threads: the outcome of a connect
//! (connected, refused, timed out, not started), what they share with inbound ones, reaching
//! another connection of the reactor, reactor-local state, name resolution on the pool, and
//! `TestConnection` support. The proxy and gateway tests cover partners and pipelining.

mod util;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use turbine::{
    CloseReason, Config, ConnId, Connect, Context, Handler, LinesCodec, Server, TestConnection,
};
use util::{Echo, config, connect, start, wait_until};

/// What an outbound connection reports to the test.
#[derive(Debug, PartialEq)]
enum Event {
    /// `on_open` ran.
    Open,
    /// A line arrived.
    Line(String),
    /// `on_connect_failed` ran with this kind of error.
    Failed(io::ErrorKind),
    /// `on_close` ran with this reason.
    Closed(CloseReason),
}

/// An outbound line client: sends `hello` when connected and reports everything to the test.
struct Probe {
    /// Where the events go.
    events: Sender<Event>,
}

impl Handler for Probe {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        let _ = self.events.send(Event::Open);
        ctx.send("hello");
    }

    fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, line: String) {
        let _ = self.events.send(Event::Line(line));
    }

    fn on_connect_failed(&mut self, _ctx: &mut Context<'_, Self>, error: io::Error) {
        let _ = self.events.send(Event::Failed(error.kind()));
    }

    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, reason: CloseReason) {
        let _ = self.events.send(Event::Closed(reason));
    }
}

/// An inbound handler that, on `go <addr>`, connects a [`Probe`] to `addr` and answers `ok`
/// or `err <why>` (a connect that could not start).
struct Launcher {
    /// Handed to each probe.
    events: Sender<Event>,
}

impl Handler for Launcher {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.frame_limits())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let Some(addr) = line.strip_prefix("go ") else {
            return;
        };
        let addr: SocketAddr = addr.parse().unwrap();
        let probe = Probe {
            events: self.events.clone(),
        };
        let to = Connect::to(addr).timeout(Duration::from_millis(300));
        match ctx.connect(to, probe) {
            Ok(_) => ctx.send("ok"),
            Err(e) => ctx.send(format!("err {:?}", e.error().kind())),
        }
    }
}

/// The next event, within 10 s.
fn next(events: &mpsc::Receiver<Event>) -> Event {
    events
        .recv_timeout(Duration::from_secs(10))
        .expect("an event")
}

/// A handler's connect to an echo server completes: the probe's `on_open` runs, its greeting
/// is echoed back to it, and the stats count one outbound connection.
#[test]
fn connect_from_a_handler() {
    let echo = start(config().reactors(1), |_| Echo::lines());
    let (tx, events) = mpsc::channel();
    let running = start(config().reactors(1), move |_| Launcher {
        events: tx.clone(),
    });
    let mut client = connect(running.local_addr());
    assert_eq!(
        util::hardening::echo_line(&mut client, &format!("go {}", echo.local_addr())).unwrap(),
        "ok"
    );
    assert_eq!(next(&events), Event::Open);
    assert_eq!(next(&events), Event::Line("hello".into()));
    let total = running.stats().total();
    assert_eq!(
        (total.outbound, total.connects, total.connect_failures),
        (1, 1, 0)
    );
    assert_eq!(total.open, 2, "the client and the probe");
}

/// A refused connect reaches `on_connect_failed` with `ConnectionRefused`, then `on_close`
/// with `ConnectFailed`; `on_open` never runs; the stats count the connect and its failure;
/// nothing is left open.
#[test]
fn refused_connect_is_reported() {
    let refusing = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (tx, events) = mpsc::channel();
    let running = start(config().reactors(1), move |_| Launcher {
        events: tx.clone(),
    });
    let mut client = connect(running.local_addr());
    util::hardening::echo_line(&mut client, &format!("go {refusing}")).unwrap();
    assert_eq!(
        next(&events),
        Event::Failed(io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(
        next(&events),
        Event::Closed(CloseReason::ConnectFailed(io::ErrorKind::ConnectionRefused))
    );
    assert!(wait_until(Duration::from_secs(5), || {
        let total = running.stats().total();
        let counted = (total.connects, total.connect_failures);
        (total.outbound, counted, total.open) == (0, (1, 1), 1)
    }));
}

/// A connect that does not complete (its SYN dropped by a full queue) times out after the
/// connect's own timeout: `on_connect_failed` with `TimedOut`.
#[test]
fn connect_times_out() {
    let (addr, _hole, _fillers) = util::black_hole();
    let (tx, events) = mpsc::channel();
    let running = start(config().reactors(1), move |_| Launcher {
        events: tx.clone(),
    });
    let mut client = connect(running.local_addr());
    util::hardening::echo_line(&mut client, &format!("go {addr}")).unwrap();
    assert_eq!(next(&events), Event::Failed(io::ErrorKind::TimedOut));
    assert_eq!(
        next(&events),
        Event::Closed(CloseReason::ConnectFailed(io::ErrorKind::TimedOut))
    );
}

/// Outbound connections count against `TURBINE_MAX_CONNECTIONS` like inbound ones: at the cap a
/// connect does not start, the handler learns it at once (`ConnectError`, handler handed back),
/// and nothing spins.
#[test]
fn connect_at_the_cap_fails_at_once() {
    let echo = start(config().reactors(1), |_| Echo::lines());
    let (tx, _events) = mpsc::channel();
    let running = start(config().reactors(1).max_connections(1), move |_| Launcher {
        events: tx.clone(),
    });
    let mut client = connect(running.local_addr());
    let answer =
        util::hardening::echo_line(&mut client, &format!("go {}", echo.local_addr())).unwrap();
    assert_eq!(answer, "err Other");
    assert!(wait_until(Duration::from_secs(5), || {
        let total = running.stats().total();
        (total.outbound, total.connect_failures) == (0, 1)
    }));
}

/// From another thread, a `Connector` opens an outbound connection on a chosen reactor; an
/// index out of range is refused.
#[test]
fn connector_from_another_thread() {
    let echo = start(config().reactors(1), |_| Echo::lines());
    let running = start(config().reactors(2), |_| Echo::lines());
    let connector = running.connector();
    let (tx, events) = mpsc::channel();
    let addr = echo.local_addr();
    std::thread::spawn(move || {
        connector
            .connect(1, addr, move || Probe { events: tx })
            .expect("queued");
        assert!(connector.connect(2, addr, Echo::lines).is_err());
    })
    .join()
    .unwrap();
    assert_eq!(next(&events), Event::Open);
    assert_eq!(next(&events), Event::Line("hello".into()));
    assert_eq!(running.stats().reactors[1].outbound, 1);
}

/// A `Connector` taken from the bound server before it starts (as a `run_with` setup step
/// would) queues its connect until the reactors run; a server that never starts drops it.
#[test]
fn connector_before_start() {
    let echo = start(config().reactors(1), |_| Echo::lines());
    let server = Server::bind(config().reactors(2)).expect("bind");
    let connector = server.connector();
    let (tx, events) = mpsc::channel();
    connector
        .connect(1, echo.local_addr(), move || Probe { events: tx })
        .expect("queued");
    let running = server.start(|_| Echo::lines()).expect("start");
    assert_eq!(next(&events), Event::Open);
    assert_eq!(next(&events), Event::Line("hello".into()));
    assert_eq!(running.stats().reactors[1].outbound, 1);
    drop(running);
    let never = Server::bind(config().reactors(1)).expect("bind");
    let connector = never.connector();
    drop(never);
    assert!(
        connector
            .connect(0, echo.local_addr(), Echo::lines)
            .is_err()
    );
}

/// `with_conn` reaches another connection of the reactor by id and handler type, and nothing
/// else: a wrong type or an id that is gone gives `None`. Reactor-local state is shared by the
/// reactor's connections.
#[test]
fn with_conn_and_reactor_local() {
    /// Registers itself in the reactor's list; `poke` greets every other member.
    struct Member;
    #[derive(Default)]
    struct Members(Vec<ConnId>);
    impl Handler for Member {
        type Codec = LinesCodec;
        fn codec(&mut self, config: &Config) -> LinesCodec {
            LinesCodec::new(config.frame_limits())
        }
        fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
            let id = ctx.id();
            ctx.reactor_local::<Members>().0.push(id);
        }
        fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
            let me = ctx.id();
            let others: Vec<ConnId> = ctx.reactor_local::<Members>().0.clone();
            let mut reached = 0;
            for id in others.into_iter().filter(|&id| id != me) {
                if ctx
                    .with_conn::<Member, _>(id, |_, other| other.send(format!("from {line}")))
                    .is_some()
                {
                    reached += 1;
                }
            }
            let wrong_type = ctx
                .with_conn::<Echo<LinesCodec>, _>(me, |_, _| ())
                .is_some();
            let itself = ctx.with_conn::<Member, _>(me, |_, _| ()).is_some();
            ctx.send(format!(
                "reached {reached} wrong_type {wrong_type} itself {itself}"
            ));
        }
        fn on_close(&mut self, ctx: &mut Context<'_, Self>, _reason: CloseReason) {
            let id = ctx.id();
            ctx.reactor_local::<Members>().0.retain(|&m| m != id);
        }
    }
    let running = start(config().reactors(1), |_| Member);
    let mut a = connect(running.local_addr());
    let mut b = connect(running.local_addr());
    let mut c = connect(running.local_addr());
    let gone = connect(running.local_addr());
    drop(gone);
    assert!(wait_until(Duration::from_secs(5), || running
        .stats()
        .total()
        .closed
        == 1));
    let reply = util::hardening::echo_line(&mut a, "a").unwrap();
    assert_eq!(reply, "reached 2 wrong_type false itself false");
    assert_eq!(util::hardening::read_line(&mut b).unwrap(), "from a");
    assert_eq!(util::hardening::read_line(&mut c).unwrap(), "from a");
}

/// `resolve` looks a name up on the worker pool (a job the pool counts) and hands the
/// addresses back to the connection: `localhost` resolves to loopback addresses with the port
/// asked for.
#[test]
fn resolve_on_the_pool() {
    /// On `resolve <port>`: resolves `localhost`, answers with whether the addresses are
    /// loopback.
    struct Resolver;
    impl Handler for Resolver {
        type Codec = LinesCodec;
        fn codec(&mut self, config: &Config) -> LinesCodec {
            LinesCodec::new(config.frame_limits())
        }
        fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
            let port: u16 = line.parse().unwrap();
            ctx.resolve("localhost", port, move |_, ctx, addrs| match addrs {
                Ok(addrs)
                    if !addrs.is_empty()
                        && addrs
                            .iter()
                            .all(|a| a.ip().is_loopback() && a.port() == port) =>
                {
                    ctx.send("loopback")
                }
                other => ctx.send(format!("unexpected {other:?}")),
            })
            .expect("the pool takes the lookup");
        }
    }
    let running = start(config().reactors(1).workers(1), |_| Resolver);
    let mut client = connect(running.local_addr());
    assert_eq!(
        util::hardening::echo_line(&mut client, "6379").unwrap(),
        "loopback"
    );
    let pool = running.pool_stats().expect("the lookup started the pool");
    assert_eq!(pool.completed, 1, "the lookup ran as a job: {pool:?}");
}

/// `TestConnection::connecting` drives an outbound handler: nothing runs while it connects,
/// frames sent to it meanwhile wait and go first; `connected` runs `on_open`;
/// `connect_fails` runs `on_connect_failed` and closes with `ConnectFailed`; the connect
/// timeout fires on `advance`.
#[test]
fn test_connection_outbound() {
    let (tx, events) = mpsc::channel();
    let mut conn = TestConnection::connecting(Probe { events: tx.clone() });
    conn.handle().send("queued first".to_string()).unwrap();
    conn.deliver();
    assert!(
        conn.take_output().is_empty(),
        "nothing is written while connecting"
    );
    conn.connected();
    assert_eq!(events.try_recv().unwrap(), Event::Open);
    assert_eq!(conn.take_output(), b"queued first\nhello\n");
    conn.push(b"reply\n");
    assert_eq!(events.try_recv().unwrap(), Event::Line("reply".into()));

    let mut refused = TestConnection::connecting(Probe { events: tx.clone() });
    refused.connect_fails(io::ErrorKind::ConnectionRefused.into());
    assert_eq!(
        events.try_recv().unwrap(),
        Event::Failed(io::ErrorKind::ConnectionRefused)
    );
    let reason = CloseReason::ConnectFailed(io::ErrorKind::ConnectionRefused);
    assert_eq!(refused.close_reason(), Some(&reason));
    assert_eq!(events.try_recv().unwrap(), Event::Closed(reason));

    let config = Config::new().connect_timeout(Duration::from_secs(2));
    let mut slow = TestConnection::connecting_with_config(Probe { events: tx }, config);
    slow.advance(Duration::from_millis(1999));
    assert!(events.try_recv().is_err());
    slow.advance(Duration::from_millis(1));
    assert_eq!(
        events.try_recv().unwrap(),
        Event::Failed(io::ErrorKind::TimedOut)
    );
}

/// A panic in a callback run on a partner (`with_partner`) closes the partner, and the caller
/// still hears of it once its own callback ends: its `on_partner_closed` runs (by default it
/// closes too), so it is never left linked to a partner that is gone.
#[test]
fn partner_closed_by_a_panic_is_still_reported() {
    /// `go <addr>` connects a partner; `boom` panics inside a call on it.
    struct Front;
    /// The partner: does nothing itself.
    struct Back;
    impl Handler for Back {
        type Codec = LinesCodec;
        fn codec(&mut self, config: &Config) -> LinesCodec {
            LinesCodec::new(config.frame_limits())
        }
        fn on_frame(&mut self, _ctx: &mut Context<'_, Self>, _line: String) {}
    }
    impl Handler for Front {
        type Codec = LinesCodec;
        fn codec(&mut self, config: &Config) -> LinesCodec {
            LinesCodec::new(config.frame_limits())
        }
        fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
            if let Some(addr) = line.strip_prefix("go ") {
                ctx.connect_partner(addr.parse::<SocketAddr>().unwrap(), Back)
                    .unwrap();
                ctx.send("ok");
            } else if line == "boom" {
                ctx.with_partner::<Back, _>(|_, _| panic!("deliberate, in a call on the partner"));
            }
        }
        fn on_partner_closed(&mut self, ctx: &mut Context<'_, Self>, reason: &CloseReason) {
            ctx.send(format!("partner closed: {reason}"));
            ctx.close();
        }
    }
    let echo = start(config().reactors(1), |_| Echo::lines());
    let running = start(config().reactors(1), |_| Front);
    let mut client = connect(running.local_addr());
    let go = format!("go {}", echo.local_addr());
    assert_eq!(util::hardening::echo_line(&mut client, &go).unwrap(), "ok");
    assert!(wait_until(Duration::from_secs(5), || running
        .stats()
        .total()
        .open
        == 2));
    std::io::Write::write_all(&mut client, b"boom\n").unwrap();
    let (got, end) = util::hardening::read_until_end(&mut client, Duration::from_secs(10));
    assert_eq!(
        String::from_utf8(got).unwrap(),
        "partner closed: handler panicked\n"
    );
    assert_eq!(end, util::hardening::End::Eof);
    assert!(wait_until(Duration::from_secs(5), || {
        let total = running.stats().total();
        (total.open, total.panics) == (0, 1)
    }));
}

/// A server that greets and sends its FIN at once (line and FIN may come with the connect's
/// completion, in one event): the probe opens, gets the line, and closes as `PeerClosed`, never
/// waiting for an edge that was already reported.
#[test]
fn greeting_and_close_with_the_connect() {
    let running = start(config().reactors(1), |_| Echo::lines());
    for _ in 0..5 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let greeter = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            std::io::Write::write_all(&mut stream, b"busy, bye\n").unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            // Takes the probe's `hello` (left unread, it would turn the close into a reset).
            let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
        });
        let (tx, events) = mpsc::channel();
        running
            .connector()
            .connect(0, addr, move || Probe { events: tx })
            .unwrap();
        greeter.join().unwrap();
        assert_eq!(next(&events), Event::Open);
        assert_eq!(next(&events), Event::Line("busy, bye".into()));
        assert_eq!(next(&events), Event::Closed(CloseReason::PeerClosed));
    }
}
