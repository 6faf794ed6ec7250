//! The `kv` example (`examples/kv/`) as a process, over real sockets: every command's replies
//! and errors as Redis gives them, expiry (lazy and in the background), the keyspace shared by
//! two reactors, protocol errors, shutdown, and the real clients `redis-cli` and
//! `redis-benchmark` (skipped, with the reason printed, when Debian's `redis-tools` is not
//! installed; `.ci/run` installs it).

mod util;

use std::process::Command;
use std::time::{Duration, Instant};

use util::resp_client::{
    KvServer, Resp, RespClient, arity, bulk, bulks, err, have, int, multibulk, not_integer, ok,
    run_with_timeout, simple, wrongtype,
};
use util::wait_until;

/// A server with two reactors, as the tests run it unless they need otherwise.
fn server() -> KvServer {
    KvServer::start(&[("TURBINE_REACTORS", "2")])
}

/// `GET`, `SET` with each option, the `INCR` family with its errors, `MGET` and `MSET`.
#[test]
fn strings_and_counters() {
    let server = server();
    let mut c = server.client();
    c.expect(&["GET", "k"], Resp::Null);
    c.expect(&["SET", "k", "v"], ok());
    c.expect(&["GET", "k"], bulk("v"));
    c.expect(&["SET", "k", "w", "NX"], Resp::Null);
    c.expect(&["SET", "new", "w", "XX"], Resp::Null);
    c.expect(&["SET", "k", "w", "XX", "GET"], bulk("v"));
    c.expect(&["SET", "k2", "x", "NX", "GET"], Resp::Null);
    c.expect(&["GET", "k2"], bulk("x"));
    c.expect(&["SET", "k", "v", "NX", "XX"], err("ERR syntax error"));
    c.expect(
        &["SET", "k", "v", "EX", "1", "PX", "5"],
        err("ERR syntax error"),
    );
    c.expect(
        &["SET", "k", "v", "KEEPTTL", "EX", "5"],
        err("ERR syntax error"),
    );
    c.expect(&["SET", "k", "v", "BOGUS"], err("ERR syntax error"));
    c.expect(&["SET", "k", "v", "EX", "abc"], not_integer());
    let invalid = err("ERR invalid expire time in 'set' command");
    c.expect(&["SET", "k", "v", "EX", "0"], invalid.clone());
    c.expect(&["SET", "k", "v", "PX", "-1"], invalid.clone());
    c.expect(&["SET", "k", "v", "EX", "9223372036854775807"], invalid);
    c.expect(&["SET", "k", "v", "EX", "100"], ok());
    c.expect(&["SET", "k", "v2", "KEEPTTL"], ok());
    assert!((99..=100).contains(&c.call(&["TTL", "k"]).integer()));
    c.expect(&["SET", "k", "v3"], ok());
    c.expect(&["TTL", "k"], int(-1));

    c.expect(&["INCR", "n"], int(1));
    c.expect(&["INCRBY", "n", "41"], int(42));
    c.expect(&["DECR", "n"], int(41));
    c.expect(&["DECRBY", "n", "-9"], int(50));
    c.expect(&["GET", "n"], bulk("50"));
    c.expect(&["INCRBY", "n", "abc"], not_integer());
    c.expect(&["INCR", "k"], not_integer());
    c.expect(&["SET", "n", "01"], ok());
    c.expect(&["INCR", "n"], not_integer());
    c.expect(&["SET", "n", "9223372036854775807"], ok());
    c.expect(
        &["INCR", "n"],
        err("ERR increment or decrement would overflow"),
    );
    c.expect(
        &["DECRBY", "n", "-9223372036854775808"],
        err("ERR decrement would overflow"),
    );
    c.expect(&["LPUSH", "list", "x"], int(1));
    c.expect(&["INCR", "list"], wrongtype());
    c.expect(&["GET", "list"], wrongtype());

    c.expect(&["MSET", "a", "1", "b", "2", "c", "3"], ok());
    c.expect(
        &["MGET", "a", "nope", "c", "list"],
        Resp::Array(vec![bulk("1"), Resp::Null, bulk("3"), Resp::Null]),
    );
    c.expect(&["MSET", "a", "1", "b"], arity("mset"));
}

/// `DEL`, `EXISTS`, `TYPE`, `EXPIRE`/`PEXPIRE` with `NX`/`XX`/`GT`/`LT`, `TTL`, `PTTL`,
/// `DBSIZE`, `FLUSHDB`, `FLUSHALL`.
#[test]
fn keys_and_deadlines() {
    let server = server();
    let mut c = server.client();
    c.expect(&["MSET", "a", "1", "b", "2"], ok());
    c.expect(&["RPUSH", "l", "x"], int(1));
    c.expect(&["EXISTS", "a", "a", "nope", "l"], int(3));
    c.expect(&["TYPE", "a"], simple("string"));
    c.expect(&["TYPE", "l"], simple("list"));
    c.expect(&["TYPE", "nope"], simple("none"));
    c.expect(&["DBSIZE"], int(3));
    c.expect(&["DEL", "a", "nope", "a"], int(1));
    c.expect(&["DBSIZE"], int(2));

    c.expect(&["TTL", "nope"], int(-2));
    c.expect(&["PTTL", "b"], int(-1));
    c.expect(&["EXPIRE", "nope", "10"], int(0));
    c.expect(&["EXPIRE", "b", "100", "XX"], int(0));
    c.expect(&["EXPIRE", "b", "100", "NX"], int(1));
    c.expect(&["EXPIRE", "b", "50", "GT"], int(0));
    c.expect(&["EXPIRE", "b", "200", "GT"], int(1));
    c.expect(&["EXPIRE", "b", "300", "LT"], int(0));
    c.expect(&["EXPIRE", "b", "100", "LT"], int(1));
    c.expect(&["EXPIRE", "l", "100", "GT"], int(0));
    c.expect(&["TTL", "b"], int(100));
    let pttl = c.call(&["PTTL", "b"]).integer();
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    c.expect(&["PEXPIRE", "b", "1600"], int(1));
    c.expect(&["TTL", "b"], int(2)); // rounded, as Redis does
    c.expect(
        &["EXPIRE", "b", "1", "NX", "XX"],
        err("ERR NX and XX, GT or LT options at the same time are not compatible"),
    );
    c.expect(
        &["EXPIRE", "b", "1", "GT", "LT"],
        err("ERR GT and LT options at the same time are not compatible"),
    );
    c.expect(
        &["EXPIRE", "b", "1", "FOO"],
        err("ERR Unsupported option FOO"),
    );
    c.expect(&["EXPIRE", "b", "abc"], not_integer());
    c.expect(
        &["EXPIRE", "b", "9223372036854775807"],
        err("ERR invalid expire time in 'expire' command"),
    );
    c.expect(
        &["PEXPIRE", "b", "9223372036854775807"],
        err("ERR invalid expire time in 'pexpire' command"),
    );
    // A deadline in the past deletes the key at once.
    c.expect(&["EXPIRE", "b", "-1"], int(1));
    c.expect(&["EXISTS", "b"], int(0));

    c.expect(&["SET", "x", "1"], ok());
    c.expect(&["FLUSHDB", "BOGUS"], err("ERR syntax error"));
    c.expect(&["FLUSHDB"], ok());
    c.expect(&["DBSIZE"], int(0));
    c.expect(&["SET", "x", "1"], ok());
    c.expect(&["FLUSHALL", "ASYNC"], ok());
    c.expect(&["DBSIZE"], int(0));
}

/// `LPUSH`, `RPUSH`, `LPOP`, `RPOP` (with and without a count), `LRANGE`, `LLEN`.
#[test]
fn lists() {
    let server = server();
    let mut c = server.client();
    c.expect(&["LPUSH", "l", "a", "b", "c"], int(3));
    c.expect(&["RPUSH", "l", "d", "e"], int(5));
    c.expect(
        &["LRANGE", "l", "0", "-1"],
        bulks(&["c", "b", "a", "d", "e"]),
    );
    c.expect(&["LRANGE", "l", "-2", "-1"], bulks(&["d", "e"]));
    c.expect(&["LRANGE", "l", "-100", "1"], bulks(&["c", "b"]));
    c.expect(&["LRANGE", "l", "3", "1"], bulks(&[]));
    c.expect(&["LRANGE", "l", "a", "1"], not_integer());
    c.expect(&["LRANGE", "nope", "0", "-1"], bulks(&[]));
    c.expect(&["LLEN", "l"], int(5));
    c.expect(&["LPOP", "l"], bulk("c"));
    c.expect(&["RPOP", "l"], bulk("e"));
    c.expect(&["LPOP", "l", "0"], bulks(&[]));
    c.expect(&["LPOP", "l", "2"], bulks(&["b", "a"]));
    c.expect(&["RPOP", "l", "10"], bulks(&["d"]));
    c.expect(&["EXISTS", "l"], int(0)); // emptied lists are deleted
    c.expect(&["LLEN", "l"], int(0));
    c.expect(&["LPOP", "l"], Resp::Null);
    c.expect(&["LPOP", "l", "2"], Resp::NullArray);
    let positive = err("ERR value is out of range, must be positive");
    c.expect(&["LPOP", "l", "-1"], positive.clone());
    c.expect(&["RPOP", "l", "abc"], positive);
    c.expect(&["LPOP", "l", "1", "2"], arity("lpop"));
    c.expect(&["SET", "s", "v"], ok());
    c.expect(&["LPUSH", "s", "x"], wrongtype());
    c.expect(&["LRANGE", "s", "0", "1"], wrongtype());
    c.expect(&["LLEN", "s"], wrongtype());
    c.expect(&["RPOP", "s"], wrongtype());
}

/// `SADD`, `SPOP` (with and without a count), `SMEMBERS`, `SCARD`.
#[test]
fn sets() {
    let server = server();
    let mut c = server.client();
    c.expect(&["SADD", "s", "a", "b", "a", "c"], int(3));
    c.expect(&["SADD", "s", "c", "d"], int(1));
    c.expect(&["SCARD", "s"], int(4));
    c.expect(&["SMEMBERS", "s"], bulks(&["a", "b", "c", "d"]).sorted());
    let Resp::Bulk(one) = c.call(&["SPOP", "s"]) else {
        panic!("SPOP gives a member")
    };
    let Resp::Array(two) = c.call(&["SPOP", "s", "2"]) else {
        panic!("SPOP with a count gives an array")
    };
    let Resp::Array(rest) = c.call(&["SPOP", "s", "5"]) else {
        panic!("SPOP with a count gives an array")
    };
    let mut all: Vec<Resp> = [vec![Resp::Bulk(one)], two, rest].concat();
    all.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(Resp::Array(all), bulks(&["a", "b", "c", "d"]));
    c.expect(&["EXISTS", "s"], int(0));
    c.expect(&["SPOP", "s"], Resp::Null);
    c.expect(&["SPOP", "s", "3"], bulks(&[]));
    c.expect(&["SCARD", "s"], int(0));
    c.expect(&["SMEMBERS", "s"], bulks(&[]));
    c.expect(
        &["SPOP", "s", "-1"],
        err("ERR value is out of range, must be positive"),
    );
    c.expect(&["SPOP", "s", "1", "2"], err("ERR syntax error"));
    c.expect(&["SET", "k", "v"], ok());
    c.expect(&["SADD", "k", "x"], wrongtype());
    c.expect(&["SCARD", "k"], wrongtype());
}

/// `HSET`, `HGET`, `HGETALL`.
#[test]
fn hashes() {
    let server = server();
    let mut c = server.client();
    c.expect(&["HSET", "h", "a", "1", "b", "2"], int(2));
    c.expect(&["HSET", "h", "a", "10", "c", "3"], int(1));
    c.expect(&["HGET", "h", "a"], bulk("10"));
    c.expect(&["HGET", "h", "zz"], Resp::Null);
    c.expect(&["HGET", "nope", "a"], Resp::Null);
    let Resp::Array(flat) = c.call(&["HGETALL", "h"]) else {
        panic!("HGETALL gives an array")
    };
    let mut pairs: Vec<(String, String)> = flat
        .chunks(2)
        .map(|p| (format!("{:?}", p[0]), format!("{:?}", p[1])))
        .collect();
    pairs.sort();
    let want: Vec<(String, String)> = [("a", "10"), ("b", "2"), ("c", "3")]
        .iter()
        .map(|(f, v)| (format!("{f:?}"), format!("{v:?}")))
        .collect();
    assert_eq!(pairs, want);
    c.expect(&["HGETALL", "nope"], bulks(&[]));
    c.expect(&["HSET", "h", "a"], arity("hset"));
    c.expect(&["HSET", "h", "a", "1", "b"], arity("hset"));
    c.expect(&["HGET", "h"], arity("hget"));
    c.expect(&["SET", "k", "v"], ok());
    c.expect(&["HSET", "k", "f", "v"], wrongtype());
    c.expect(&["HGETALL", "k"], wrongtype());
}

/// `ZADD` with its options, `ZPOPMIN`, `ZRANGE` (ranks, `REV`, `WITHSCORES`), ordered by
/// score then by member as Redis orders them.
#[test]
fn sorted_sets() {
    let server = server();
    let mut c = server.client();
    c.expect(&["ZADD", "z", "2", "b", "1", "c", "1", "a"], int(3));
    c.expect(&["ZRANGE", "z", "0", "-1"], bulks(&["a", "c", "b"]));
    c.expect(&["ZRANGE", "z", "0", "-1", "REV"], bulks(&["b", "c", "a"]));
    c.expect(
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        bulks(&["a", "1", "c", "1", "b", "2"]),
    );
    c.expect(
        &["ZRANGE", "z", "-1", "-1", "withscores"],
        bulks(&["b", "2"]),
    );
    c.expect(&["ZRANGE", "z", "5", "10"], bulks(&[]));
    c.expect(&["ZRANGE", "z", "a", "1"], not_integer());
    c.expect(&["ZRANGE", "z", "0", "1", "FOO"], err("ERR syntax error"));
    c.expect(
        &["ZADD", "z", "inf", "x", "-inf", "y", "1.5", "w", "-0", "v"],
        int(4),
    );
    c.expect(
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        bulks(&[
            "y", "-inf", "v", "0", "a", "1", "c", "1", "w", "1.5", "b", "2", "x", "inf",
        ]),
    );
    c.expect(&["ZADD", "z", "XX", "CH", "5", "a", "6", "new"], int(1));
    c.expect(&["ZADD", "z", "NX", "7", "a"], int(0));
    c.expect(&["ZADD", "z", "GT", "CH", "4", "a", "9", "b"], int(1));
    c.expect(&["ZADD", "z", "LT", "CH", "8", "b"], int(1));
    c.expect(&["ZADD", "z", "INCR", "0.5", "a"], bulk("5.5"));
    c.expect(&["ZADD", "z", "NX", "INCR", "1", "a"], Resp::Null);
    c.expect(
        &["ZADD", "z", "INCR", "-inf", "x"],
        err("ERR resulting score is not a number (NaN)"),
    );
    c.expect(&["ZADD", "z", "1", "a", "2"], err("ERR syntax error"));
    c.expect(
        &["ZADD", "z", "abc", "a"],
        err("ERR value is not a valid float"),
    );
    c.expect(
        &["ZADD", "z", "nan", "a"],
        err("ERR value is not a valid float"),
    );
    c.expect(
        &["ZADD", "z", "NX", "XX", "1", "a"],
        err("ERR XX and NX options at the same time are not compatible"),
    );
    c.expect(
        &["ZADD", "z", "GT", "LT", "1", "a"],
        err("ERR GT, LT, and/or NX options at the same time are not compatible"),
    );
    c.expect(
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        err("ERR INCR option supports a single increment-element pair"),
    );
    c.expect(&["ZPOPMIN", "z"], bulks(&["y", "-inf"]));
    c.expect(&["ZPOPMIN", "z", "2"], bulks(&["v", "0", "c", "1"]));
    c.expect(&["ZPOPMIN", "z", "0"], bulks(&[]));
    c.expect(
        &["ZPOPMIN", "z", "-1"],
        err("ERR value is out of range, must be positive"),
    );
    c.expect(&["ZPOPMIN", "z", "1", "2"], err("ERR syntax error"));
    c.expect(
        &["ZPOPMIN", "z", "100"],
        bulks(&["w", "1.5", "a", "5.5", "b", "8", "x", "inf"]),
    );
    c.expect(&["EXISTS", "z"], int(0));
    c.expect(&["ZPOPMIN", "z"], bulks(&[]));
    c.expect(&["SET", "k", "v"], ok());
    c.expect(&["ZADD", "k", "1", "a"], wrongtype());
    c.expect(&["ZRANGE", "k", "0", "1"], wrongtype());
}

/// Unknown commands, wrong arities, and argument errors answer with Redis's exact text, and
/// the connection stays usable after each.
#[test]
fn errors_read_like_redis() {
    let server = server();
    let mut c = server.client();
    c.expect(
        &["FOO", "a", "b"],
        err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' "),
    );
    c.expect(
        &["foo"],
        err("ERR unknown command 'foo', with args beginning with: "),
    );
    // Line breaks inside an argument become spaces, as Redis does, not a broken reply.
    c.send_raw(&multibulk(&[b"f\r\no", b"a\nb"]));
    assert_eq!(
        c.read(),
        err("ERR unknown command 'f  o', with args beginning with: 'a b' ")
    );
    for (args, name) in [
        (&["GET"][..], "get"),
        (&["get", "a", "b"], "get"),
        (&["SET", "k"], "set"),
        (&["ECHO"], "echo"),
        (&["PING", "a", "b"], "ping"),
        (&["DEL"], "del"),
        (&["EXISTS"], "exists"),
        (&["MGET"], "mget"),
        (&["INCRBY", "n"], "incrby"),
        (&["LRANGE", "l", "0"], "lrange"),
        (&["ZADD", "z", "1"], "zadd"),
        (&["TTL"], "ttl"),
    ] {
        c.expect(args, arity(name));
    }
    c.expect(&["PING"], simple("PONG"));
}

/// What `redis-cli` and `redis-benchmark` ask at start-up, and the other server commands:
/// `PING`, `ECHO`, `SELECT`, `COMMAND`, `CONFIG GET`, `INFO`, `QUIT`.
#[test]
fn server_commands() {
    let server = server();
    let mut c = server.client();
    c.expect(&["PING"], simple("PONG"));
    c.expect(&["PING", "hello"], bulk("hello"));
    c.expect(&["ECHO", "a b"], bulk("a b"));
    c.expect(&["SELECT", "0"], ok());
    c.expect(&["SELECT", "1"], err("ERR DB index is out of range"));
    c.expect(&["SELECT", "x"], not_integer());
    c.expect(&["CONFIG", "GET", "save"], bulks(&["save", ""]));
    c.expect(
        &["CONFIG", "GET", "appendonly"],
        bulks(&["appendonly", "no"]),
    );
    c.expect(&["CONFIG", "GET", "nonexistent"], bulks(&[]));
    c.expect(
        &["CONFIG", "GET", "SAVE", "append*"],
        bulks(&["appendonly", "no", "save", ""]),
    );
    c.expect(
        &["CONFIG", "SET", "save", ""],
        err("ERR unknown subcommand 'SET'. Try CONFIG HELP."),
    );
    let count = c.call(&["COMMAND", "COUNT"]).integer();
    assert!(count >= 40, "{count}");
    let Resp::Array(all) = c.call(&["COMMAND"]) else {
        panic!("COMMAND gives an array")
    };
    assert_eq!(all.len() as i64, count);
    let Resp::Array(info) = c.call(&["COMMAND", "INFO", "get", "nosuch"]) else {
        panic!("COMMAND INFO gives an array")
    };
    let Resp::Array(get) = &info[0] else {
        panic!("one array per command")
    };
    assert_eq!(
        get[..6],
        [
            bulk("get"),
            int(2),
            Resp::Array(vec![simple("readonly"), simple("fast")]),
            int(1),
            int(1),
            int(1)
        ]
    );
    assert_eq!(info[1], Resp::Null);
    c.expect(&["COMMAND", "DOCS"], bulks(&[]));
    c.expect(
        &["COMMAND", "FOO"],
        err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."),
    );
    c.expect(&["SET", "k", "v", "EX", "100"], ok());
    let Resp::Bulk(text) = c.call(&["INFO"]) else {
        panic!("INFO gives text")
    };
    let text = String::from_utf8(text).unwrap();
    assert!(text.starts_with("# Server\r\nredis_version:"), "{text}");
    assert!(
        text.contains("# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0\r\n"),
        "{text}"
    );
    c.expect(&["QUIT"], ok());
    assert_eq!(c.read_to_end(), b"", "QUIT closes after its OK");
}

/// With the background cycle off (`DEBUG SET-ACTIVE-EXPIRE 0`), an expired key still counts in
/// `DBSIZE` until a command touches it; then it is gone.
#[test]
fn expiry_is_lazy() {
    let server = server();
    let mut c = server.client();
    c.expect(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], ok());
    for i in 0..10 {
        c.expect(&["SET", &format!("k{i}"), "v", "PX", "20"], ok());
    }
    c.expect(&["SET", "kept", "v"], ok());
    std::thread::sleep(Duration::from_millis(300));
    c.expect(&["DBSIZE"], int(11));
    c.expect(&["GET", "k0"], Resp::Null);
    c.expect(&["EXISTS", "k1", "k2"], int(0));
    c.expect(&["TTL", "k3"], int(-2));
    c.expect(&["DBSIZE"], int(7));
    c.expect(&["INCR", "k4"], int(1)); // an expired key counts as missing
    c.expect(&["TTL", "k4"], int(-1));
}

/// With the background cycle on, keys that expire are deleted though no command touches them;
/// keys without a deadline stay.
#[test]
fn expiry_is_active() {
    let server = server();
    let mut c = server.client();
    for i in 0..200 {
        c.send(&["SET", &format!("k{i}"), "v", "PX", "30"]);
    }
    for _ in 0..200 {
        assert_eq!(c.read(), ok());
    }
    c.expect(&["SET", "kept", "v"], ok());
    c.expect(&["HSET", "h", "f", "v"], int(1));
    c.expect(&["PEXPIRE", "h", "30"], int(1));
    let started = Instant::now();
    let emptied = wait_until(Duration::from_secs(5), || c.call(&["DBSIZE"]) == int(1));
    assert!(emptied, "DBSIZE still {:?}", c.call(&["DBSIZE"]));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    c.expect(&["GET", "kept"], bulk("v"));
}

/// Two reactors share one keyspace: counters incremented from four connections at once end
/// exact, and what one connection writes the others read.
#[test]
fn keyspace_is_shared_across_reactors() {
    let server = server();
    let addr = server.addr;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = RespClient::connect(addr);
                for _ in 0..500 {
                    c.send(&["INCR", "counter"]);
                    c.send(&["SET", &format!("t{t}"), "x"]);
                }
                for _ in 0..500 {
                    assert!(c.read().integer() > 0);
                    assert_eq!(c.read(), ok());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = server.client();
    c.expect(&["GET", "counter"], bulk("2000"));
    c.expect(&["EXISTS", "t0", "t1", "t2", "t3"], int(4));
}

/// Inline commands (as typed into `nc`) and a pipeline of 2,000 commands in one write, split
/// at odd places, are answered in order.
#[test]
fn inline_and_pipelined_commands() {
    let server = server();
    let mut c = server.client();
    c.send_raw(b"SET greeting \"hello world\"\r\nGET greeting\n\r\nPING\r\n");
    assert_eq!(c.read(), ok());
    assert_eq!(c.read(), bulk("hello world"));
    assert_eq!(c.read(), simple("PONG"));
    let mut wire = Vec::new();
    for i in 0..1000 {
        wire.extend(multibulk(&[b"RPUSH", b"l", i.to_string().as_bytes()]));
        wire.extend(multibulk(&[b"LLEN", b"l"]));
    }
    for piece in wire.chunks(777) {
        c.send_raw(piece);
    }
    for i in 1..=1000 {
        assert_eq!(c.read(), int(i));
        assert_eq!(c.read(), int(i));
    }
}

/// Malformed input gets Redis's protocol error and the connection closes; other connections
/// are unaffected.
#[test]
fn protocol_errors_close_with_redis_reply() {
    let server = server();
    let mut other = server.client();
    for (input, reply) in [
        (
            &b"*1\r\n$-5\r\n"[..],
            &b"-ERR Protocol error: invalid bulk length\r\n"[..],
        ),
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n:3\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"GET \"unclosed\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ] {
        let mut c = server.client();
        c.send_raw(b"PING\r\n");
        c.send_raw(input);
        let mut want = b"+PONG\r\n".to_vec();
        want.extend_from_slice(reply);
        let got = c.read_to_end();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
    // A line past 64 KiB without an end.
    let mut c = server.client();
    c.send_raw(&vec![b'a'; 70 << 10]);
    assert_eq!(
        c.read_to_end(),
        b"-ERR Protocol error: too big inline request\r\n"
    );
    other.expect(&["PING"], simple("PONG"));
}

/// SIGTERM shuts the server down gracefully: exit code 0, and a configuration error exits 2
/// with the variable named.
#[test]
fn shutdown_and_configuration_errors() {
    let mut server = server();
    let mut c = server.client();
    c.expect(&["SET", "k", "v"], ok());
    server.process.signal("TERM");
    let status = server.process.wait_exit(Duration::from_secs(20));
    let log = server.process.output();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
    let output = Command::new(util::resp_client::kv_example())
        .env_clear()
        .env("KV_SHARDS", "0")
        .output()
        .expect("run kv");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("KV_SHARDS"));
}

/// `redis-cli` (Debian's `redis-tools`) runs commands against the server as against Redis,
/// from its arguments and from a script on its stdin.
#[test]
fn redis_cli_works() {
    if !have("redis-cli") {
        eprintln!("skipped: redis-cli is not installed (Debian package redis-tools)");
        return;
    }
    let server = server();
    let port = server.addr.port();
    let cli = |args: &[&str]| server.redis_cli(args);
    assert_eq!(cli(&["PING"]), "PONG\n");
    assert_eq!(cli(&["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(cli(&["GET", "greeting"]), "hello world\n");
    assert_eq!(cli(&["INCRBY", "n", "5"]), "5\n");
    assert_eq!(cli(&["RPUSH", "l", "a", "b"]), "2\n");
    assert_eq!(cli(&["LRANGE", "l", "0", "-1"]), "a\nb\n");
    assert_eq!(cli(&["--no-raw", "GET", "nope"]), "(nil)\n");
    assert_eq!(
        cli(&["--no-raw", "LPUSH", "greeting", "x"]),
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n"
    );
    assert_eq!(cli(&["DBSIZE"]), "3\n");
    // A script on stdin, as `redis-cli < script` runs it.
    let script = std::env::temp_dir().join(format!("kv-redis-cli-{}.txt", std::process::id()));
    std::fs::write(
        &script,
        "SET a 1\nINCR a\nZADD z 2 b 1 a\nZRANGE z 0 -1 WITHSCORES\n",
    )
    .unwrap();
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!(
        "redis-cli -h 127.0.0.1 -p {port} < {}",
        script.display()
    ));
    let (status, output) = run_with_timeout(command, Duration::from_secs(20)).expect("finished");
    let _ = std::fs::remove_file(&script);
    assert!(status.success(), "{output}");
    assert_eq!(output, "OK\n2\n2\na\n1\nb\n2\n");
}

/// The tests `redis-benchmark` runs by default, each driving the server with its own commands
/// and checking the replies' types: every one completes and reports a rate, and none prints an
/// error.
#[test]
fn redis_benchmark_default_tests_complete() {
    if !have("redis-benchmark") {
        eprintln!("skipped: redis-benchmark is not installed (Debian package redis-tools)");
        return;
    }
    let server = server();
    let mut command = Command::new("redis-benchmark");
    command.args(["-h", "127.0.0.1", "-p", &server.addr.port().to_string()]);
    command.args(["-q", "-n", "10000", "-c", "10"]);
    let (status, output) = run_with_timeout(command, Duration::from_secs(60))
        .expect("redis-benchmark finished within a minute");
    assert!(status.success(), "{output}");
    let lines: Vec<&str> = output
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    for test in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "LPUSH",
        "RPUSH",
        "LPOP",
        "RPOP",
        "SADD",
        "HSET",
        "SPOP",
        "ZADD",
        "ZPOPMIN",
        "LPUSH (needed to benchmark LRANGE)",
        "LRANGE_100 (first 100 elements)",
        "LRANGE_300 (first 300 elements)",
        "LRANGE_500 (first 500 elements)",
        "LRANGE_600 (first 600 elements)",
        "MSET (10 keys)",
    ] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{test}: ")))
            .unwrap_or_else(|| panic!("no result for {test}:\n{output}"));
        let rate: f64 = line[test.len() + 2..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no rate in {line:?}"));
        assert!(rate > 0.0, "{line}");
    }
    let lower = output.to_lowercase();
    assert!(!lower.contains("error"), "{output}");
    assert!(!lower.contains("warning"), "{output}");
}
