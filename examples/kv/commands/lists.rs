//! List commands: `LPUSH`, `RPUSH`, `LPOP`, `RPOP`, `LRANGE`, `LLEN`.

use std::collections::VecDeque;

use turbine::codec::Reply;

use super::args::{Args, Outcome, WRONGTYPE, count, error, integer, rank_range, wrong_arity};
use super::store::Store;
use super::value::Value;

/// Which end of a list.
#[derive(Clone, Copy)]
enum End {
    /// The head, `L...`.
    Left,
    /// The tail, `R...`.
    Right,
}

/// `LPUSH key element [element ...]`: the list's new length.
pub(super) fn lpush(store: &Store, args: &Args) -> Outcome {
    push(store, args, End::Left)
}

/// `RPUSH key element [element ...]`: the list's new length.
pub(super) fn rpush(store: &Store, args: &Args) -> Outcome {
    push(store, args, End::Right)
}

/// Pushes each element in turn at `end`, creating the list if needed.
fn push(store: &Store, args: &Args, end: End) -> Outcome {
    let key = &args[1];
    let push_all = |list: &mut VecDeque<Vec<u8>>| {
        for element in args.args().skip(2) {
            match end {
                End::Left => list.push_front(element.to_vec()),
                End::Right => list.push_back(element.to_vec()),
            }
        }
        Reply::Integer(list.len() as i64)
    };
    let now = store.now();
    let mut shard = store.lock(key);
    if let Some(entry) = shard.get(key, &now) {
        let Value::List(list) = &mut entry.value else {
            return Err(error(WRONGTYPE));
        };
        return Ok(push_all(list));
    }
    let mut list = VecDeque::with_capacity(args.len() - 2);
    let reply = push_all(&mut list);
    shard.set(key, Value::List(Box::new(list)), None);
    Ok(reply)
}

/// `LPOP key [count]`: the first element (null if missing), or with a count an array of up to
/// that many (a null array if missing).
pub(super) fn lpop(store: &Store, args: &Args) -> Outcome {
    pop(store, args, End::Left, "lpop")
}

/// `RPOP key [count]`: as `LPOP`, from the tail.
pub(super) fn rpop(store: &Store, args: &Args) -> Outcome {
    pop(store, args, End::Right, "rpop")
}

/// Pops from `end`; deletes the key when the list empties.
fn pop(store: &Store, args: &Args, end: End, name: &str) -> Outcome {
    if args.len() > 3 {
        return Err(wrong_arity(name));
    }
    let wanted = args.arg(2).map(count).transpose()?;
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let Some(entry) = shard.get(key, &now) else {
        return Ok(if wanted.is_some() {
            Reply::NullArray
        } else {
            Reply::Null
        });
    };
    let Value::List(list) = &mut entry.value else {
        return Err(error(WRONGTYPE));
    };
    let mut pop_one = || match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    };
    let reply = match wanted {
        None => pop_one().map_or(Reply::Null, Reply::Bulk),
        Some(n) => Reply::Array(
            std::iter::from_fn(|| pop_one().map(Reply::Bulk))
                .take(n)
                .collect(),
        ),
    };
    if list.is_empty() {
        shard.remove(key);
    }
    Ok(reply)
}

/// `LRANGE key start stop`: the elements of ranks `start..=stop` (negative from the end).
pub(super) fn lrange(store: &Store, args: &Args) -> Outcome {
    let start = integer(&args[2])?;
    let stop = integer(&args[3])?;
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    let Some(entry) = shard.get(key, &now) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Value::List(list) = &entry.value else {
        return Err(error(WRONGTYPE));
    };
    // Encoded at once into one buffer: one allocation for the reply, not one per element.
    Ok(match rank_range(start, stop, list.len()) {
        None => Reply::Array(Vec::new()),
        Some((first, last)) => Reply::bulk_array(list.range(first..=last)),
    })
}

/// `LLEN key`: the list's length, 0 if missing.
pub(super) fn llen(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now).map(|e| &e.value) {
        None => Ok(Reply::Integer(0)),
        Some(Value::List(list)) => Ok(Reply::Integer(list.len() as i64)),
        Some(_) => Err(error(WRONGTYPE)),
    }
}
