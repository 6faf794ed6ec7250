//! `Client`: the handler of one connection: looks each command up, checks its arity, runs it
//! against the shared store and sends the reply.

use std::sync::Arc;

use turbine::codec::{Command, Reply, RespCodec};
use turbine::{CodecError, Config, Context, Handler, Rejection};

use super::args::{shown, wrong_arity};
use super::commands::lookup;
use super::store::Store;

/// One connection: nothing of its own but the store (there is one database, and no
/// per-connection state such as transactions or subscriptions).
pub(crate) struct Client {
    /// The keyspace, shared by every connection on every reactor.
    store: Arc<Store>,
}

impl Client {
    /// A connection served from `store`.
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Client { store }
    }
}

impl Handler for Client {
    type Codec = RespCodec;

    /// RESP2 commands of up to `TURBINE_MAX_FRAME` bytes (1 GiB unless set: Redis's query
    /// buffer limit), each argument up to 512 MiB (Redis's `proto-max-bulk-len`).
    fn codec(&mut self, config: &Config) -> RespCodec {
        RespCodec::new(config.max_frame)
    }

    /// Redis's reply to a client over `maxclients`.
    fn rejection(_reason: Rejection) -> Option<Vec<u8>> {
        Some(b"-ERR max number of clients reached\r\n".to_vec())
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, command: Command) {
        let reply = match lookup(command.name()) {
            None => unknown_command(&command),
            Some(spec) if !spec.accepts(command.len()) => wrong_arity(spec.name),
            Some(spec) => {
                let reply = (spec.run)(&self.store, &command).unwrap_or_else(|error| error);
                if spec.name == "quit" {
                    ctx.send(reply);
                    ctx.close();
                    return;
                }
                reply
            }
        };
        ctx.send(reply);
    }

    /// A protocol error gets Redis's `-ERR Protocol error: ...` reply before the connection
    /// closes; a command over the size limit is closed without one, as Redis closes a client
    /// over its query buffer limit.
    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        if let CodecError::Invalid(text) = &error {
            ctx.send(Reply::error(format!("ERR {text}")));
        }
        log::debug!("{}: closing: {error}", ctx.peer_addr());
    }
}

/// Redis's reply to an unknown command: its name and the start of its arguments, quoted, up
/// to about 128 bytes of each.
fn unknown_command(command: &Command) -> Reply {
    const SHOWN: usize = 128;
    let name = command.name();
    let name = &name[..name.len().min(SHOWN)];
    let mut listed = String::new();
    for arg in command.args().skip(1) {
        if listed.len() >= SHOWN {
            break;
        }
        let room = SHOWN - listed.len();
        listed.push('\'');
        listed.push_str(&shown(&arg[..arg.len().min(room)]));
        listed.push_str("' ");
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {listed}",
        shown(name)
    ))
}
