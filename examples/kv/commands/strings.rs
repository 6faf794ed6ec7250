//! String commands: `GET`, `SET`, `INCR`, `DECR`, `INCRBY`, `DECRBY`, `MGET`, `MSET`.

use turbine::codec::Reply;

use super::args::{
    Args, NOT_INTEGER, OVERFLOW, Outcome, SYNTAX, WRONGTYPE, error, integer, invalid_expire, is,
    parse_i64, write_i64, wrong_arity,
};
use super::store::{Entry, Store};
use super::value::Value;

/// `GET key`: the string, or null.
pub(super) fn get(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now) {
        None => Ok(Reply::Null),
        Some(Entry {
            value: Value::Str(bytes),
            ..
        }) => Ok(Reply::Bulk(bytes.clone())),
        Some(_) => Err(error(WRONGTYPE)),
    }
}

/// When `SET` may write.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// Always.
    Always,
    /// `NX`: only if the key is missing.
    IfMissing,
    /// `XX`: only if the key is there.
    IfPresent,
}

/// `SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|KEEPTTL]`: `OK`, or null when
/// `NX`/`XX` blocked it; with `GET`, the old string (or null) instead.
pub(super) fn set(store: &Store, args: &Args) -> Outcome {
    let mut condition = Condition::Always;
    let mut get = false;
    let mut keep_ttl = false;
    // The expiry argument's position and its unit in milliseconds.
    let mut expire: Option<(usize, i64)> = None;
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        let has_next = i + 1 < args.len();
        if is(option, "NX") && condition != Condition::IfPresent {
            condition = Condition::IfMissing;
        } else if is(option, "XX") && condition != Condition::IfMissing {
            condition = Condition::IfPresent;
        } else if is(option, "GET") {
            get = true;
        } else if is(option, "KEEPTTL") && expire.is_none() {
            keep_ttl = true;
        } else if (is(option, "EX") || is(option, "PX"))
            && !keep_ttl
            && expire.is_none()
            && has_next
        {
            expire = Some((i + 1, if is(option, "EX") { 1000 } else { 1 }));
            i += 1;
        } else {
            return Err(error(SYNTAX));
        }
        i += 1;
    }
    let now = store.now();
    let deadline = match expire {
        None => None,
        Some((at, unit)) => {
            let n = integer(&args[at])?;
            let ms = n
                .checked_mul(unit)
                .filter(|&ms| ms > 0)
                .ok_or_else(|| invalid_expire("set"))?;
            let when = (now.ms() as i64)
                .checked_add(ms)
                .ok_or_else(|| invalid_expire("set"))?;
            Some(when as u64)
        }
    };
    let key = &args[1];
    let value = &args[2];
    let mut shard = store.lock(key);
    if condition == Condition::Always && !get && !keep_ttl {
        // The plain `SET`: one lookup, replacing whatever was there (expired or not).
        shard.set_string(key, value, deadline);
        return Ok(Reply::OK);
    }
    let (exists, old, old_deadline) = match shard.get(key, &now) {
        None => (false, None, None),
        Some(entry) => {
            let old = match &entry.value {
                Value::Str(bytes) if get => Some(bytes.clone()),
                _ if get => return Err(error(WRONGTYPE)),
                _ => None,
            };
            (true, old, entry.deadline())
        }
    };
    let old = || old.map_or(Reply::Null, Reply::Bulk);
    let blocked = match condition {
        Condition::Always => false,
        Condition::IfMissing => exists,
        Condition::IfPresent => !exists,
    };
    if blocked {
        return Ok(if get { old() } else { Reply::Null });
    }
    let deadline = if keep_ttl { old_deadline } else { deadline };
    shard.set_string(key, value, deadline);
    Ok(if get { old() } else { Reply::OK })
}

/// `INCR key`.
pub(super) fn incr(store: &Store, args: &Args) -> Outcome {
    add(store, &args[1], 1)
}

/// `DECR key`.
pub(super) fn decr(store: &Store, args: &Args) -> Outcome {
    add(store, &args[1], -1)
}

/// `INCRBY key increment`.
pub(super) fn incrby(store: &Store, args: &Args) -> Outcome {
    add(store, &args[1], integer(&args[2])?)
}

/// `DECRBY key decrement`.
pub(super) fn decrby(store: &Store, args: &Args) -> Outcome {
    let decrement = integer(&args[2])?;
    if decrement == i64::MIN {
        return Err(Reply::error("ERR decrement would overflow"));
    }
    add(store, &args[1], -decrement)
}

/// Adds `delta` to the integer in `key` (a missing key counts as 0), keeping its deadline;
/// replies with the result.
fn add(store: &Store, key: &[u8], delta: i64) -> Outcome {
    let now = store.now();
    let mut shard = store.lock(key);
    if let Some(entry) = shard.get(key, &now) {
        let Value::Str(bytes) = &mut entry.value else {
            return Err(error(WRONGTYPE));
        };
        let n = parse_i64(bytes).ok_or_else(|| error(NOT_INTEGER))?;
        let sum = n.checked_add(delta).ok_or_else(|| error(OVERFLOW))?;
        write_i64(bytes, sum);
        return Ok(Reply::Integer(sum));
    }
    let mut bytes = Vec::new();
    write_i64(&mut bytes, delta);
    shard.set(key, Value::Str(bytes), None);
    Ok(Reply::Integer(delta))
}

/// `MGET key [key ...]`: each string, or null for a missing key or another type. Reads every
/// key at one instant: their shards are locked together.
pub(super) fn mget(store: &Store, args: &Args) -> Outcome {
    let now = store.now();
    let mut locked = store.lock_keys(args.args().skip(1));
    let values = args
        .args()
        .skip(1)
        .map(|key| match locked.shard(key).get(key, &now) {
            Some(Entry {
                value: Value::Str(bytes),
                ..
            }) => Reply::Bulk(bytes.clone()),
            _ => Reply::Null,
        })
        .collect();
    Ok(Reply::Array(values))
}

/// `MSET key value [key value ...]`: sets them all at one instant, deadlines removed; `OK`.
pub(super) fn mset(store: &Store, args: &Args) -> Outcome {
    if args.len() % 2 == 0 {
        return Err(wrong_arity("mset"));
    }
    let mut locked = store.lock_keys(args.args().skip(1).step_by(2));
    for at in (1..args.len()).step_by(2) {
        let key = &args[at];
        locked.shard(key).set_string(key, &args[at + 1], None);
    }
    Ok(Reply::OK)
}
