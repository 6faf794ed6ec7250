//! Sorted set commands: `ZADD`, `ZPOPMIN`, `ZRANGE`.

use turbine::codec::Reply;

use super::args::{
    Args, NOT_FLOAT, Outcome, SYNTAX, WRONGTYPE, count, error, integer, is, rank_range,
};
use super::sorted_set::{SortedSet, format_score, parse_score};
use super::store::Store;
use super::value::Value;

/// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`: how many members
/// were added (with `CH`, added or changed); with `INCR`, the member's new score, or null if a
/// condition stopped it.
///
/// Every score is checked before anything changes, so the command applies fully or not at
/// all, as in Redis.
pub(super) fn zadd(store: &Store, args: &Args) -> Outcome {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) =
        (false, false, false, false, false, false);
    let mut at = 2;
    while let Some(option) = args.arg(at) {
        match () {
            () if is(option, "NX") => nx = true,
            () if is(option, "XX") => xx = true,
            () if is(option, "GT") => gt = true,
            () if is(option, "LT") => lt = true,
            () if is(option, "CH") => ch = true,
            () if is(option, "INCR") => incr = true,
            () => break,
        }
        at += 1;
    }
    let pairs = args.len() - at;
    if pairs == 0 || pairs % 2 == 1 {
        return Err(error(SYNTAX));
    }
    if nx && xx {
        return Err(Reply::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(Reply::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if incr && pairs > 2 {
        return Err(Reply::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let first = at;
    let scores = (first..args.len())
        .step_by(2)
        .map(|at| parse_score(&args[at]).ok_or_else(|| error(NOT_FLOAT)))
        .collect::<Result<Vec<f64>, Reply>>()?;

    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let exists = match shard.get(key, &now).map(|e| &e.value) {
        None => false,
        Some(Value::ZSet(_)) => true,
        Some(_) => return Err(error(WRONGTYPE)),
    };
    if !exists {
        if xx {
            return Ok(if incr { Reply::Null } else { Reply::Integer(0) });
        }
        shard.set(key, Value::ZSet(Box::default()), None);
    }
    let Some(Value::ZSet(set)) = shard.get(key, &now).map(|e| &mut e.value) else {
        unreachable!("the sorted set was just found or created");
    };
    let (mut added, mut changed, mut applied) = (0, 0, 0);
    let mut last = 0.0;
    for (at, &score) in (first..args.len()).step_by(2).zip(&scores) {
        let member = &args[at + 1];
        match set.score(member) {
            Some(current) => {
                let new = if incr { current + score } else { score };
                if new.is_nan() {
                    return Err(Reply::error("ERR resulting score is not a number (NaN)"));
                }
                if nx || (lt && new >= current) || (gt && new <= current) {
                    continue;
                }
                if new != current {
                    set.insert(member, new);
                    changed += 1;
                }
                applied += 1;
                last = new;
            }
            None if xx => {}
            None => {
                set.insert(member, score);
                added += 1;
                applied += 1;
                last = score;
            }
        }
    }
    Ok(if incr {
        if applied > 0 {
            Reply::Bulk(format_score(last).into_bytes())
        } else {
            Reply::Null
        }
    } else {
        Reply::Integer(if ch { added + changed } else { added })
    })
}

/// `ZPOPMIN key [count]`: up to `count` (default 1) members with the lowest scores, each
/// followed by its score; empty if missing. Deletes the key when the set empties.
pub(super) fn zpopmin(store: &Store, args: &Args) -> Outcome {
    if args.len() > 3 {
        return Err(error(SYNTAX));
    }
    let wanted = args.arg(2).map(count).transpose()?.unwrap_or(1);
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let Some(entry) = shard.get(key, &now) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Value::ZSet(set) = &mut entry.value else {
        return Err(error(WRONGTYPE));
    };
    let mut popped = Vec::new();
    for _ in 0..wanted.min(set.len()) {
        let Some((member, score)) = set.pop_min() else {
            break;
        };
        popped.push(Reply::Bulk(member));
        popped.push(Reply::Bulk(format_score(score).into_bytes()));
    }
    if set.len() == 0 {
        shard.remove(key);
    }
    Ok(Reply::Array(popped))
}

/// `ZRANGE key start stop [REV] [WITHSCORES]`: the members of ranks `start..=stop` (negative
/// from the end), lowest score first (highest with `REV`), each followed by its score with
/// `WITHSCORES`. `BYSCORE` and `BYLEX` are not supported here.
pub(super) fn zrange(store: &Store, args: &Args) -> Outcome {
    let (mut withscores, mut rev, mut by, mut bylex, mut limit) =
        (false, false, false, false, false);
    let mut at = 4;
    while let Some(option) = args.arg(at) {
        match () {
            () if is(option, "WITHSCORES") => withscores = true,
            () if is(option, "REV") => rev = true,
            () if is(option, "BYSCORE") => by = true,
            () if is(option, "BYLEX") => (by, bylex) = (true, true),
            () if is(option, "LIMIT") && at + 2 < args.len() => {
                limit = true;
                at += 2;
            }
            () => return Err(error(SYNTAX)),
        }
        at += 1;
    }
    if limit && !by {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && bylex {
        return Err(Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if by {
        return Err(Reply::error(
            "ERR BYSCORE and BYLEX are not supported by this server",
        ));
    }
    let start = integer(&args[2])?;
    let stop = integer(&args[3])?;
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let set: &SortedSet = match shard.get(key, &now).map(|e| &e.value) {
        None => return Ok(Reply::Array(Vec::new())),
        Some(Value::ZSet(set)) => set,
        Some(_) => return Err(error(WRONGTYPE)),
    };
    let Some((first, last)) = rank_range(start, stop, set.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let mut items = Vec::with_capacity((last - first + 1) * (1 + usize::from(withscores)));
    for (member, score) in set.range(first, last, rev) {
        items.push(Reply::Bulk(member.to_vec()));
        if withscores {
            items.push(Reply::Bulk(format_score(score).into_bytes()));
        }
    }
    Ok(Reply::Array(items))
}
