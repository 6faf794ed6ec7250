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
//! Every `TURBINE_*` variable applies (see the README); `CHAT_OUTBUF_LIMIT` (default 4MiB; it
//! sets the write limit, over `TURBINE_WRITE_LIMIT`) is the output a member may have waiting
//! before it gets `! too slow` and is disconnected.
//! A line over `TURBINE_MAX_FRAME` (default 64KiB) gets `! line too long` and the connection
//! is closed.
//!
//! # Layout
//!
//! - `member.rs`: the handler, one per connection: the commands and what each sends to whom.
//! - `registry.rs`: nicks and rooms, shared by all reactors.
//! - `command.rs`: parsing a line into a command; `codec.rs`: lines in and out.
//! - `config.rs`: the address, `CHAT_OUTBUF_LIMIT` and the `TURBINE_*` variables.

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
    let Some(settings) = settings else {
        return turbine::run(config, move |_peer| Member::new(Arc::clone(&registry)));
    };
    let reactors = config.as_ref().map_or(1, |c| c.reactors);
    let cluster = Arc::new(Cluster::new(settings, Arc::clone(&registry), reactors));
    let ticking = Arc::clone(&cluster);
    turbine::run_with(
        config,
        move |server| {
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
