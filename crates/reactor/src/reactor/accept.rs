//! Accepting: new connections, the connection caps, and running out of descriptors.

use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::{ACCEPT_BACKOFF, ACCEPTS_PER_TURN, FIRST_CONN, Reactor};
use crate::connection::{ConnIo, Connection};
use crate::timers::TimerKind;
use crate::{ConnId, Handler, Rejection};

impl<H, F> Reactor<H, F>
where
    H: Handler,
    F: Fn(std::net::SocketAddr) -> H,
{
    pub(super) fn accept(&mut self) {
        self.accept_more = false;
        if self.accept_retry.is_some() {
            return; // backing off; the retry timer calls again
        }
        let Some(listener) = self.listener.take() else {
            return;
        };
        for _ in 0..ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, peer)) => {
                    self.accept_delay = ACCEPT_BACKOFF.0;
                    self.admit(stream, peer);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The backlog is empty: whatever ran out of descriptors has passed.
                    self.accept_delay = ACCEPT_BACKOFF.0;
                    self.listener = Some(listener);
                    return;
                }
                Err(e) if out_of_descriptors(&e) => {
                    // The connection stays in the backlog and edge triggering will not report
                    // it again: retry on a timer, backing off, instead of spinning. Meanwhile
                    // the spare descriptor lets us close what waits in the backlog, so those
                    // clients see a prompt close instead of hanging.
                    let shed = self.shed_backlog(&listener);
                    log::warn!(
                        "reactor {}: accept failed ({e}); closed {shed} waiting connections; \
                         retrying in {:?}",
                        self.env.index,
                        self.accept_delay
                    );
                    self.accept_retry = Some(self.now + self.accept_delay);
                    self.accept_delay = (self.accept_delay * 2).min(ACCEPT_BACKOFF.1);
                    self.listener = Some(listener);
                    return;
                }
                // Errors about one connection (aborted before accept, refused by a firewall
                // rule...) do not stop the others.
                Err(e) => log::debug!("reactor {}: accept: {e}", self.env.index),
            }
        }
        self.listener = Some(listener);
        self.accept_more = true;
    }

    /// Out of descriptors: frees the spare one, accepts and closes what waits in the backlog
    /// (up to a turn's budget), and takes the spare back. Returns how many were closed.
    pub(super) fn shed_backlog(&mut self, listener: &TcpListener) -> usize {
        let Some(spare) = self.spare_fd.take() else {
            return 0;
        };
        drop(spare);
        let mut shed = 0;
        while shed < ACCEPTS_PER_TURN {
            match listener.accept() {
                Ok((stream, peer)) => {
                    shed += 1;
                    self.stats.rejected += 1;
                    drop((stream, peer));
                }
                Err(_) => break,
            }
        }
        self.spare_fd = std::fs::File::open("/dev/null").ok();
        shed
    }

    /// Closes a connection refused at accept, after the protocol's one-line explanation.
    pub(super) fn reject(
        &mut self,
        mut stream: TcpStream,
        peer: std::net::SocketAddr,
        reason: Rejection,
    ) {
        self.stats.rejected += 1;
        log::debug!("{peer}: refused ({reason:?})");
        if let Some(bytes) = H::rejection(reason) {
            // A fresh socket has an empty send buffer: a short line goes out whole, or not at
            // all; nothing waits for it.
            let _ = stream.write(&bytes);
        }
        // Dropping the stream closes it.
    }

    /// Releases what an accepted connection held in the server-wide limits.
    pub(super) fn release_limits(&self, peer: std::net::SocketAddr) {
        self.open_total.fetch_sub(1, Ordering::AcqRel);
        if self.env.config.max_connections_per_ip > 0 {
            self.ip_counts.remove(peer.ip());
        }
    }

    /// Sets up an accepted connection and calls `on_open`.
    pub(super) fn admit(&mut self, mut stream: TcpStream, peer: std::net::SocketAddr) {
        let config = &self.env.config;
        if self.open_total.fetch_add(1, Ordering::AcqRel) >= config.max_connections {
            self.open_total.fetch_sub(1, Ordering::AcqRel);
            self.reject(stream, peer, Rejection::MaxConnections);
            return;
        }
        let per_ip = config.max_connections_per_ip;
        if per_ip > 0 && !self.ip_counts.try_add(peer.ip(), per_ip) {
            self.open_total.fetch_sub(1, Ordering::AcqRel);
            self.reject(stream, peer, Rejection::MaxConnectionsPerIp);
            return;
        }
        let config = &self.env.config;
        if config.nodelay {
            // Without it a reply can wait for the ACK of the previous one (Nagle + delayed ACK).
            let _ = stream.set_nodelay(true);
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut stream, Token(key + FIRST_CONN), interest)
        {
            log::warn!("{peer}: cannot register: {e}");
            self.release_limits(peer);
            return;
        }
        let factory = &self.factory;
        let made = catch_unwind(AssertUnwindSafe(|| {
            let mut handler = factory(peer);
            let codec = handler.codec(config);
            (handler, codec)
        }));
        let Ok((handler, codec)) = made else {
            log::error!("{peer}: handler factory panicked; connection closed");
            self.stats.panics += 1;
            self.release_limits(peer);
            return;
        };
        let generation = self.next_generation;
        self.next_generation += 1;
        let id = ConnId {
            reactor: self.env.index,
            key,
            generation,
        };
        let io = ConnIo::new(id, peer, codec, self.now);
        entry.insert(Connection {
            handler,
            io,
            socket: stream,
        });
        self.stats.accepted += 1;
        self.stats.open += 1;
        if let Some(idle) = config.idle_timeout {
            self.timers
                .schedule(self.now + idle, key, generation, TimerKind::Idle);
        }
        if self.callback(key, |h, ctx| h.on_open(ctx)) {
            self.flush(key);
        }
    }
}

/// `accept` failed for lack of descriptors or memory, not because of the one connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    // Linux errno values: EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}
