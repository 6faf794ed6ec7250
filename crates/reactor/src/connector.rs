//! `Connector`: opens outbound connections on a chosen reactor from any thread.

use std::fmt;
use std::io;
use std::sync::Arc;

use crossbeam_channel::Sender;

use crate::core::Core;
use crate::mailbox::Bell;
use crate::{Connect, Handler};

/// Work for a reactor from another thread, run between two turns of its loop.
pub(crate) type Command = Box<dyn FnOnce(&mut Core) + Send>;

/// Opens outbound connections on a server's reactors from outside them (setup code, another
/// thread); `Send + Clone`, from [`Running::connector`](crate::Running::connector), or from
/// [`Server::connector`](crate::Server::connector) before the reactors start (its connects then
/// wait for them).
///
/// Inside a handler, [`Context::connect`](crate::Context::connect) does the same on the
/// handler's own reactor, and can link the new connection as a partner.
#[derive(Clone)]
pub struct Connector {
    /// Each reactor's command queue and bell.
    reactors: Arc<[(Sender<Command>, Arc<Bell>)]>,
}

impl Connector {
    pub(crate) fn new(reactors: Vec<(Sender<Command>, Arc<Bell>)>) -> Self {
        Connector {
            reactors: reactors.into(),
        }
    }

    /// Reactors of the server.
    pub fn reactors(&self) -> usize {
        self.reactors.len()
    }

    /// Asks reactor `reactor` to open an outbound connection to `to`, with the handler `make`
    /// builds there (so the handler need not be `Send`). Returns at once; the connection's
    /// `on_open` or `on_connect_failed` runs on that reactor. A connect that cannot even start
    /// there (out of descriptors, the connection cap) is logged at warn level and the handler
    /// dropped: there is no caller left to hand it back to.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a reactor index out of range, `NotConnected` if the server has
    /// stopped.
    pub fn connect<P, F>(&self, reactor: usize, to: impl Into<Connect>, make: F) -> io::Result<()>
    where
        P: Handler,
        F: FnOnce() -> P + Send + 'static,
    {
        let Some((commands, bell)) = self.reactors.get(reactor) else {
            let why = format!(
                "no reactor {reactor} (the server has {})",
                self.reactors.len()
            );
            return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
        };
        let to = to.into();
        let command: Command = Box::new(move |core: &mut Core| {
            let addr = to.addr();
            if let Err(e) = core.connect(to, make(), None) {
                log::warn!("connect to {addr} not started: {}", e.error());
            }
        });
        commands
            .send(command)
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "the server has stopped"))?;
        bell.ring();
        Ok(())
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("reactors", &self.reactors.len())
            .finish()
    }
}
