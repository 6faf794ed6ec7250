//! The `Client` handler and its codec driven in memory with `TestConnection`: replies byte for
//! byte as Redis writes them, pipelining under every split, protocol errors, lazy expiry (no
//! background cycle runs here), `QUIT`.

use std::sync::Arc;
use std::time::Duration;

use turbine::{CloseReason, CodecError, TestConnection};

use super::*;

/// A connection to a fresh store.
fn connection() -> TestConnection<Client> {
    TestConnection::new(Client::new(
        Arc::new(Store::new(DEFAULT_SHARDS)),
        Arc::new(Clients::new()),
    ))
}

/// The multibulk encoding of a command given as one string of space-separated words.
fn wire(command: &str) -> Vec<u8> {
    let args: Vec<&str> = command.split(' ').collect();
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// Sends `command` and returns the reply bytes as text.
fn call(conn: &mut TestConnection<Client>, command: &str) -> String {
    conn.push(&wire(command));
    String::from_utf8_lossy(&conn.take_output()).into_owned()
}

/// Each data type's commands answer with Redis's exact bytes.
#[test]
fn replies_are_redis_bytes() {
    let mut conn = connection();
    for (command, reply) in [
        ("SET k v", "+OK\r\n"),
        ("GET k", "$1\r\nv\r\n"),
        ("GET nope", "$-1\r\n"),
        ("INCR n", ":1\r\n"),
        ("DECRBY n 3", ":-2\r\n"),
        ("MGET k nope", "*2\r\n$1\r\nv\r\n$-1\r\n"),
        ("RPUSH l a b", ":2\r\n"),
        ("LPOP l 5", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("LPOP l 5", "*-1\r\n"),
        ("SADD s x", ":1\r\n"),
        ("SMEMBERS s", "*1\r\n$1\r\nx\r\n"),
        ("HSET h f 1", ":1\r\n"),
        ("HGETALL h", "*2\r\n$1\r\nf\r\n$1\r\n1\r\n"),
        ("ZADD z 2.5 m", ":1\r\n"),
        ("ZRANGE z 0 -1 WITHSCORES", "*2\r\n$1\r\nm\r\n$3\r\n2.5\r\n"),
        ("TYPE z", "+zset\r\n"),
        (
            "LPUSH k x",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "get",
            "-ERR wrong number of arguments for 'get' command\r\n",
        ),
        (
            "NOPE x",
            "-ERR unknown command 'NOPE', with args beginning with: 'x' \r\n",
        ),
        ("INCR k", "-ERR value is not an integer or out of range\r\n"),
    ] {
        assert_eq!(call(&mut conn, command), reply, "{command}");
    }
}

/// A pipeline of commands, split at every byte, gets the same replies in order.
#[test]
fn pipeline_under_every_split() {
    let commands = [
        "SET a 1",
        "INCRBY a 41",
        "GET a",
        "DEL a",
        "EXISTS a",
        "PING",
    ];
    let input: Vec<u8> = commands.iter().flat_map(|c| wire(c)).collect();
    let want = "+OK\r\n:42\r\n$2\r\n42\r\n:1\r\n:0\r\n+PONG\r\n";
    for split in 0..=input.len() {
        let mut conn = connection();
        conn.push(&input[..split]);
        conn.push(&input[split..]);
        assert_eq!(
            String::from_utf8_lossy(&conn.take_output()),
            want,
            "split at {split}"
        );
    }
}

/// Inline commands, with quotes, work as in `redis-cli`'s raw mode or `nc`.
#[test]
fn inline_commands() {
    let mut conn = connection();
    conn.push(b"SET msg \"two words\"\r\nGET msg\n\nECHO 'it''s'\r\n");
    assert_eq!(
        conn.take_output(),
        b"+OK\r\n$9\r\ntwo words\r\n-ERR Protocol error: unbalanced quotes in request\r\n"
    );
    assert!(matches!(
        conn.close_reason(),
        Some(CloseReason::Decode(CodecError::Invalid(_)))
    ));
}

/// Malformed multibulk input gets Redis's protocol error, then the connection closes; what
/// was answered before still goes out.
#[test]
fn protocol_error_then_close() {
    let mut conn = connection();
    conn.push(b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n");
    assert_eq!(
        conn.take_output(),
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    );
    assert!(conn.is_closed());
}

/// A key past its deadline is deleted by the first command that meets it; until then it still
/// counts in `DBSIZE` (no background cycle runs in a `TestConnection`).
#[test]
fn lazy_expiry() {
    let mut conn = connection();
    assert_eq!(call(&mut conn, "SET k v PX 1"), "+OK\r\n");
    assert_eq!(call(&mut conn, "SET p v"), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(call(&mut conn, "DBSIZE"), ":2\r\n");
    assert_eq!(call(&mut conn, "GET k"), "$-1\r\n");
    assert_eq!(call(&mut conn, "DBSIZE"), ":1\r\n");
    assert_eq!(call(&mut conn, "TTL k"), ":-2\r\n");
}

/// `QUIT` answers `OK` and closes; commands after it are not run.
#[test]
fn quit_closes() {
    let mut conn = connection();
    conn.push(&[wire("QUIT"), wire("SET k v")].concat());
    assert_eq!(conn.take_output(), b"+OK\r\n");
    assert_eq!(conn.close_reason(), Some(&CloseReason::Closed));
}

/// Every command the table lists answers, with its minimum arguments, something other than an
/// arity error, so the table and the functions agree.
#[test]
fn every_command_runs() {
    for spec in commands::COMMANDS {
        if spec.name == "quit" {
            continue;
        }
        let mut conn = connection();
        let argc = spec.arity.unsigned_abs() as usize;
        let mut command = vec![spec.name.to_string()];
        command.extend((1..argc).map(|i| i.to_string()));
        let reply = call(&mut conn, &command.join(" "));
        assert!(!reply.contains("wrong number"), "{}: {reply}", spec.name);
        assert!(!conn.is_closed(), "{}", spec.name);
    }
}

/// `COMMAND` and `CONFIG` subcommands answer as the table says: `COMMAND COUNT`, `LIST` and
/// `CONFIG GET`; a subcommand the table lacks, or a short `CONFIG GET`, gets Redis's error from
/// the lookup; `COMMAND LIST` with a filter (not supported here) a syntax error rather than
/// "unknown subcommand" for a subcommand that exists.
#[test]
fn command_and_config_subcommands() {
    let mut conn = connection();
    let count = commands::COMMANDS.len();
    assert_eq!(call(&mut conn, "COMMAND COUNT"), format!(":{count}\r\n"));
    assert!(call(&mut conn, "COMMAND LIST").starts_with(&format!("*{count}\r\n")));
    assert_eq!(
        call(&mut conn, "COMMAND LIST FILTERBY pattern get"),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        call(&mut conn, "CONFIG GET timeout"),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
    );
    assert!(
        call(&mut conn, "CONFIG SET timeout 1").starts_with("-ERR unknown subcommand 'SET'"),
        "CONFIG SET"
    );
    assert!(
        call(&mut conn, "CONFIG GET").starts_with("-ERR wrong number of arguments"),
        "a short CONFIG GET"
    );
}

/// `CLIENT` on in-memory connections sharing a registry: ids from 1, the line with the test
/// connection's addresses, its name and the age its clock gives, Redis's bytes for names and
/// errors; a connection that closes (a protocol error, the peer's end), or is dropped, leaves
/// the registry.
#[test]
fn client_commands() {
    let store = Arc::new(Store::new(DEFAULT_SHARDS));
    let clients = Arc::new(Clients::new());
    let mut a = TestConnection::new(Client::new(Arc::clone(&store), Arc::clone(&clients)));
    let mut b = TestConnection::new(Client::new(Arc::clone(&store), Arc::clone(&clients)));
    assert_eq!(call(&mut a, "CLIENT ID"), ":1\r\n");
    assert_eq!(call(&mut b, "CLIENT ID"), ":2\r\n");
    assert_eq!(call(&mut a, "CLIENT GETNAME"), "$-1\r\n");
    assert_eq!(call(&mut a, "CLIENT SETNAME conn-a"), "+OK\r\n");
    assert_eq!(call(&mut a, "CLIENT GETNAME"), "$6\r\nconn-a\r\n");
    a.advance(Duration::from_millis(2500));
    let line = "id=1 addr=127.0.0.1:49152 laddr=127.0.0.1:7878 fd=-1 name=conn-a age=2 idle=0 \
                flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=10 \
                multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info \
                user=default redir=-1 resp=2\n";
    assert_eq!(
        call(&mut a, "CLIENT INFO"),
        format!("${}\r\n{line}\r\n", line.len())
    );
    assert_eq!(
        call(&mut a, "CLIENT SETNAME a\u{7f}"),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        call(&mut a, "client kill 1"),
        "-ERR unknown subcommand 'kill'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(clients.len(), 2);
    let mut c = TestConnection::new(Client::new(store, Arc::clone(&clients)));
    c.push(b"*2\r\n$4\r\nPING\r\n");
    c.push(b"x\r\n");
    assert!(c.is_closed(), "a protocol error");
    assert_eq!(clients.len(), 2, "out of the list as soon as it closes");
    b.push_eof();
    assert!(b.is_closed());
    assert_eq!(clients.len(), 1);
    drop(a);
    assert_eq!(clients.len(), 0);
}
