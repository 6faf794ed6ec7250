//! The `kv` example's `CLIENT` commands over real sockets: ids, names, the list of open
//! connections with their real addresses (the socket's, or a PROXY header's behind a load
//! balancer), `CLIENT INFO`'s fields, `redis-cli client list`, and the same replies and errors
//! as Debian's `redis-server` 7.0 (the tests that need `redis-cli` or `redis-server` are skipped,
//! with the reason printed, when they are not installed).

mod util;

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use util::proxy_header::{PROXY_V2_LOCAL, proxy_v1, proxy_v2};
use util::redis::RedisServer;
use util::resp_client::{KvServer, Resp, RespClient, bulk, err, have, ok};
use util::wait_until;

/// The fields of a `CLIENT LIST` line in Redis 7.0's order (`redis-server` 7.0.15).
const FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

/// A server with two reactors, so that clients land on both.
fn server() -> KvServer {
    KvServer::start(&[("TURBINE_REACTORS", "2")])
}

/// One `CLIENT LIST` line as `(key, value)` pairs, in order.
type Line = Vec<(String, String)>;

/// The lines of a `CLIENT LIST` or `CLIENT INFO` reply; each must end in `\n`.
#[track_caller]
fn lines(reply: Resp) -> Vec<Line> {
    let Resp::Bulk(text) = reply else {
        panic!("expected a bulk string, got {reply:?}")
    };
    let text = String::from_utf8(text).expect("UTF-8");
    assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|line| {
            line.split(' ')
                .map(|field| {
                    let (key, value) = field
                        .split_once('=')
                        .unwrap_or_else(|| panic!("{field:?} is not key=value in {line:?}"));
                    (key.to_string(), value.to_string())
                })
                .collect()
        })
        .collect()
}

/// The value of `key` in `line`.
#[track_caller]
fn field<'a>(line: &'a Line, key: &str) -> &'a str {
    line.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
}

/// The line of client `id` in `list`.
#[track_caller]
fn line_of(list: &[Line], id: i64) -> &Line {
    list.iter()
        .find(|line| field(line, "id") == id.to_string())
        .unwrap_or_else(|| panic!("no client {id} in {list:?}"))
}

/// The ids in `list`, in order.
fn ids(list: &[Line]) -> Vec<i64> {
    list.iter()
        .map(|line| field(line, "id").parse().expect("a numeric id"))
        .collect()
}

/// `CLIENT ID` is the same for every call on a connection, distinct for each connection, and
/// greater for each connection opened later, whichever reactor takes it; `CLIENT INFO` shows
/// it.
#[test]
fn ids_are_distinct_and_increasing() {
    let server = server();
    // One after another: each connection has opened (its first reply came) before the next
    // connects. Connections made at once open in whatever order their reactors take them.
    let (mut clients, ids): (Vec<RespClient>, Vec<i64>) = (0..6)
        .map(|_| {
            let mut c = server.client();
            let id = c.call(&["CLIENT", "ID"]).integer();
            (c, id)
        })
        .unzip();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] >= 1, "{ids:?}");
    for (c, id) in clients.iter_mut().zip(&ids) {
        assert_eq!(c.call(&["client", "id"]).integer(), *id);
        let info = lines(c.call(&["CLIENT", "INFO"]));
        assert_eq!(field(&info[0], "id"), id.to_string());
    }
    let later = server.client().call(&["CLIENT", "ID"]).integer();
    assert!(later > ids[5], "{later} after {ids:?}");
}

/// `CLIENT SETNAME` names the connection and `CLIENT GETNAME` gives it back (null before, and
/// after an empty name clears it); names with spaces, line breaks or bytes outside `!`..`~`
/// are refused with Redis's error and leave the name as it was; wrong arities and unknown
/// subcommands get Redis's errors.
#[test]
fn setname_and_getname() {
    let server = server();
    let mut c = server.client();
    c.expect(&["CLIENT", "GETNAME"], Resp::Null);
    c.expect(&["CLIENT", "SETNAME", "worker-1"], ok());
    c.expect(&["client", "getname"], bulk("worker-1"));
    let refused = err("ERR Client names cannot contain spaces, newlines or special characters.");
    for name in [
        "a b",
        "a\nb",
        "a\r\nb",
        "tab\there",
        "caf\u{e9}",
        "del\u{7f}",
    ] {
        c.expect(&["CLIENT", "SETNAME", name], refused.clone());
    }
    c.expect(&["CLIENT", "GETNAME"], bulk("worker-1"));
    c.expect(&["CLIENT", "SETNAME", "!~{}"], ok());
    c.expect(&["CLIENT", "GETNAME"], bulk("!~{}"));
    c.expect(&["CLIENT", "SETNAME", ""], ok());
    c.expect(&["CLIENT", "GETNAME"], Resp::Null);
    // Another connection's name is its own.
    let mut other = server.client();
    c.expect(&["CLIENT", "SETNAME", "mine"], ok());
    other.expect(&["CLIENT", "GETNAME"], Resp::Null);

    let arity = |name: &str| {
        err(&format!(
            "ERR wrong number of arguments for '{name}' command"
        ))
    };
    c.expect(&["CLIENT"], arity("client"));
    c.expect(&["CLIENT", "SETNAME"], arity("client|setname"));
    c.expect(&["CLIENT", "SETNAME", "a", "b"], arity("client|setname"));
    c.expect(&["CLIENT", "GETNAME", "x"], arity("client|getname"));
    c.expect(&["CLIENT", "ID", "x"], arity("client|id"));
    c.expect(&["CLIENT", "INFO", "x"], arity("client|info"));
    c.expect(
        &["CLIENT", "Bogus"],
        err("ERR unknown subcommand 'Bogus'. Try CLIENT HELP."),
    );
    c.expect(&["CLIENT", "GETNAME"], bulk("mine"));
}

/// `CLIENT LIST` shows every open client, on either reactor, each with its own address
/// (`addr`: the client's end of its socket), the server's (`laddr`), its name and its last
/// command; a client that quits or closes its socket leaves the list. `ID` picks clients in
/// the order asked, `TYPE normal` is everyone, the other types no one, and bad options get
/// Redis's errors.
#[test]
fn list_shows_every_client_until_it_closes() {
    let server = server();
    let mut observer = server.client();
    // Each connection has opened (answered) before the next connects, so ids follow this order.
    let me = observer.call(&["CLIENT", "ID"]).integer();
    let mut named: Vec<(RespClient, i64)> = (0..3)
        .map(|i| {
            let mut c = server.client();
            c.expect(&["CLIENT", "SETNAME", &format!("client-{i}")], ok());
            c.expect(&["GET", "k"], Resp::Null);
            let id = c.call(&["CLIENT", "ID"]).integer();
            (c, id)
        })
        .collect();
    named[1].0.expect(&["SET", "k", "v"], ok());

    let list = lines(observer.call(&["CLIENT", "LIST"]));
    let mut want = vec![me];
    want.extend(named.iter().map(|(_, id)| *id));
    assert_eq!(ids(&list), want, "oldest first");
    for (i, (c, id)) in named.iter().enumerate() {
        let line = line_of(&list, *id);
        assert_eq!(field(line, "addr"), c.local_addr().to_string());
        assert_eq!(field(line, "laddr"), server.addr.to_string());
        assert_eq!(field(line, "name"), format!("client-{i}"));
        let last = if i == 1 { "set" } else { "client|id" };
        assert_eq!(field(line, "cmd"), last);
        assert_eq!(field(line, "argv-mem"), "0", "not running a command");
    }
    let mine = line_of(&list, me);
    assert_eq!(field(mine, "cmd"), "client|list");
    assert_eq!(field(mine, "name"), "");
    assert_eq!(field(mine, "argv-mem"), "10", "CLIENT LIST: 6 + 4 bytes");

    let (first, third) = (named[0].1, named[2].1);
    let picked = lines(observer.call(&[
        "CLIENT",
        "LIST",
        "ID",
        &third.to_string(),
        "999999",
        &first.to_string(),
        &third.to_string(),
    ]));
    assert_eq!(ids(&picked), [third, first, third]);
    assert_eq!(
        ids(&lines(observer.call(&["CLIENT", "LIST", "TYPE", "Normal"]))),
        want
    );
    for kind in ["pubsub", "master", "replica", "slave"] {
        observer.expect(&["CLIENT", "LIST", "TYPE", kind], bulk(""));
    }
    observer.expect(
        &["CLIENT", "LIST", "TYPE", "foo"],
        err("ERR Unknown client type 'foo'"),
    );
    let syntax = err("ERR syntax error");
    observer.expect(&["CLIENT", "LIST", "ID"], syntax.clone());
    observer.expect(&["CLIENT", "LIST", "TYPE"], syntax.clone());
    observer.expect(&["CLIENT", "LIST", "TYPE", "normal", "x"], syntax.clone());
    observer.expect(&["CLIENT", "LIST", "foo"], syntax);
    let invalid = err("ERR Invalid client ID");
    observer.expect(&["CLIENT", "LIST", "ID", "1", "x"], invalid.clone());
    observer.expect(&["CLIENT", "LIST", "ID", "01"], invalid);

    // One quits: it has left the list once `OK` comes, though its socket is still open (the
    // server lingers for its FIN). Another just closes its socket: it leaves once the server
    // has read the end. The last one stays.
    let (mut quitting, _) = named.remove(0);
    quitting.expect(&["QUIT"], ok());
    let listed = ids(&lines(observer.call(&["CLIENT", "LIST"])));
    assert_eq!(listed, [me, named[0].1, third]);
    drop(named.remove(0));
    let left = wait_until(Duration::from_secs(10), || {
        ids(&lines(observer.call(&["CLIENT", "LIST"]))) == [me, third]
    });
    assert!(
        left,
        "{:?}",
        ids(&lines(observer.call(&["CLIENT", "LIST"])))
    );
}

/// `CLIENT INFO` is one line ending in `\n`, of Redis 7.0's fields in Redis's order, each
/// `key=value`; the numbers are numbers, the constants are Redis's for a plain client, and
/// `cmd` is the command running (`client|info`).
#[test]
fn info_has_redis_fields() {
    let server = server();
    let mut c = server.client();
    c.expect(&["PING"], Resp::Simple("PONG".into()));
    let info = lines(c.call(&["CLIENT", "INFO"]));
    assert_eq!(info.len(), 1);
    let line = &info[0];
    let keys: Vec<&str> = line.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, FIELDS);
    for key in [
        "id",
        "fd",
        "age",
        "idle",
        "db",
        "sub",
        "psub",
        "ssub",
        "multi",
        "qbuf",
        "qbuf-free",
        "argv-mem",
        "multi-mem",
        "rbs",
        "rbp",
        "obl",
        "oll",
        "omem",
        "tot-mem",
        "redir",
        "resp",
    ] {
        let value = field(line, key);
        assert!(value.parse::<i64>().is_ok(), "{key}={value}");
    }
    for (key, value) in [
        ("addr", c.local_addr().to_string().as_str()),
        ("laddr", &server.addr.to_string()),
        ("flags", "N"),
        ("db", "0"),
        ("multi", "-1"),
        ("argv-mem", "10"),
        ("events", "r"),
        ("cmd", "client|info"),
        ("user", "default"),
        ("redir", "-1"),
        ("resp", "2"),
    ] {
        assert_eq!(field(line, key), value, "{key}");
    }
    assert_eq!(field(line, "idle"), "0", "it is running a command now");
}

/// A client behind a balancer: connects to `server` and sends `header` first.
fn proxied(server: &KvServer, header: &[u8]) -> RespClient {
    let mut c = server.client();
    c.send_raw(header);
    c
}

/// `addr` and `laddr` of client `id` in `CLIENT LIST` as `observer` sees it, and in the
/// client's own `CLIENT INFO`.
fn addresses(observer: &mut RespClient, c: &mut RespClient) -> [(String, String); 2] {
    let id = c.call(&["CLIENT", "ID"]).integer();
    let list = lines(observer.call(&["CLIENT", "LIST"]));
    let listed = line_of(&list, id);
    let info = lines(c.call(&["CLIENT", "INFO"]));
    [listed, &info[0]].map(|line| {
        (
            field(line, "addr").to_string(),
            field(line, "laddr").to_string(),
        )
    })
}

/// Behind a balancer speaking PROXY version 2 (`TURBINE_PROXY_PROTOCOL=v2`), `CLIENT LIST`
/// and `CLIENT INFO` show each client's address and the address it reached from the header
/// (IPv4 and IPv6, the latter in brackets as Redis writes it), not the balancer's socket; a
/// `LOCAL` header (a health check) shows the socket's own ends.
#[test]
fn proxy_v2_header_gives_client_addresses() {
    let server = KvServer::start(&[("TURBINE_REACTORS", "2"), ("TURBINE_PROXY_PROTOCOL", "v2")]);
    let source = SocketAddr::V4("203.0.113.7:51000".parse::<SocketAddrV4>().unwrap());
    let destination = SocketAddr::V4("192.0.2.1:6380".parse::<SocketAddrV4>().unwrap());
    let mut c = proxied(&server, &proxy_v2(1, source, destination, &[]));
    let source6 = SocketAddr::V6("[2001:db8::7]:40000".parse::<SocketAddrV6>().unwrap());
    let destination6 = SocketAddr::V6("[2001:db8::1]:6380".parse::<SocketAddrV6>().unwrap());
    let mut c6 = proxied(&server, &proxy_v2(1, source6, destination6, &[]));
    let mut health = proxied(&server, PROXY_V2_LOCAL);

    let want = (
        "203.0.113.7:51000".to_string(),
        "192.0.2.1:6380".to_string(),
    );
    assert_eq!(addresses(&mut health, &mut c), [want.clone(), want]);
    let want6 = (
        "[2001:db8::7]:40000".to_string(),
        "[2001:db8::1]:6380".to_string(),
    );
    assert_eq!(addresses(&mut health, &mut c6), [want6.clone(), want6]);
    let own = (health.local_addr().to_string(), server.addr.to_string());
    let mut observer = proxied(&server, &proxy_v2(1, source, destination, &[]));
    assert_eq!(addresses(&mut observer, &mut health), [own.clone(), own]);
}

/// The same behind a balancer speaking PROXY version 1 (`TURBINE_PROXY_PROTOCOL=v1`), with
/// `TCP4` and `TCP6` headers.
#[test]
fn proxy_v1_header_gives_client_addresses() {
    let server = KvServer::start(&[("TURBINE_REACTORS", "2"), ("TURBINE_PROXY_PROTOCOL", "v1")]);
    let source: SocketAddr = "203.0.113.7:51000".parse().unwrap();
    let destination: SocketAddr = "192.0.2.1:6380".parse().unwrap();
    let mut c = proxied(&server, &proxy_v1(source, destination));
    let source6: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
    let destination6: SocketAddr = "[2001:db8::1]:6380".parse().unwrap();
    let mut c6 = proxied(&server, &proxy_v1(source6, destination6));

    let want = (
        "203.0.113.7:51000".to_string(),
        "192.0.2.1:6380".to_string(),
    );
    assert_eq!(addresses(&mut c6, &mut c), [want.clone(), want]);
    let want6 = (
        "[2001:db8::7]:40000".to_string(),
        "[2001:db8::1]:6380".to_string(),
    );
    assert_eq!(addresses(&mut c, &mut c6), [want6.clone(), want6]);
}

/// `redis-cli client list` (Debian's `redis-tools`) prints a line per client: another client's
/// address, name and last command, and its own connection running `client|list`; `client
/// info`, `client id` and `client getname` print as from Redis.
#[test]
fn redis_cli_client_list() {
    if !have("redis-cli") {
        eprintln!("skipped: redis-cli is not installed (Debian package redis-tools)");
        return;
    }
    let server = server();
    let mut worker = server.client();
    let id = worker.call(&["CLIENT", "ID"]).integer();
    worker.expect(&["CLIENT", "SETNAME", "worker"], ok());
    worker.expect(&["SET", "k", "v"], ok());
    let cli = |args: &[&str]| server.redis_cli(args);
    let output = cli(&["client", "list"]);
    let printed: Vec<&str> = output.lines().collect();
    assert_eq!(printed.len(), 2, "{output}");
    let laddr = format!("laddr={}", server.addr);
    assert!(
        printed[0].starts_with(&format!("id={id} addr={} {laddr} ", worker.local_addr())),
        "{output}"
    );
    assert!(printed[0].contains(" name=worker "), "{output}");
    assert!(printed[0].contains(" cmd=set "), "{output}");
    assert!(printed[1].contains(&format!(" {laddr} ")), "{output}");
    assert!(printed[1].contains(" cmd=client|list "), "{output}");

    let info = cli(&["client", "info"]);
    assert_eq!(info.lines().count(), 1, "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    assert!(cli(&["client", "id"]).trim().parse::<i64>().unwrap() > id);
    assert_eq!(cli(&["--no-raw", "client", "getname"]), "(nil)\n");
}

/// The `CLIENT` replies and errors are `redis-server`'s, byte for byte, over the same
/// sequence of commands on both (ids, addresses and times aside); `CLIENT INFO` has the same
/// fields in the same order; and `cmd` names another client's last command as Redis does,
/// `NULL` after an unknown command or subcommand.
#[test]
fn replies_match_redis_server() {
    let Some(redis) = RedisServer::start() else {
        return; // the reason is printed
    };
    let kv = server();
    let mut ours = kv.client();
    let mut theirs = RespClient::connect(redis.addr());
    let long = "x".repeat(200);
    let script: &[&[&str]] = &[
        &["CLIENT"],
        &["CLIENT", "ID", "x"],
        &["CLIENT", "INFO", "x"],
        &["CLIENT", "GETNAME", "x"],
        &["CLIENT", "HELP", "x"],
        &["CLIENT", "SETNAME"],
        &["CLIENT", "SETNAME", "a", "b"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", "a b"],
        &["CLIENT", "SETNAME", "a\nb"],
        &["CLIENT", "SETNAME", "caf\u{e9}"],
        &["CLIENT", "SETNAME", "a\u{7f}"],
        &["CLIENT", "SETNAME", "!~"],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "SETNAME", ""],
        &["CLIENT", "GETNAME"],
        &["CLIENT", "LIST", "ID"],
        &["CLIENT", "LIST", "ID", "abc"],
        &["CLIENT", "LIST", "ID", "1", "x"],
        &["CLIENT", "LIST", "ID", "01"],
        &["CLIENT", "LIST", "ID", "+1"],
        &["CLIENT", "LIST", "ID", "-1"],
        &["CLIENT", "LIST", "ID", "99999999"],
        &["CLIENT", "LIST", "ID", "1", "TYPE", "normal"],
        &["CLIENT", "LIST", "TYPE"],
        &["CLIENT", "LIST", "TYPE", "foo"],
        &["CLIENT", "LIST", "TYPE", "a\r\nb"],
        &["CLIENT", "LIST", "TYPE", "PubSub"],
        &["CLIENT", "LIST", "TYPE", "master"],
        &["CLIENT", "LIST", "TYPE", "normal", "x"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "foo", "bar"],
        &["CLIENT", "Bogus"],
        &["CLIENT", "x\r\ny"],
        &["CLIENT", &long],
    ];
    for command in script {
        assert_eq!(ours.call(command), theirs.call(command), "{command:?}");
    }
    let keys = |c: &mut RespClient| -> Vec<String> {
        let info = lines(c.call(&["CLIENT", "INFO"]));
        info[0].iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(keys(&mut ours), keys(&mut theirs));

    // What `cmd=` says of another client after each of its commands.
    let (mut our_other, mut their_other) = (kv.client(), RespClient::connect(redis.addr()));
    let our_id = our_other.call(&["CLIENT", "ID"]).integer().to_string();
    let their_id = their_other.call(&["CLIENT", "ID"]).integer().to_string();
    let seen = |observer: &mut RespClient, id: &str| {
        let list = lines(observer.call(&["CLIENT", "LIST", "ID", id]));
        let line = &list[0];
        (
            field(line, "cmd").to_string(),
            field(line, "name").to_string(),
        )
    };
    for command in [
        &["GET"][..],
        &["nosuch", "x"],
        &["CLIENT", "SETNAME", "other"],
        &["CLIENT", "bogus"],
        &["CLIENT", "SETNAME"],
        &["COMMAND", "COUNT"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "bogus"],
        &["PING"],
        &["CLIENT", "GETNAME"],
        &["SET", "k", "v"],
    ] {
        our_other.call(command);
        their_other.call(command);
        assert_eq!(
            seen(&mut ours, &our_id),
            seen(&mut theirs, &their_id),
            "after {command:?}"
        );
    }
}
