//! Chat server: rooms, nicks and private messages over plain text lines.
//!
//! Shows state shared across reactors and fan-out: every connection's handler reaches the same
//! [`Registry`](registry::Registry) (nicks and rooms behind one mutex, held only to read or
//! change the maps), a room message is encoded once and sent to the room's members on every
//! reactor with `turbine::broadcast`, a private message goes through the target's `ConnHandle`,
//! and a member that stops reading is cut off (`on_overflow`) without slowing anyone else down.
//! It behaves the same with one reactor or sixteen.
//!
//! The protocol, in brief: one UTF-8 line per message. A line not starting with `/` goes to
//! everyone else in your room (`//` sends a line starting with `/`); commands are `/nick`,
//! `/join`, `/rooms`, `/who`, `/msg`, `/quit` and `/help`. The server's lines are `* ` notices,
//! `! ` errors, `<nick>: <text>` from your room and `<nick> (private): <text>` for you alone.
//! Everyone starts as `guest<N>` in room `lobby`; nicks and rooms are `[A-Za-z0-9_-]{1,32}`,
//! nicks unique ignoring case.
//!
//! ```text
//! cargo run --release --example chat                          # on 127.0.0.1:7879
//! TURBINE_REACTORS=1 cargo run --release --example chat       # one event loop
//! CHAT_OUTBUF_LIMIT=1MiB cargo run --release --example chat   # cut slow members off sooner
//! nc 127.0.0.1 7879                                           # in two or more terminals
//! ```
//!
//! A session with `nc` (`>` is what you type):
//!
//! ```text
//! * welcome guest1
//! > /nick ann
//! * you are ann
//! * guest2 joined lobby
//! > hello
//! guest2: hi ann
//! > /msg guest2 psst
//! > /join games
//! * you joined games (1 members)
//! > /help
//! ```
//!
//! With `TURBINE_METRICS_ADDR=127.0.0.1:9100` the chat's own figures, `chat_members` (on this
//! instance) and `chat_rooms`, are served at `/metrics` beside the server's `turbine_*` ones:
//! gauges read from the registry at each scrape (`Registry::register_metrics`).
//!
//! Every `TURBINE_*` variable applies (see the README); `CHAT_OUTBUF_LIMIT` (default 4MiB; it
//! sets the write limit, over `TURBINE_WRITE_LIMIT`) is the output a member may have waiting
//! before it gets `! too slow` and is disconnected.
//! A line over `TURBINE_MAX_FRAME` (default 64KiB) gets `! line too long` and the connection
//! is closed.
//!
//! # Cluster mode: several instances through Redis
//!
//! With `CHAT_REDIS=<IP:port>` (off by default), instances of the chat behind a layer-4 load
//! balancer act as one: a member sees the same rooms, nicks and messages whichever instance it
//! reached (`shared/specs/chat.md`, "Several instances"). Room messages, joins, leaves, nick
//! changes and private messages travel between instances through Redis pub/sub; nicks are
//! unique across instances (ignoring case), and so are `guest<N>` numbers; `/who` and `/rooms`
//! count every instance's members. `/msg` to a member of another instance answers
//! `! no such nick` only if no member of that name is known here; one that left its instance
//! a moment ago misses the message without a word.
//!
//! ```text
//! redis-server --port 6379 &
//! CHAT_REDIS=127.0.0.1:6379 TURBINE_ADDR=127.0.0.1:7879 cargo run --release --example chat &
//! CHAT_REDIS=127.0.0.1:6379 TURBINE_ADDR=127.0.0.1:7889 cargo run --release --example chat &
//! nc 127.0.0.1 7879      # and in another terminal: nc 127.0.0.1 7889
//! ```
//!
//! `CHAT_CLUSTER_TTL` (default 10s, from 1s to 12s) is how long an instance's entries live in
//! Redis without renewal (it renews them four times per TTL), and how long an instance may be
//! silent before the others count it as dead. A value that does not parse, in either variable,
//! stops the program with exit code 2 and a message naming it.
//!
//! **Shape.** Each reactor is a *stream*, `<instance>.<reactor>` (the instance's name is 16
//! random hex digits, new with each process), with its own command connection to Redis (the
//! *link*, `link.rs`), through which everything its members tell the cluster goes, in order.
//! Each instance has one subscriber connection (the *feed*, `feed.rs`, on reactor 0), which
//! hears every other instance and keeps the registry's *mirror* of their members (`mirror.rs`),
//! so that `/who`, `/rooms`, `/msg` and nick checks need no round trip. Both are outbound
//! connections on the reactors with the RESP client codec: no reactor ever waits for Redis. A
//! periodic task on every reactor (`Cluster::tick`) opens them, and reopens one that failed
//! after a back-off of 100 ms doubling to 1 s.
//!
//! **What Redis holds** (`scripts.rs`; each change is one Lua script, so it is atomic):
//!
//! | key or channel | holds |
//! |---|---|
//! | `chat:nick:<nick in lower case>` | the stream holding the nick; TTL, renewed |
//! | `chat:guests` | the last guest number reserved; each reactor claims 32 `guest<N>` nicks ahead, so a welcome need not wait for Redis |
//! | `chat:stream:<stream>` | hash: `seq` (the stream's last membership event) and `<member>` → `<nick> <room>`; TTL, renewed |
//! | `chat:streams` | the streams, for a snapshot |
//! | channel `chat:events` | membership events, room messages, heartbeats (`wire.rs` gives the format) |
//! | channel `chat:to:<instance>` | private messages to that instance's members |
//!
//! **Order.** A member's lines are handled one after the other; one that needs Redis (a
//! `/nick`, which claims the nick atomically: exactly one of several instances racing for it
//! wins, the others get `! nick <name> is taken`) holds the member's later lines, unread,
//! until the answer is in. Everything a member tells the cluster then goes through its
//! reactor's one link, so Redis publishes it in that order, and each instance's one subscriber
//! receives it in that order and hands it on to its members in that order: a member's lines
//! reach every recipient, on any instance, in the order sent. Membership events are numbered
//! per stream, so a snapshot and the events overlapping it converge on the newest state.
//!
//! **Failures.**
//! - Redis unreachable, or a connection to it lost (or silent past half a TTL): the instance
//!   keeps serving its own members, tells them `* cluster link down`, and reconnects. While
//!   the link is down, room and private messages stay on this instance (they are not delivered
//!   to the others later), guest numbers are picked above every one the instance knows of, and
//!   `/nick` is checked against the members the instance knows. When every connection is back
//!   and in sync, members hear `* cluster link up`.
//! - When a link returns it claims its members' nicks again before anything else. A member
//!   whose nick another instance took meanwhile is renamed to a fresh guest nick and told so:
//!   `* nick <old> was taken on another instance while the cluster link was down`, then
//!   `* you are guest<N>`; its room hears `* <old> is now guest<N>`. Then the stream is reset
//!   (its hash, and every instance's mirror of it) to its members as they are, with `joined`,
//!   `left` and `is now` notices for what changed meanwhile.
//! - An instance that dies (or stays cut off from Redis) falls silent: one TTL after its last
//!   heartbeat, the others show each of its members as left (`* <nick> left <room>`), within
//!   15 s with the longest TTL, and its nicks expire with its entries. A Redis that restarted
//!   empty is refilled by every stream's reset; its guest counter is raised, before each
//!   reservation, above every guest number the reserving instance knows of.
//! - A graceful shutdown (SIGTERM) keeps each link open until its reactor's members have left,
//!   so the other instances hear of each one at once.
//! - An instance that starts learns the others' members from Redis, those of an instance
//!   that died a moment ago included: they are shown as left once its entries expire.
//!
//! Limits: the scripts touch keys they are not handed (a stream's hash in a snapshot, a block
//! of guest nicks), which one Redis server allows and Redis Cluster does not; a stream's reset
//! carries all its members in one command; and the feed, one per instance, carries all the
//! other instances' traffic.
//!
//! # Behind a load balancer
//!
//! `docs/deploy.md` runs instances behind HAProxy (`balance leastconn`, `send-proxy-v2`, health
//! checks). With `TURBINE_PROXY_PROTOCOL=v2` (and `TURBINE_PROXY_TRUSTED` naming the balancer),
//! every connection starts with a PROXY header, and a member's address is the client's own, as
//! the header says. Nothing else depends on it (a member is its connection's serial number).
//!
//! A connection whose header is LOCAL (it names no client) is the balancer's health check, as
//! HAProxy's `check-send-proxy` sends one: it is closed at once with nothing said, never
//! becomes a member, takes no guest number, and nobody sees it arrive or leave. What HAProxy's
//! plain `check` tests is that the connect succeeds; an instance whose link to Redis is down
//! passes it, as it still serves its own members.
//!
//! ```text
//! TURBINE_PROXY_PROTOCOL=v2 TURBINE_PROXY_TRUSTED=127.0.0.1/32 CHAT_REDIS=127.0.0.1:6379 \
//!     RUST_LOG=info,chat::member=debug cargo run --release --example chat
//! ```
//!
//! At `debug`, the member module logs each member's address as it is welcomed
//! (`127.0.0.1:40312 welcomed as guest7`) and each health check (`health check from
//! 127.0.0.1:52110`, the balancer's address).
//!
//! # Layout
//!
//! - `member.rs`: the handler, one per connection: the commands and what each sends to whom.
//! - `registry.rs`: nicks and rooms, shared by all reactors; `room.rs`: one room's members.
//! - `command.rs`: parsing a line into a command; `codec.rs`: lines in and out.
//! - `config.rs`: the address, `CHAT_OUTBUF_LIMIT`, `CHAT_REDIS`, `CHAT_CLUSTER_TTL` and the
//!   `TURBINE_*` variables.
//! - Cluster mode: `cluster.rs` (the state shared across reactors, the status members are told,
//!   reconnecting), `node.rs` (each reactor's share: its queue of requests to Redis, its guest
//!   nicks), `link.rs` (a reactor's command connection; `link_upkeep.rs`: holding nicks,
//!   resets, guest nicks, renames), `feed.rs` (the subscriber), `mirror.rs` (the other
//!   instances' members), `member_cluster.rs` (a member's answers from Redis), `wire.rs`
//!   (events between instances), `scripts.rs` (Redis keys and scripts).

mod cluster;
mod codec;
mod command;
mod config;
mod feed;
mod link;
mod member;
mod mirror;
mod node;
mod registry;
mod room;
mod scripts;
mod wire;

use std::process::ExitCode;
use std::sync::Arc;

use cluster::{Cluster, TICK};
use member::Member;
use registry::Registry;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let settings = match config::cluster_from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let config = config::from_env();
    let registry = Arc::new(Registry::new());
    let figures = Arc::clone(&registry);
    let Some(settings) = settings else {
        return turbine::run_with(
            config,
            move |server| {
                Registry::register_metrics(&figures, &server.metrics());
                Ok(server)
            },
            move |_peer| Member::new(Arc::clone(&registry)),
        );
    };
    let reactors = config.as_ref().map_or(1, |c| c.reactors);
    let cluster = Arc::new(Cluster::new(settings, Arc::clone(&registry), reactors));
    let ticking = Arc::clone(&cluster);
    turbine::run_with(
        config,
        move |server| {
            Registry::register_metrics(&figures, &server.metrics());
            ticking.start(server.connector(), server.shutdown_handle());
            Ok(server.every(TICK, move |reactor| ticking.tick(reactor)))
        },
        move |_peer| Member::clustered(Arc::clone(&registry), Arc::clone(&cluster)),
    )
}

#[cfg(test)]
mod cluster_tests;
#[cfg(test)]
mod tests;
