//! Connection limits: the server-wide cap with its rejection line, the per-address cap across
//! reactors, the cap lowered to fit `ulimit -n`, and running out of descriptors at `accept`.

mod util;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use util::hardening::{
    End, Guarded, MAX_CONNECTIONS_LINE, MAX_PER_IP_LINE, assert_echoes, connect_from, echo_line,
    process_cpu, read_available, read_until_end,
};
use util::{Example, config, connect, start, wait_until};

/// Connects until a client is served (its line comes back), refused clients included, for at
/// most `timeout`; returns the served client and how many tries were refused first.
fn connect_until_served(addr: SocketAddr, timeout: Duration) -> (TcpStream, usize) {
    let deadline = Instant::now() + timeout;
    let mut refused = 0;
    loop {
        let mut stream = connect(addr);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        match echo_line(&mut stream, "newcomer") {
            Ok(line) if line == "newcomer" => return (stream, refused),
            Ok(line) => assert_eq!(
                format!("{line}\n"),
                MAX_CONNECTIONS_LINE,
                "a refused client gets the rejection line"
            ),
            Err(e) => panic!("a newcomer got neither its echo nor the rejection line: {e}"),
        }
        refused += 1;
        assert!(
            Instant::now() < deadline,
            "no client served within {timeout:?} ({refused} refused)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `max_connections(4)`: four idle clients are served, a fifth reads the protocol's rejection
/// line and then a clean EOF at once, the four are still served, and once one of them closes a
/// newcomer is served.
#[test]
fn max_connections_refuses_with_a_line_and_frees_the_slot_on_close() {
    let running = start(config().max_connections(4), |_| Guarded);
    let addr = running.local_addr();
    let mut clients: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut client = connect(addr);
            assert_echoes(&mut client, &format!("hello {i}"), &format!("client {i}"));
            client
        })
        .collect();

    let mut fifth = connect(addr);
    let (got, end) = read_until_end(&mut fifth, Duration::from_secs(5));
    assert_eq!(
        String::from_utf8_lossy(&got),
        MAX_CONNECTIONS_LINE,
        "the fifth client reads the rejection line"
    );
    assert_eq!(end, End::Eof, "then a clean EOF, within 5 s");
    assert!(wait_until(Duration::from_secs(5), || {
        running.stats().total().rejected == 1
    }));

    for (i, client) in clients.iter_mut().enumerate() {
        assert_echoes(client, &format!("still here {i}"), &format!("client {i}"));
    }

    drop(clients.remove(0));
    let (mut newcomer, refused) = connect_until_served(addr, Duration::from_secs(10));
    eprintln!("newcomer served after {refused} refused tries");
    assert_echoes(&mut newcomer, "served", "newcomer");
    for (i, client) in clients.iter_mut().enumerate() {
        assert_echoes(client, "after", &format!("client {}", i + 1));
    }
    // Counters are published at the end of a reactor's turn: wait for the turn to end.
    assert!(
        wait_until(Duration::from_secs(5), || {
            let total = running.stats().total();
            (total.open, total.rejected) == (4, 1 + refused as u64)
        }),
        "{:?}",
        running.stats().total()
    );
}

/// `max_connections_per_ip(4)` with four reactors: of 20 clients from 127.0.0.1 exactly four
/// are served and sixteen read the rejection line then EOF, though the kernel spreads them
/// over the reactors; a client from 127.0.0.2 is still served.
#[test]
fn per_ip_cap_holds_across_reactors() {
    const CLIENTS: usize = 20;
    let running = start(config().reactors(4).max_connections_per_ip(4), |_| Guarded);
    let addr = running.local_addr();
    let mut clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(addr)).collect();
    assert!(
        wait_until(Duration::from_secs(10), || {
            let total = running.stats().total();
            total.accepted + total.rejected == CLIENTS as u64
        }),
        "every client accepted or refused: {:?}",
        running.stats()
    );
    let stats = running.stats();
    let total = stats.total();
    assert_eq!(total.accepted, 4, "{stats:?}");
    assert_eq!(total.rejected, CLIENTS as u64 - 4, "{stats:?}");
    let busy_reactors = stats
        .reactors
        .iter()
        .filter(|r| r.accepted + r.rejected > 0)
        .count();
    eprintln!("{busy_reactors} reactors accepted connections");

    // The refused clients have their line and FIN on the way; the served ones have nothing.
    // Nobody writes yet, so that a refusal ends in a FIN, not a reset of unread input.
    let mut got = vec![Vec::new(); CLIENTS];
    let mut ends: Vec<Option<End>> = vec![None; CLIENTS];
    let all_refusals_seen = wait_until(Duration::from_secs(10), || {
        for (i, client) in clients.iter_mut().enumerate() {
            if ends[i].is_none() {
                ends[i] = read_available(client, &mut got[i]);
            }
        }
        ends.iter().flatten().count() == CLIENTS - 4
    });
    assert!(all_refusals_seen, "refused clients closed: {ends:?}");
    for (i, client) in clients.iter_mut().enumerate() {
        match ends[i] {
            Some(end) => {
                assert_eq!(
                    String::from_utf8_lossy(&got[i]),
                    MAX_PER_IP_LINE,
                    "client {i}'s rejection line"
                );
                assert_eq!(end, End::Eof, "client {i} ends in a clean EOF");
            }
            None => assert_echoes(client, "served", &format!("client {i}")),
        }
    }

    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut stranger = connect_from(other, addr);
    assert_echoes(&mut stranger, "from elsewhere", "the client from 127.0.0.2");
    assert!(
        wait_until(Duration::from_secs(5), || {
            let total = running.stats().total();
            (total.open, total.rejected) == (5, CLIENTS as u64 - 4)
        }),
        "{:?}",
        running.stats().total()
    );
}

/// Under `ulimit -n 256` with two reactors, the echo example asked for 10,000 connections
/// warns that it lowered the cap to 256 - (32 + 8 * 2) = 208, runs with that cap, and serves.
#[test]
fn descriptor_budget_lowers_the_cap_with_a_warning() {
    let example = Example::spawn_with_open_files(
        256,
        0,
        &[
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("TURBINE_REACTORS", "2"),
            ("TURBINE_MAX_CONNECTIONS", "10000"),
            ("RUST_LOG", "info"),
        ],
    );
    let warning = example
        .wait_line(Duration::from_secs(20), |l| {
            l.contains("does not fit the open-file limit")
        })
        .unwrap_or_else(|| panic!("no descriptor warning:\n{}", example.output()));
    assert!(warning.contains("WARN"), "a warning: {warning}");
    assert!(
        warning.contains("TURBINE_MAX_CONNECTIONS=10000") && warning.contains("lowered to 208"),
        "names the old and the new cap: {warning}"
    );
    let addr = example.listening_addr();
    assert!(
        example.output().contains("max_connections=208"),
        "the configuration logged has the lowered cap:\n{}",
        example.output()
    );
    let mut client = connect(addr);
    client.write_all(b"still serving").unwrap();
    let mut back = [0; 13];
    client.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"still serving");
}

/// Total of the `closed N waiting connections` counts in the log's accept failures.
fn shed_in_log(log: &[String]) -> usize {
    log.iter()
        .filter_map(|l| {
            l.split("; closed ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum()
}

/// Out of descriptors at `accept` (the echo example under `ulimit -n 64` with 40 of them held
/// elsewhere, one reactor): 60 clients are held open for 2 s while the server uses almost no
/// CPU (it backs off instead of spinning); each client is either served or closed (the spare
/// descriptor sheds the backlog) within those 2 s, never left hanging; once the served clients
/// close, newcomers are served.
#[test]
fn out_of_descriptors_backs_off_and_sheds_the_backlog() {
    const CLIENTS: usize = 60;
    let mut example = Example::spawn_with_open_files(
        64,
        40,
        &[
            ("TURBINE_ADDR", "127.0.0.1:0"),
            ("TURBINE_REACTORS", "1"),
            ("ECHO_FRAMING", "raw"),
            ("RUST_LOG", "info"),
        ],
    );
    let addr = example.listening_addr();
    let pid = example.pid();

    let clients: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(addr)).collect();
    let cpu_before = process_cpu(pid);
    let held_since = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let cpu = process_cpu(pid) - cpu_before;
    let held = held_since.elapsed();
    eprintln!("server CPU while out of descriptors: {cpu:?} in {held:?}");
    assert!(
        example.output().contains("accept failed"),
        "the server never ran out of descriptors:\n{}",
        example.output()
    );
    assert!(
        cpu < Duration::from_millis(500),
        "the server spun: {cpu:?} of CPU in {held:?} while out of descriptors"
    );

    // Every client is served or already closed: none waits in the backlog.
    let mut served = Vec::new();
    let mut shed = 0;
    for (i, mut client) in clients.into_iter().enumerate() {
        let mut got = Vec::new();
        match read_available(&mut client, &mut got) {
            Some(end) => {
                assert!(got.is_empty(), "client {i} got {got:?} before it closed");
                assert!(end.is_closed(), "client {i}: {end:?}");
                shed += 1;
            }
            None => {
                client
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut back = [0; 4];
                let echoed = client
                    .write_all(b"ping")
                    .and_then(|()| client.read_exact(&mut back));
                assert!(
                    echoed.is_ok() && &back == b"ping",
                    "client {i} was neither closed nor served 2 s after connecting: {echoed:?}"
                );
                served.push(client);
            }
        }
    }
    eprintln!("{} served, {shed} shed", served.len());
    assert!(!served.is_empty() && shed > 0, "{} served", served.len());
    assert!(
        wait_until(Duration::from_secs(5), || shed_in_log(&example.log())
            == shed),
        "the log counts {} shed connections, the clients {shed}:\n{}",
        shed_in_log(&example.log()),
        example.output()
    );

    // Free descriptors: newcomers are served (after at most one backed-off retry), as is the
    // one old client kept.
    let mut kept = served.swap_remove(0);
    drop(served);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut newcomers = Vec::new();
    while newcomers.len() < 5 {
        let mut client = connect(addr);
        client
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let mut back = [0; 3];
        let echoed = client
            .write_all(b"new")
            .and_then(|()| client.read_exact(&mut back));
        match echoed {
            Ok(()) => {
                assert_eq!(&back, b"new");
                newcomers.push(client);
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "newcomers still not served 15 s after descriptors were freed: {e}\n{}",
                    example.output()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    kept.write_all(b"kept").unwrap();
    let mut back = [0; 4];
    kept.read_exact(&mut back).expect("the kept client's echo");
    assert_eq!(&back, b"kept");

    drop((kept, newcomers));
    example.signal("TERM");
    let status = example
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", example.output()));
    assert_eq!(status.code(), Some(0), "{}", example.output());
}
