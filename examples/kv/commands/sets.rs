//! Set commands: `SADD`, `SPOP`, `SMEMBERS`, `SCARD`.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use turbine::codec::Reply;

use super::args::{Args, Outcome, SYNTAX, WRONGTYPE, count, error};
use super::member_set::MemberSet;
use super::store::Store;
use super::value::Value;

/// `SADD key member [member ...]`: how many members were new.
pub(super) fn sadd(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    if let Some(entry) = shard.get(key, &now) {
        let Value::Set(set) = &mut entry.value else {
            return Err(error(WRONGTYPE));
        };
        let added = args.args().skip(2).filter(|m| set.insert(m)).count();
        return Ok(Reply::Integer(added as i64));
    }
    let mut set = MemberSet::default();
    let added = args.args().skip(2).filter(|m| set.insert(m)).count();
    shard.set(key, Value::Set(Box::new(set)), None);
    Ok(Reply::Integer(added as i64))
}

/// `SPOP key [count]`: a random member (null if missing), or with a count an array of up to
/// that many distinct ones (empty if missing). Deletes the key when the set empties.
pub(super) fn spop(store: &Store, args: &Args) -> Outcome {
    if args.len() > 3 {
        return Err(error(SYNTAX));
    }
    let wanted = args.arg(2).map(count).transpose()?;
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let Some(entry) = shard.get(key, &now) else {
        return Ok(if wanted.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Null
        });
    };
    let Value::Set(set) = &mut entry.value else {
        return Err(error(WRONGTYPE));
    };
    let reply = match wanted {
        None => set.pop_at(random()).map_or(Reply::Null, Reply::Bulk),
        Some(n) => Reply::Array(
            std::iter::from_fn(|| set.pop_at(random()).map(Reply::Bulk))
                .take(n)
                .collect(),
        ),
    };
    if set.len() == 0 {
        shard.remove(key);
    }
    Ok(reply)
}

/// `SMEMBERS key`: every member, in no particular order (empty if missing).
pub(super) fn smembers(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now).map(|e| &e.value) {
        None => Ok(Reply::Array(Vec::new())),
        Some(Value::Set(set)) => Ok(Reply::Array(
            set.iter().map(|m| Reply::Bulk(m.to_vec())).collect(),
        )),
        Some(_) => Err(error(WRONGTYPE)),
    }
}

/// `SCARD key`: how many members, 0 if missing.
pub(super) fn scard(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now).map(|e| &e.value) {
        None => Ok(Reply::Integer(0)),
        Some(Value::Set(set)) => Ok(Reply::Integer(set.len() as i64)),
        Some(_) => Err(error(WRONGTYPE)),
    }
}

/// 64 random bits from this thread's xorshift generator, seeded from std's random hasher keys.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}
