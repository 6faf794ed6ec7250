//! The keyspace: keys spread over shards, each behind its own lock, shared by every reactor.
//!
//! A key's shard is picked by a fast multiplicative hash of its bytes; inside a shard a
//! `HashMap` with std's randomly keyed SipHash finds the entry, so a client choosing keys can
//! crowd one shard (losing parallelism) but cannot degrade the map. A command locks the one
//! shard its key lives in for the few hundred nanoseconds it takes; a command on several keys
//! (`MSET`, `MGET`, `DEL`, `EXISTS`) locks every shard involved, in ascending order, so it is
//! atomic and cannot deadlock with another. The choice of locks over shards owned by reactors
//! is measured and explained in the example's docs (`main.rs`) and in `BENCHMARKS.md`.
//!
//! Expiry, as in Redis, is lazy and active: a command that finds an expired key deletes it and
//! treats it as missing; and [`Store::expire_cycle`], run by every reactor on a timer, deletes
//! due keys of the shards that reactor is in charge of, within a time budget.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::value::Value;

/// Shards unless `KV_SHARDS` says otherwise: enough that 2 to 16 reactors rarely meet on one.
pub(crate) const DEFAULT_SHARDS: usize = 64;
/// The most shards `KV_SHARDS` may ask for.
pub(crate) const MAX_SHARDS: usize = 4096;

/// Due keys a shard deletes per lock hold during an expiry cycle, so that other reactors wait
/// at most that long for it.
const EXPIRE_BATCH: usize = 64;

/// Every key, in shards.
pub(crate) struct Store {
    /// The shards, each on its own cache lines so that reactors locking neighbours do not
    /// contend on one line.
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// When the store was created, on the monotonic clock.
    epoch: Instant,
    /// The same instant in Unix milliseconds: the clock reads like Redis's (Unix time, so
    /// deadlines overflow where Redis's do) but moves monotonically, unmoved by clock steps.
    epoch_unix_ms: u64,
    /// Whether [`expire_cycle`](Store::expire_cycle) runs (`DEBUG SET-ACTIVE-EXPIRE`).
    active_expire: AtomicBool,
}

/// A value aligned to 128 bytes (two cache lines, the unit the adjacent-line prefetcher pulls).
#[repr(align(128))]
struct Padded<T>(T);

impl Store {
    /// An empty store of `shards` shards (at least one).
    pub(crate) fn new(shards: usize) -> Store {
        Store {
            shards: (0..shards.max(1))
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
            epoch: Instant::now(),
            epoch_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            active_expire: AtomicBool::new(true),
        }
    }

    /// How many shards there are.
    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// The shard `key` lives in.
    pub(crate) fn shard_of(&self, key: &[u8]) -> usize {
        // Multiply-shift onto `0..n`: the top bits of the hash pick the shard.
        ((u128::from(shard_hash(key)) * self.shards.len() as u128) >> 64) as usize
    }

    /// Locks the shard `key` lives in.
    pub(crate) fn lock(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.lock_index(self.shard_of(key))
    }

    /// Locks shard `index`. A shard whose lock was poisoned (a command panicked holding it) is
    /// used as it is: its maps are still sound, and one bad command must not stop the server.
    pub(crate) fn lock_index(&self, index: usize) -> MutexGuard<'_, Shard> {
        self.shards[index]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks every shard holding one of `keys`, in ascending order.
    pub(crate) fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut indices: Vec<usize> = keys.into_iter().map(|k| self.shard_of(k)).collect();
        indices.sort_unstable();
        indices.dedup();
        Locked {
            store: self,
            guards: indices
                .into_iter()
                .map(|i| (i, self.lock_index(i)))
                .collect(),
        }
    }

    /// Locks every shard, in ascending order.
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        (0..self.shards.len()).map(|i| self.lock_index(i)).collect()
    }

    /// The store's clock, read when first needed and then fixed for the command: Redis too
    /// judges a whole command at one instant.
    pub(crate) fn now(&self) -> Now<'_> {
        Now {
            store: self,
            ms: Cell::new(None),
        }
    }

    /// Time since the store was created.
    pub(crate) fn uptime(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Keys in the store, expired ones not yet deleted included (as Redis's `DBSIZE`), and how
    /// many of them have a deadline.
    pub(crate) fn len(&self) -> (usize, usize) {
        (0..self.shards.len())
            .map(|i| {
                let shard = self.lock_index(i);
                (shard.map.len(), shard.volatile)
            })
            .fold((0, 0), |(k, v), (sk, sv)| (k + sk, v + sv))
    }

    /// Deletes every key, atomically.
    pub(crate) fn clear(&self) {
        for mut shard in self.lock_all() {
            *shard = Shard::default();
        }
    }

    /// Turns the active expiry cycle on or off (lazy expiry always works).
    pub(crate) fn set_active_expire(&self, on: bool) {
        self.active_expire.store(on, Ordering::Relaxed);
    }

    /// Deletes due keys in the shards reactor `reactor` of `reactors` is in charge of (shard
    /// `i` belongs to reactor `i % reactors`, so reactors never compete for this work), for at
    /// most about `budget`. Returns how many keys it deleted.
    ///
    /// Like Redis's active expire cycle it bounds its work per run; unlike it, it does not
    /// sample: each shard keeps its deadlines in a heap, so due keys come out soonest first
    /// and none is missed, and a key whose deadline changed leaves a stale heap entry that is
    /// dropped when it comes up.
    pub(crate) fn expire_cycle(&self, reactor: usize, reactors: usize, budget: Duration) -> usize {
        if !self.active_expire.load(Ordering::Relaxed) {
            return 0;
        }
        let started = Instant::now();
        let now = self.now().ms();
        let mut deleted = 0;
        for index in (reactor..self.shards.len()).step_by(reactors.max(1)) {
            loop {
                let (n, more) = self.lock_index(index).expire_due(now, EXPIRE_BATCH);
                deleted += n;
                if !more {
                    break;
                }
                if started.elapsed() >= budget {
                    return deleted;
                }
            }
        }
        deleted
    }
}

/// The store's millisecond clock, read once per command.
pub(crate) struct Now<'a> {
    /// Whose clock.
    store: &'a Store,
    /// The reading, once taken.
    ms: Cell<Option<u64>>,
}

impl Now<'_> {
    /// Milliseconds since the Unix epoch (as measured when the store was created, then by the
    /// monotonic clock), the same for every call on this value.
    pub(crate) fn ms(&self) -> u64 {
        if let Some(ms) = self.ms.get() {
            return ms;
        }
        let ms = self.store.epoch_unix_ms + self.store.epoch.elapsed().as_millis() as u64;
        self.ms.set(Some(ms));
        ms
    }
}

/// Several shards locked together, for a command on several keys.
pub(crate) struct Locked<'a> {
    /// Where keys are looked up.
    store: &'a Store,
    /// Each locked shard with its index, in ascending order.
    guards: Vec<(usize, MutexGuard<'a, Shard>)>,
}

impl Locked<'_> {
    /// The shard of `key`, which must be one of the keys the lock was taken for.
    pub(crate) fn shard(&mut self, key: &[u8]) -> &mut Shard {
        let index = self.store.shard_of(key);
        let at = self
            .guards
            .binary_search_by_key(&index, |(i, _)| *i)
            .expect("the key's shard was locked");
        &mut self.guards[at].1
    }
}

/// A key's value and deadline.
pub(crate) struct Entry {
    /// The value.
    pub value: Value,
    /// When the key expires, in the store clock's Unix milliseconds; `None`: never. Changed through the shard,
    /// which counts keys with deadlines.
    deadline: Option<u64>,
}

impl Entry {
    /// When the key expires, in the store clock's Unix milliseconds.
    pub(crate) fn deadline(&self) -> Option<u64> {
        self.deadline
    }

    /// Whether the key has expired at `now`: past its deadline, as Redis judges (`now > when`).
    fn is_expired(&self, now: &Now<'_>) -> bool {
        self.deadline.is_some_and(|d| now.ms() > d)
    }
}

/// One shard: its keys and their deadlines.
#[derive(Default)]
pub(crate) struct Shard {
    /// Every key of the shard.
    map: HashMap<Box<[u8]>, Entry>,
    /// Deadlines with their keys, soonest first; an entry whose key is gone or has another
    /// deadline now is stale and skipped.
    deadlines: BinaryHeap<Reverse<(u64, Box<[u8]>)>>,
    /// Keys in `map` with a deadline.
    volatile: usize,
}

impl Shard {
    /// The live entry for `key`; an expired one is deleted and reported missing (lazy expiry).
    pub(crate) fn get(&mut self, key: &[u8], now: &Now<'_>) -> Option<&mut Entry> {
        // Only a shard with deadlines pays for the second lookup.
        if self.volatile > 0 && self.map.get(key).is_some_and(|e| e.is_expired(now)) {
            self.remove(key);
            return None;
        }
        self.map.get_mut(key)
    }

    /// Sets `key` to `value` with `deadline`, replacing any value and deadline it had. An
    /// existing key is updated in place: its bytes are not copied again.
    pub(crate) fn set(&mut self, key: &[u8], value: Value, deadline: Option<u64>) {
        let had_deadline = match self.map.get_mut(key) {
            Some(entry) => {
                entry.value = value;
                std::mem::replace(&mut entry.deadline, deadline).is_some()
            }
            None => {
                self.map.insert(key.into(), Entry { value, deadline });
                false
            }
        };
        self.note_deadline(key, had_deadline, deadline);
    }

    /// Sets `key` to the string `bytes` with `deadline`, like [`set`](Shard::set), reusing the
    /// old string's buffer when it holds one of about the same size: overwriting a string
    /// (`SET`, `MSET` on an existing key) then allocates nothing.
    pub(crate) fn set_string(&mut self, key: &[u8], bytes: &[u8], deadline: Option<u64>) {
        let had_deadline = match self.map.get_mut(key) {
            Some(entry) => {
                match &mut entry.value {
                    // Reuse only a buffer that would not be more than half empty.
                    Value::Str(old)
                        if bytes.len() <= old.capacity()
                            && old.capacity() <= bytes.len().max(32) * 2 =>
                    {
                        old.clear();
                        old.extend_from_slice(bytes);
                    }
                    other => *other = Value::Str(bytes.to_vec()),
                }
                std::mem::replace(&mut entry.deadline, deadline).is_some()
            }
            None => {
                let value = Value::Str(bytes.to_vec());
                self.map.insert(key.into(), Entry { value, deadline });
                false
            }
        };
        self.note_deadline(key, had_deadline, deadline);
    }

    /// Deletes `key`; returns whether it was there (expired or not).
    pub(crate) fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(entry) => {
                if entry.deadline.is_some() {
                    self.volatile -= 1;
                }
                true
            }
            None => false,
        }
    }

    /// Sets the deadline of `key`, if it is present.
    pub(crate) fn set_deadline(&mut self, key: &[u8], deadline: Option<u64>) {
        let Some(entry) = self.map.get_mut(key) else {
            return;
        };
        let had_deadline = std::mem::replace(&mut entry.deadline, deadline).is_some();
        self.note_deadline(key, had_deadline, deadline);
    }

    /// Accounts for `key`'s deadline having changed from some (or none) to `deadline`.
    fn note_deadline(&mut self, key: &[u8], had_deadline: bool, deadline: Option<u64>) {
        match (had_deadline, deadline) {
            (false, Some(_)) => self.volatile += 1,
            (true, None) => self.volatile -= 1,
            _ => {}
        }
        if let Some(deadline) = deadline {
            self.deadlines.push(Reverse((deadline, key.into())));
            self.compact_deadlines();
        }
    }

    /// Deletes up to `max` due keys (stale heap entries count too). Returns how many keys it
    /// deleted and whether more are due.
    fn expire_due(&mut self, now: u64, max: usize) -> (usize, bool) {
        let mut deleted = 0;
        for _ in 0..max {
            match self.deadlines.peek() {
                Some(Reverse((deadline, _))) if *deadline < now => {}
                _ => return (deleted, false),
            }
            let Some(Reverse((deadline, key))) = self.deadlines.pop() else {
                break;
            };
            if self
                .map
                .get(&key)
                .is_some_and(|e| e.deadline == Some(deadline))
            {
                self.remove(&key);
                deleted += 1;
            }
        }
        let more = matches!(self.deadlines.peek(), Some(Reverse((d, _))) if *d < now);
        (deleted, more)
    }

    /// Rebuilds the deadline heap when stale entries (keys deleted, or given another deadline,
    /// before theirs came due) outnumber live ones, so rewriting one key's deadline over and
    /// over cannot grow it without bound. Each rebuild follows at least as many pushes as it
    /// costs.
    fn compact_deadlines(&mut self) {
        if self.deadlines.len() <= 2 * self.volatile + 1024 {
            return;
        }
        self.deadlines = self
            .map
            .iter()
            .filter_map(|(key, e)| e.deadline.map(|d| Reverse((d, key.clone()))))
            .collect();
    }
}

/// A fast hash for picking a shard (FxHash's mixing, 8 bytes at a time). Not resistant to
/// chosen keys, which is fine for this use only: see the module docs.
fn shard_hash(key: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut h = key.len() as u64;
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        h = mix(h, u64::from_le_bytes(word.try_into().expect("8 bytes")));
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    // One more round so that the last bytes reach the top bits, which pick the shard.
    mix(mix(h, u64::from_le_bytes(last)), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(v: &str) -> Value {
        Value::Str(v.as_bytes().to_vec())
    }

    /// Keys spread over the shards about evenly.
    #[test]
    fn keys_spread_over_shards() {
        let store = Store::new(64);
        let mut counts = [0usize; 64];
        for i in 0..64_000 {
            counts[store.shard_of(format!("key:{i:012}").as_bytes())] += 1;
        }
        assert!(
            counts.iter().all(|&c| (700..1300).contains(&c)),
            "{counts:?}"
        );
    }

    /// Deadline bookkeeping: replacing, removing and re-timing keys keeps the count of keys
    /// with a deadline right, and stale heap entries are dropped.
    #[test]
    fn deadlines_are_counted() {
        let store = Store::new(1);
        let mut shard = store.lock_index(0);
        shard.set(b"a", string("1"), Some(10));
        shard.set(b"a", string("2"), None);
        assert_eq!(shard.volatile, 0);
        shard.set(b"b", string("1"), Some(10));
        shard.set_deadline(b"b", Some(20));
        shard.set_deadline(b"b", None);
        shard.set_deadline(b"b", Some(30));
        assert_eq!(shard.volatile, 1);
        assert_eq!(shard.expire_due(25, 100), (0, false));
        assert_eq!(shard.expire_due(31, 100), (1, false));
        assert_eq!(shard.volatile, 0);
        assert!(shard.deadlines.is_empty());
    }

    /// Rewriting one key's deadline a million times keeps the heap small.
    #[test]
    fn stale_deadlines_are_compacted() {
        let store = Store::new(1);
        let mut shard = store.lock_index(0);
        shard.set(b"k", string("v"), Some(1));
        for d in 0..100_000 {
            shard.set_deadline(b"k", Some(1_000_000 + d));
        }
        assert!(shard.deadlines.len() <= 1026, "{}", shard.deadlines.len());
    }

    /// The cycle deletes due keys of its own shards only, in batches, within its budget.
    #[test]
    fn expire_cycle_splits_shards_between_reactors() {
        let store = Store::new(4);
        for i in 0..1000 {
            let key = format!("k{i}");
            store
                .lock(key.as_bytes())
                .set(key.as_bytes(), string("v"), Some(0));
        }
        std::thread::sleep(Duration::from_millis(2));
        let first = store.expire_cycle(0, 2, Duration::from_secs(5));
        let second = store.expire_cycle(1, 2, Duration::from_secs(5));
        assert_eq!(first + second, 1000);
        assert!(first > 0 && second > 0);
        assert_eq!(store.len(), (0, 0));
    }
}
