//! `Client`: the handler of one connection: registers it among the open clients, looks each
//! command up, checks its arity, runs it against the shared store (or, for `CLIENT`, the
//! registry) and sends the reply.

use std::sync::Arc;

use turbine::codec::{Command, Reply, RespCodec};
use turbine::{CloseReason, CodecError, Config, Context, Handler, Rejection};

use super::clients::{Caller, ClientEntry, Clients};
use super::commands::{Run, resolve};
use super::store::Store;

/// One connection: the store and the registry it shares with every other, and its own entry
/// there (there is one database, and no per-connection state such as transactions or
/// subscriptions).
pub(crate) struct Client {
    /// The keyspace, shared by every connection on every reactor.
    store: Arc<Store>,
    /// The open connections, shared likewise (`CLIENT LIST`).
    clients: Arc<Clients>,
    /// This connection's entry in `clients`, from `on_open` on (out of the registry once the
    /// connection closes, but kept).
    me: Option<Arc<ClientEntry>>,
}

impl Client {
    /// A connection served from `store`, to be registered in `clients` when it opens.
    pub(crate) fn new(store: Arc<Store>, clients: Arc<Clients>) -> Self {
        Client {
            store,
            clients,
            me: None,
        }
    }

    /// Takes the connection out of `CLIENT LIST`, once it is closing (again is harmless). Its
    /// entry stays, so a callback that still comes cannot register it again under a new id.
    fn unlist(&self) {
        if let Some(me) = &self.me {
            self.clients.close(me.id());
        }
    }
}

/// The connection's entry in `clients`, registered now if it is not yet (`on_open` does it,
/// and runs first).
fn entry<'a>(
    clients: &Clients,
    me: &'a mut Option<Arc<ClientEntry>>,
    ctx: &Context<'_, Client>,
) -> &'a ClientEntry {
    me.get_or_insert_with(|| clients.open(ctx.peer_addr(), ctx.local_addr(), ctx.now()))
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

    /// Registers the connection, with the client's address (the PROXY header's, behind a
    /// balancer) and the one it reached.
    fn on_open(&mut self, ctx: &mut Context<'_, Self>) {
        entry(&self.clients, &mut self.me, ctx);
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, command: Command) {
        let now = ctx.now();
        let (called, found) = resolve(&command);
        let me = entry(&self.clients, &mut self.me, ctx);
        me.touch(now, called);
        let reply = match found {
            Err(error) => error,
            Ok(spec) => {
                let outcome = match spec.run {
                    Run::Keys(run) => run(&self.store, &command),
                    Run::Clients(run) => {
                        let caller = Caller {
                            clients: &self.clients,
                            me,
                            now,
                        };
                        run(&caller, &command)
                    }
                };
                let reply = outcome.unwrap_or_else(|error| error);
                if spec.name == "quit" {
                    // Out of `CLIENT LIST` now, as in Redis, not once the close has lingered
                    // for the client's FIN.
                    self.unlist();
                    ctx.send(reply);
                    ctx.close();
                    return;
                }
                reply
            }
        };
        match reply {
            // Encoded whole while the shard was locked (LRANGE): its bytes go to the output
            // as they are, a large buffer by move, without the encoder's copy.
            Reply::Encoded(encoded) => ctx.send_encoded(encoded.into_bytes()),
            reply => ctx.send(reply),
        }
    }

    /// A protocol error gets Redis's `-ERR Protocol error: ...` reply before the connection
    /// closes; a command over the size limit is closed without one, as Redis closes a client
    /// over its query buffer limit.
    fn on_decode_error(&mut self, ctx: &mut Context<'_, Self>, error: CodecError) {
        if let CodecError::Invalid(text) = &error {
            ctx.send(Reply::error(format!("ERR {text}")));
        }
        if error.is_fatal() {
            self.unlist();
        }
        log::debug!("{}: closing: {error}", ctx.peer_addr());
    }

    /// Takes the connection out of `CLIENT LIST`, however it ended.
    fn on_close(&mut self, _ctx: &mut Context<'_, Self>, _reason: CloseReason) {
        self.unlist();
    }
}

impl Drop for Client {
    /// A handler dropped without `on_close` (a reactor that stopped) leaves no entry behind.
    fn drop(&mut self) {
        self.unlist();
    }
}
