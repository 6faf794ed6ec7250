//! Key-value server speaking RESP2, Redis's protocol: strings, lists, sets, hashes and sorted
//! sets, with expiry, shared by every reactor.
//!
//! Shows a real protocol on Turbine: `RespCodec` turns bytes into commands and replies into
//! bytes, one `Client` handler per connection runs each command against a keyspace shared by
//! all reactors, and a periodic task (`Server::every`) on each reactor deletes expired keys in
//! the background. `redis-cli` and `redis-benchmark` work against it unchanged.
//!
//! ```text
//! cargo run --release --example kv                         # on 127.0.0.1:6380
//! TURBINE_REACTORS=1 cargo run --release --example kv      # one event loop
//! KV_SHARDS=1 cargo run --release --example kv             # one lock for the whole keyspace
//! redis-cli -p 6380                                        # then: SET greeting hello EX 60
//! redis-benchmark -p 6380 -q -n 100000 -P 16               # Debian package redis-tools
//! redis-cli -p 6380 client list                            # every client, Redis's format
//! TURBINE_PROXY_PROTOCOL=v2 cargo run --release --example kv   # behind HAProxy (send-proxy-v2)
//! printf 'PING\r\nSET a 1\r\nINCR a\r\n' | nc -q1 127.0.0.1 6380   # inline commands
//! ```
//!
//! # Commands
//!
//! `PING`, `ECHO`, `GET`, `SET` (`EX`, `PX`, `NX`, `XX`, `KEEPTTL`, `GET`), `DEL`, `EXISTS`,
//! `INCR`, `DECR`, `INCRBY`, `DECRBY`, `MGET`, `MSET`, `EXPIRE`, `PEXPIRE` (`NX`, `XX`, `GT`,
//! `LT`), `TTL`, `PTTL`, `TYPE`, `DBSIZE`, `FLUSHDB`, `FLUSHALL`; `LPUSH`, `RPUSH`, `LPOP`,
//! `RPOP`, `LRANGE`, `LLEN`; `SADD`, `SPOP`, `SMEMBERS`, `SCARD`; `HSET`, `HGET`, `HGETALL`;
//! `ZADD` (`NX`, `XX`, `GT`, `LT`, `CH`, `INCR`), `ZPOPMIN`, `ZRANGE` (by rank, `REV`,
//! `WITHSCORES`); and for clients and tools `SELECT 0`, `QUIT`, `CLIENT` (`ID`, `INFO`,
//! `LIST`, `SETNAME`, `GETNAME`, `HELP`), `COMMAND` (`COUNT`, `INFO`, `LIST`, `DOCS`),
//! `CONFIG GET`, `INFO`, `DEBUG SET-ACTIVE-EXPIRE`.
//!
//! Replies and errors are Redis 7's, byte for byte where this server has the feature
//! (`-ERR unknown command 'x', with args beginning with: `, `-ERR wrong number of arguments
//! for 'get' command`, `-WRONGTYPE Operation against a key holding the wrong kind of value`,
//! `-ERR value is not an integer or out of range`, ...). Known differences: one database;
//! scores are written in the shortest form that reads back exactly (Redis 7.2 and later; 7.0
//! wrote 17 digits); `ZRANGE` has no `BYSCORE`/`BYLEX`; hexadecimal scores are refused;
//! `DEBUG` has only `SET-ACTIVE-EXPIRE`; `CLIENT` has no `KILL`, `PAUSE`, `REPLY`, tracking or
//! the like (they are unknown subcommands); no persistence, replication, transactions or
//! pub/sub.
//!
//! # Clients
//!
//! `CLIENT LIST` (also `ID <id> ...` and `TYPE <type>`: every client is `normal`) and
//! `CLIENT INFO` write Redis 7.0's line per client, the same fields in the same order, so
//! `redis-cli -p 6380 client list` and the tools that parse it work:
//!
//! ```text
//! id=3 addr=203.0.113.7:51000 laddr=192.0.2.1:6380 fd=-1 name=worker age=12 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=10 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=2
//! ```
//!
//! - True as in Redis: `id` (`CLIENT ID`: from 1, one per connection, greater for each
//!   connection opened later, across all reactors), `addr` (the client: behind a load balancer
//!   with `TURBINE_PROXY_PROTOCOL=v1|v2|any`, the PROXY header's source, not the balancer),
//!   `laddr` (the address the client reached: the header's destination behind a balancer),
//!   `name` (`CLIENT SETNAME`: printable ASCII without spaces, as Redis requires; empty
//!   clears it), `age` (seconds since the connection opened), `idle` (seconds since its latest
//!   command began), `cmd` (its latest command, lower case, `client|list` for a subcommand,
//!   `NULL` before the first and after an unknown one), `argv-mem` (the bytes of the
//!   arguments of the command running: the caller's own line; 0 on the others, which are
//!   between commands). Times come from the reactors' loop clocks (when each turn began).
//! - Constant, true here: `flags=N`, `db=0`, `sub=0`, `psub=0`, `ssub=0`, `multi=-1`,
//!   `multi-mem=0` (one database; no pub/sub, no transactions), `user=default`, `redir=-1`,
//!   `resp=2`.
//! - Approximations, since a handler does not see them: `fd=-1` (no descriptor is exposed;
//!   -1 is what Redis writes for a client without one), `qbuf=0`, `qbuf-free=0`, `rbs=0`,
//!   `rbp=0` (the input buffers are the reactor's), `obl=0`, `oll=0`, `omem=0`, `tot-mem=0`
//!   (output and memory are not measured per client), `events=r` (written even while
//!   backpressure pauses reading). `idle` counts from the latest command, where Redis counts
//!   from the latest read or write.
//!
//! A client leaves the list once it closes: when it sends `QUIT` or malformed input, at once;
//! otherwise when the connection has closed (the peer's FIN read, a timeout, a shutdown).
//!
//! # Design
//!
//! - **Keyspace** (`store.rs`): 64 shards (`KV_SHARDS`), each a `Mutex<HashMap>` on its own
//!   cache lines; a command locks the shard of its key, a multi-key command every shard it
//!   touches in ascending order (so `MSET` and `MGET` are atomic, and nothing deadlocks).
//!   Measured with `redis-benchmark -P 16 -c 50 -r 1000000` (`benches/kv.sh shards`,
//!   BENCHMARKS.md "Key-value server"): with one reactor 64 shards and one lock are level
//!   (0.95x to 1.12x, within the runs' spread); with two reactors the shards carry 1.19x to
//!   1.37x more single-key commands (`GET`, `SET`, `INCR`), while a 10-key `MSET`, which must
//!   hold up to ten shard locks at once to stay atomic, falls to 0.66x. Shards it is: most
//!   traffic is single-key. The other design, each shard owned by one reactor with commands
//!   for it handed over through reactor mailboxes, was not built: a hand-over costs a channel
//!   send, usually a wake-up of another thread, and a reply sent back (the mailbox benchmark
//!   puts the send alone at 35 to 60 ns, the wake-ups at microseconds), where an uncontended
//!   lock is two atomic operations on a line the core usually owns already; and replies to a
//!   pipelining client would have to wait for each other to stay in order.
//! - **Expiry**, as in Redis: lazy (a command that meets an expired key deletes it and treats
//!   it as missing) and active: every 100 ms (Redis's `hz 10`) each reactor deletes due keys
//!   from its share of the shards (shard `i` to reactor `i % reactors`), for at most 2 ms per
//!   run. Each shard keeps its deadlines in a heap, soonest first, so due keys are found
//!   without sampling.
//! - **Clients** (`clients.rs`): the open connections in one `Mutex<BTreeMap>` by id, shared
//!   by all reactors and locked once when a connection opens and once when it closes; `CLIENT
//!   LIST` copies the entries' `Arc`s under the lock and writes the lines after it. Per
//!   command, a connection only stores the time and the command's code into two atomics of
//!   its own entry (no shared lock), so the benchmarks do not pay for the list; a name sits
//!   under the entry's own lock.
//! - **Limits**: `TURBINE_MAX_FRAME` bounds a command (1 GiB by default, Redis's query buffer
//!   limit), `RespCodec` bounds an argument to 512 MiB, a multibulk to 1,048,576 arguments and
//!   an inline line to 64 KiB, like Redis; malformed input gets `-ERR Protocol error: ...` and
//!   the connection is closed. Over `TURBINE_MAX_CONNECTIONS` a client gets `-ERR max number
//!   of clients reached`.
//! - **Signals**: `turbine::run_with` adds the expiry task to the server and handles SIGINT and
//!   SIGTERM like every example: the first shuts down gracefully, a second exits at once.
//!
//! With `TURBINE_METRICS_ADDR=127.0.0.1:9100`, `/metrics` shows `kv_keys` (what `DBSIZE`
//! answers, read at each scrape) beside the server's `turbine_*` figures.
//!
//! Every `TURBINE_*` variable applies (see the README); `KV_SHARDS` (1 to 4096, default 64)
//! sets the number of keyspace shards.
//!
//! # Layout
//!
//! - `client.rs`: the handler: registration, dispatch, protocol errors.
//! - `clients.rs`: the open connections and their `CLIENT LIST` lines.
//! - `commands.rs`: the command table, lookup and arity checks (subcommands' too);
//!   `commands/`: the commands by type (`strings.rs`, `keys.rs`, `lists.rs`, `sets.rs`,
//!   `hashes.rs`, `zsets.rs`, `server.rs`, `client.rs`).
//! - `store.rs`: shards, locks, deadlines and the expiry cycle; `value.rs`: what a key
//!   holds; `member_set.rs` and `sorted_set.rs`: the set and sorted set types.
//! - `args.rs`: reading arguments, and Redis's error replies.

mod args;
mod client;
mod clients;
mod commands;
mod member_set;
mod sorted_set;
mod store;
mod value;

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use turbine::{Config, ConfigError};

use client::Client;
use clients::Clients;
use store::{DEFAULT_SHARDS, MAX_SHARDS, Store};

/// Where the server listens unless `TURBINE_ADDR` says otherwise (Redis's port plus one).
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 6380);
/// Largest command unless `TURBINE_MAX_FRAME` says otherwise: Redis's 1 GiB query buffer.
const DEFAULT_MAX_FRAME: usize = 1 << 30;
/// How often each reactor runs the expiry cycle: Redis's default `hz` of 10.
const EXPIRE_PERIOD: Duration = Duration::from_millis(100);
/// How long one expiry cycle may run on a reactor (2 % of its time at most).
const EXPIRE_BUDGET: Duration = Duration::from_millis(2);

/// The server's configuration and the number of keyspace shards, from the environment.
fn settings() -> Result<(Config, usize), ConfigError> {
    let config = Config::new()
        .addr(DEFAULT_ADDR)
        .max_frame(DEFAULT_MAX_FRAME)
        .with_env()?;
    let shards = match std::env::var("KV_SHARDS") {
        Err(_) => DEFAULT_SHARDS,
        Ok(value) => match value.parse::<usize>() {
            Ok(n) if (1..=MAX_SHARDS).contains(&n) => n,
            _ => {
                return Err(ConfigError {
                    var: "KV_SHARDS",
                    value,
                    expected: format!("a whole number from 1 to {MAX_SHARDS}"),
                });
            }
        },
    };
    Ok((config, shards))
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let (config, shards) = match settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let store = Arc::new(Store::new(shards));
    let clients = Arc::new(Clients::new());
    let expiring = Arc::clone(&store);
    let counted = Arc::clone(&store);
    log::info!("keyspace: {shards} shards");
    turbine::run_with(
        Ok(config),
        move |server| {
            let reactors = server.config().reactors;
            // Read at each scrape: the shards' sizes, under each shard's lock in turn.
            server.metrics().gauge_fn(
                "kv_keys",
                "Keys in the store, expired ones not yet deleted included (DBSIZE)",
                move || counted.len().0 as i64,
            );
            Ok(server.every(EXPIRE_PERIOD, move |reactor| {
                expiring.expire_cycle(reactor, reactors, EXPIRE_BUDGET);
            }))
        },
        move |_peer| Client::new(Arc::clone(&store), Arc::clone(&clients)),
    )
}

#[cfg(test)]
mod tests;
