//! Hash commands: `HSET`, `HGET`, `HGETALL`.

use std::collections::HashMap;

use turbine::codec::Reply;

use super::args::{Args, Outcome, WRONGTYPE, error, wrong_arity};
use super::store::Store;
use super::value::Value;

/// `HSET key field value [field value ...]`: how many fields were new.
pub(super) fn hset(store: &Store, args: &Args) -> Outcome {
    if args.len() % 2 == 1 {
        return Err(wrong_arity("hset"));
    }
    let key = &args[1];
    let set_all = |hash: &mut HashMap<Vec<u8>, Vec<u8>>| {
        let mut added = 0;
        for at in (2..args.len()).step_by(2) {
            let (field, value) = (&args[at], &args[at + 1]);
            match hash.get_mut(field) {
                // Overwriting a field reuses its buffer when it is about the right size.
                Some(old)
                    if value.len() <= old.capacity()
                        && old.capacity() <= value.len().max(32) * 2 =>
                {
                    old.clear();
                    old.extend_from_slice(value);
                }
                Some(old) => *old = value.to_vec(),
                None => {
                    hash.insert(field.to_vec(), value.to_vec());
                    added += 1;
                }
            }
        }
        Reply::Integer(added)
    };
    let now = store.now();
    let mut shard = store.lock(key);
    if let Some(entry) = shard.get(key, &now) {
        let Value::Hash(hash) = &mut entry.value else {
            return Err(error(WRONGTYPE));
        };
        return Ok(set_all(hash));
    }
    let mut hash = HashMap::with_capacity((args.len() - 2) / 2);
    let reply = set_all(&mut hash);
    shard.set(key, Value::Hash(Box::new(hash)), None);
    Ok(reply)
}

/// `HGET key field`: the field's value, or null.
pub(super) fn hget(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now).map(|e| &e.value) {
        None => Ok(Reply::Null),
        Some(Value::Hash(hash)) => Ok(hash
            .get(&args[2])
            .map_or(Reply::Null, |v| Reply::Bulk(v.clone()))),
        Some(_) => Err(error(WRONGTYPE)),
    }
}

/// `HGETALL key`: fields and values, alternating, in no particular order (empty if missing).
pub(super) fn hgetall(store: &Store, args: &Args) -> Outcome {
    let key = &args[1];
    let now = store.now();
    let mut shard = store.lock(key);
    match shard.get(key, &now).map(|e| &e.value) {
        None => Ok(Reply::Array(Vec::new())),
        Some(Value::Hash(hash)) => Ok(Reply::Array(
            hash.iter()
                .flat_map(|(f, v)| [Reply::Bulk(f.clone()), Reply::Bulk(v.clone())])
                .collect(),
        )),
        Some(_) => Err(error(WRONGTYPE)),
    }
}
