//! Commands on keys of any type: `DEL`, `EXISTS`, `EXPIRE`, `PEXPIRE`, `TTL`, `PTTL`, `TYPE`,
//! `DBSIZE`, `FLUSHDB`, `FLUSHALL`.

use turbine::codec::Reply;

use super::args::{Args, Outcome, SYNTAX, error, integer, invalid_expire, is, shown};
use super::store::Store;

/// `DEL key [key ...]`: how many of the keys existed (expired ones do not count).
pub(super) fn del(store: &Store, args: &Args) -> Outcome {
    let now = store.now();
    let mut locked = store.lock_keys(args.args().skip(1));
    let mut deleted = 0;
    for key in args.args().skip(1) {
        let shard = locked.shard(key);
        if shard.get(key, &now).is_some() {
            shard.remove(key);
            deleted += 1;
        }
    }
    Ok(Reply::Integer(deleted))
}

/// `EXISTS key [key ...]`: how many of the keys exist, a key named twice counting twice.
pub(super) fn exists(store: &Store, args: &Args) -> Outcome {
    let now = store.now();
    let mut locked = store.lock_keys(args.args().skip(1));
    let found = args
        .args()
        .skip(1)
        .filter(|key| locked.shard(key).get(key, &now).is_some())
        .count();
    Ok(Reply::Integer(found as i64))
}

/// `EXPIRE key seconds [NX|XX|GT|LT]`.
pub(super) fn expire(store: &Store, args: &Args) -> Outcome {
    set_expiry(store, args, "expire", 1000)
}

/// `PEXPIRE key milliseconds [NX|XX|GT|LT]`.
pub(super) fn pexpire(store: &Store, args: &Args) -> Outcome {
    set_expiry(store, args, "pexpire", 1)
}

/// Gives a key a deadline `args[2]` units of `unit` ms from now, under Redis 7's conditions
/// (`NX`: it has none; `XX`: it has one; `GT`/`LT`: later/earlier than its current one, none
/// counting as infinitely late). 1 if set, 0 if the key is missing or a condition failed. A
/// deadline not in the future deletes the key (and counts as set).
fn set_expiry(store: &Store, args: &Args, name: &str, unit: i64) -> Outcome {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in args.args().skip(3) {
        match () {
            () if is(option, "NX") => nx = true,
            () if is(option, "XX") => xx = true,
            () if is(option, "GT") => gt = true,
            () if is(option, "LT") => lt = true,
            () => {
                return Err(Reply::error(format!(
                    "ERR Unsupported option {}",
                    shown(option)
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let now = store.now();
    let base = now.ms() as i64;
    let when = integer(&args[2])?
        .checked_mul(unit)
        .and_then(|ms| ms.checked_add(base))
        .ok_or_else(|| invalid_expire(name))?;
    let key = &args[1];
    let mut shard = store.lock(key);
    let Some(entry) = shard.get(key, &now) else {
        return Ok(Reply::Integer(0));
    };
    let current = entry.deadline().map(|d| d as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        return Ok(Reply::Integer(0));
    }
    if when <= base {
        shard.remove(key);
    } else {
        shard.set_deadline(key, Some(when as u64));
    }
    Ok(Reply::Integer(1))
}

/// `TTL key`: seconds left, rounded; -1 without a deadline, -2 for a missing key.
pub(super) fn ttl(store: &Store, args: &Args) -> Outcome {
    time_left(store, &args[1], 1000)
}

/// `PTTL key`: milliseconds left; -1 without a deadline, -2 for a missing key.
pub(super) fn pttl(store: &Store, args: &Args) -> Outcome {
    time_left(store, &args[1], 1)
}

/// Time left before `key` expires, in units of `unit` ms rounded to the nearest.
fn time_left(store: &Store, key: &[u8], unit: u64) -> Outcome {
    let now = store.now();
    let mut shard = store.lock(key);
    let left = match shard.get(key, &now) {
        None => -2,
        Some(entry) => match entry.deadline() {
            None => -1,
            Some(deadline) => ((deadline.saturating_sub(now.ms()) + unit / 2) / unit) as i64,
        },
    };
    Ok(Reply::Integer(left))
}

/// `TYPE key`: `string`, `list`, `set`, `hash`, `zset`, or `none`.
pub(super) fn type_(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let name = shard.get(key, &now).map_or("none", |e| e.value.type_name());
    Ok(Reply::simple(name))
}

/// `DBSIZE`: keys in the store, expired ones not yet deleted included, as in Redis.
pub(super) fn dbsize(store: &Store, _args: &Args) -> Outcome {
    Ok(Reply::Integer(store.len().0 as i64))
}

/// `FLUSHDB [ASYNC|SYNC]` and `FLUSHALL [ASYNC|SYNC]` (one database, so the same): deletes
/// every key, at once either way.
pub(super) fn flush(store: &Store, args: &Args) -> Outcome {
    match args.arg(1) {
        None => {}
        Some(mode) if args.len() == 2 && (is(mode, "ASYNC") || is(mode, "SYNC")) => {}
        Some(_) => return Err(error(SYNTAX)),
    }
    store.clear();
    Ok(Reply::OK)
}
