//! `Cluster`: what cluster mode shares across reactors: the settings, this instance's name,
//! the state of each connection to Redis, and the status the members were last told
//! (`* cluster link up` / `* cluster link down`). A periodic task on every reactor
//! ([`Cluster::tick`]) opens the connections that are due, with a back-off after a failure.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use turbine::{Connect, Connector, Payload, ShutdownHandle};

use super::codec::chat_codec;
use super::config::ClusterSettings;
use super::feed::Feed;
use super::link::Link;
use super::registry::Registry;
use super::wire::{INSTANCE_LEN, stream_name};

/// How often every reactor runs [`Cluster::tick`].
pub(crate) const TICK: Duration = Duration::from_millis(50);
/// First wait before connecting again after a failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between attempts: a Redis that is back is found within about a second.
const LAST_BACKOFF: Duration = Duration::from_secs(1);
/// How long a connect to Redis may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Cluster mode's shared state; one per process.
#[derive(Debug)]
pub(crate) struct Cluster {
    /// `CHAT_REDIS` and `CHAT_CLUSTER_TTL`.
    settings: ClusterSettings,
    /// This instance's name: 16 random hex digits, new with each process.
    instance: String,
    /// Nicks and rooms, for the notices to everyone.
    registry: Arc<Registry>,
    /// Each connection's state and the status last announced.
    parts: Mutex<Parts>,
    /// Whether the whole link is up (the feed and every reactor's link): room and private
    /// messages go to Redis only then. Written under `parts`' lock, read without it.
    up: AtomicBool,
    /// Local members per reactor: a reactor's link stays open in a shutdown until they have
    /// left, so that the other instances hear of it.
    members: Box<[AtomicUsize]>,
    /// What [`start`](Cluster::start) gives: how to connect, and whether to stop.
    started: OnceLock<Started>,
}

/// What the cluster needs from the server, once it is bound.
#[derive(Debug)]
struct Started {
    /// Opens the connections to Redis on each reactor.
    connector: Connector,
    /// Tells whether the server is shutting down (no reconnecting then).
    shutdown: ShutdownHandle,
}

/// Every connection's state, and the status last announced.
#[derive(Debug)]
struct Parts {
    /// The subscriber (on reactor 0).
    feed: Slot,
    /// Each reactor's link.
    links: Vec<Slot>,
    /// What the members were last told.
    status: Status,
}

/// One connection to Redis: where it is, and its back-off.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Its phase.
    phase: Phase,
    /// When a connection that is down may be tried again.
    retry_at: Instant,
    /// The wait after its next failure: doubles with each failure in a row, up to 1 s.
    delay: Duration,
}

/// Where one connection to Redis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Never tried (the first tick connects).
    New,
    /// A connect is under way.
    Connecting,
    /// Connected, catching up (the feed's snapshot, a link's check of its nicks).
    Syncing,
    /// In service.
    Up,
    /// Failed or closed; tried again after the back-off.
    Down,
}

/// What the members were last told of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Nothing yet: the first connections are under way.
    Starting,
    /// `* cluster link up` (or nothing, if it came up at the start).
    Up,
    /// `* cluster link down`.
    Down,
}

impl Cluster {
    /// Cluster mode for a server of `reactors` reactors, not started.
    pub(crate) fn new(settings: ClusterSettings, registry: Arc<Registry>, reactors: usize) -> Self {
        let now = Instant::now();
        let slot = Slot {
            phase: Phase::New,
            retry_at: now,
            delay: FIRST_BACKOFF,
        };
        Cluster {
            settings,
            instance: random_instance(),
            registry,
            parts: Mutex::new(Parts {
                feed: slot,
                links: vec![slot; reactors],
                status: Status::Starting,
            }),
            up: AtomicBool::new(false),
            members: (0..reactors).map(|_| AtomicUsize::new(0)).collect(),
            started: OnceLock::new(),
        }
    }

    /// Hands the cluster the bound server's connector and shutdown handle; from then on the
    /// ticks connect.
    pub(crate) fn start(&self, connector: Connector, shutdown: ShutdownHandle) {
        let _ = self.started.set(Started {
            connector,
            shutdown,
        });
        log::info!(
            "cluster mode: instance {}, Redis {}, entries live {:?}",
            self.instance,
            self.settings.redis,
            self.settings.ttl
        );
    }

    /// Runs on reactor `reactor` every [`TICK`]: opens its link (and on reactor 0 the feed)
    /// if it is due: never tried, or down and past its back-off. Never waits: a connect only
    /// starts here.
    pub(crate) fn tick(self: &Arc<Self>, reactor: usize) {
        let Some(started) = self.started.get() else {
            return;
        };
        if started.shutdown.is_requested() {
            return;
        }
        let now = Instant::now();
        let (link, feed) = {
            let mut parts = self.parts();
            let link = parts.links.get_mut(reactor).is_some_and(|s| s.due(now));
            (link, reactor == 0 && parts.feed.due(now))
        };
        let to = Connect::to(self.settings.redis).timeout(CONNECT_TIMEOUT);
        if link {
            let cluster = Arc::clone(self);
            let make = move || Link::new(cluster, reactor);
            if let Err(e) = started.connector.connect(reactor, to.clone(), make) {
                log::debug!("cluster: link not started: {e}");
                self.set_link(reactor, Phase::Down);
            }
        }
        if feed {
            let cluster = Arc::clone(self);
            if let Err(e) = started.connector.connect(0, to, move || Feed::new(cluster)) {
                log::debug!("cluster: feed not started: {e}");
                self.set_feed(Phase::Down);
            }
        }
    }

    /// Reactor `reactor`'s link is now in `phase`.
    pub(crate) fn set_link(&self, reactor: usize, phase: Phase) {
        self.set(|parts| parts.links.get_mut(reactor), phase);
    }

    /// The feed is now in `phase`.
    pub(crate) fn set_feed(&self, phase: Phase) {
        self.set(|parts| Some(&mut parts.feed), phase);
    }

    /// Moves one slot to `phase`; tells every member if that changes the link's status.
    fn set(&self, slot: impl FnOnce(&mut Parts) -> Option<&mut Slot>, phase: Phase) {
        let now = Instant::now();
        let announce = {
            let mut parts = self.parts();
            let Some(slot) = slot(&mut parts) else {
                return;
            };
            slot.enter(phase, now);
            let status = parts.overall();
            self.up.store(status == Status::Up, Ordering::Release);
            let quiet = self
                .started
                .get()
                .is_some_and(|s| s.shutdown.is_requested());
            if status == parts.status || quiet {
                None
            } else {
                Some((std::mem::replace(&mut parts.status, status), status))
            }
        };
        match announce {
            // Members who arrived while the first connections were under way were told
            // nothing, so they need not hear that it worked.
            Some((Status::Starting, Status::Up)) => log::info!("cluster link up"),
            Some((_, Status::Up)) => self.announce("cluster link up"),
            Some((_, Status::Down)) => self.announce("cluster link down"),
            Some((_, Status::Starting)) | None => {}
        }
    }

    /// Tells every local member `* <what>`, and the log.
    fn announce(&self, what: &str) {
        log::info!("{what}");
        let line = format!("* {what}").into_bytes();
        if let Ok(line) = Payload::encode(&mut chat_codec(usize::MAX), line) {
            self.registry.everyone().send(None, &line);
        }
    }

    /// Whether the whole link is up: messages go to the other instances.
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// What the members were last told.
    pub(crate) fn status(&self) -> Status {
        self.parts().status
    }

    /// Reactor `reactor`'s link's phase (`Down` before the cluster is started).
    pub(crate) fn link_phase(&self, reactor: usize) -> Phase {
        if self.started.get().is_none() {
            return Phase::Down;
        }
        self.parts()
            .links
            .get(reactor)
            .map_or(Phase::Down, |slot| slot.phase)
    }

    /// A member arrived on reactor `reactor`.
    pub(crate) fn arrived(&self, reactor: usize) {
        if let Some(count) = self.members.get(reactor) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A member of reactor `reactor` left.
    pub(crate) fn left(&self, reactor: usize) {
        if let Some(count) = self.members.get(reactor) {
            count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// How many local members reactor `reactor` has.
    pub(crate) fn members_on(&self, reactor: usize) -> usize {
        self.members
            .get(reactor)
            .map_or(0, |count| count.load(Ordering::Relaxed))
    }

    /// The settings.
    pub(crate) fn settings(&self) -> &ClusterSettings {
        &self.settings
    }

    /// This instance's name.
    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }

    /// The name of reactor `reactor`'s stream.
    pub(crate) fn stream(&self, reactor: usize) -> String {
        stream_name(&self.instance, reactor)
    }

    /// The registry.
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// How often a link renews its entries and sends its heartbeat: four times per TTL.
    pub(crate) fn renew_every(&self) -> Duration {
        self.settings.ttl / 4
    }

    /// How often the feed looks for silent streams: ten times per TTL, at most every 100 ms.
    pub(crate) fn check_every(&self) -> Duration {
        (self.settings.ttl / 10).max(Duration::from_millis(100))
    }

    /// How long Redis may take to answer before its connection counts as broken.
    pub(crate) fn reply_timeout(&self) -> Duration {
        self.settings.ttl / 2
    }

    fn parts(&self) -> MutexGuard<'_, Parts> {
        self.parts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Parts {
    /// The link's status: up when every connection is, down when any has failed, and
    /// otherwise (connections on their way) as it was.
    fn overall(&self) -> Status {
        let mut slots = self.links.iter().chain([&self.feed]);
        if slots.clone().all(|slot| slot.phase == Phase::Up) {
            Status::Up
        } else if slots.any(|slot| slot.phase == Phase::Down) {
            Status::Down
        } else {
            self.status
        }
    }
}

impl Slot {
    /// Whether a connect is due now; if so, it is under way from here on.
    fn due(&mut self, now: Instant) -> bool {
        let due = match self.phase {
            Phase::New => true,
            Phase::Down => self.retry_at <= now,
            Phase::Connecting | Phase::Syncing | Phase::Up => false,
        };
        if due {
            self.phase = Phase::Connecting;
        }
        due
    }

    /// Moves to `phase`: a failure sets the next attempt after the back-off and doubles it;
    /// getting up starts the back-off over.
    fn enter(&mut self, phase: Phase, now: Instant) {
        match phase {
            Phase::Down if self.phase != Phase::Down => {
                self.retry_at = now + self.delay;
                self.delay = (self.delay * 2).min(LAST_BACKOFF);
            }
            Phase::Up => self.delay = FIRST_BACKOFF,
            _ => {}
        }
        self.phase = phase;
    }
}

/// A name for this instance: 16 hex digits from the standard library's randomly keyed hasher,
/// fed the time and the process id.
fn random_instance() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(since_epoch.as_nanos());
    hasher.write_u32(std::process::id());
    let name = format!("{:016x}", hasher.finish());
    debug_assert_eq!(name.len(), INSTANCE_LEN);
    name
}
