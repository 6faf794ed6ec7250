//! The command table: each command's name, arity, flags and key positions (as Redis's
//! `COMMAND INFO` reports them) and the function that runs it.

mod hashes;
mod keys;
mod lists;
mod server;
mod sets;
mod strings;
mod zsets;

// Paths go through `super`, never `crate`, so the example also compiles as a module of a test
// crate (`tests/kv.rs` includes it to run its unit tests). The commands reach the example's
// other modules through these.
use super::{args, member_set, sorted_set, store, value};

use args::{Args, Outcome};
use store::Store;

/// Runs a command whose arity has been checked.
pub(crate) type Run = fn(&Store, &Args) -> Outcome;

/// One command.
pub(crate) struct Spec {
    /// Its name in lower case, as Redis writes it in replies.
    pub name: &'static str,
    /// How many arguments it takes, its name included: exactly that many, or at least `-arity`
    /// when negative.
    pub arity: i64,
    /// Redis's flags for it (`write`, `readonly`, `fast`, ...), for `COMMAND INFO`.
    pub flags: &'static [&'static str],
    /// First key's position, last key's (negative: from the end) and the step between keys.
    pub keys: (i64, i64, i64),
    /// What runs it.
    pub run: Run,
}

impl Spec {
    /// Whether `argc` arguments (the name included) fit the arity.
    pub(crate) fn accepts(&self, argc: usize) -> bool {
        let argc = argc as i64;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// `Spec` in one line.
const fn spec(
    name: &'static str,
    arity: i64,
    flags: &'static [&'static str],
    keys: (i64, i64, i64),
    run: Run,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys,
        run,
    }
}

const NO_KEYS: (i64, i64, i64) = (0, 0, 0);
const ONE_KEY: (i64, i64, i64) = (1, 1, 1);
const ALL_KEYS: (i64, i64, i64) = (1, -1, 1);
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];
const W: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const WM: &[&str] = &["write", "denyoom"];
const WMF: &[&str] = &["write", "denyoom", "fast"];
const ADMIN: &[&str] = &["admin", "noscript", "loading", "stale"];

/// Every command, sorted by name (a test checks it).
pub(crate) static COMMANDS: &[Spec] = &[
    spec(
        "command",
        -1,
        &["loading", "stale"],
        NO_KEYS,
        server::command,
    ),
    spec("config", -2, ADMIN, NO_KEYS, server::config),
    spec("dbsize", 1, RF, NO_KEYS, keys::dbsize),
    spec("debug", -2, ADMIN, NO_KEYS, server::debug),
    spec("decr", 2, WMF, ONE_KEY, strings::decr),
    spec("decrby", 3, WMF, ONE_KEY, strings::decrby),
    spec("del", -2, W, ALL_KEYS, keys::del),
    spec("echo", 2, &["fast"], NO_KEYS, server::echo),
    spec("exists", -2, RF, ALL_KEYS, keys::exists),
    spec("expire", -3, WF, ONE_KEY, keys::expire),
    spec("flushall", -1, W, NO_KEYS, keys::flush),
    spec("flushdb", -1, W, NO_KEYS, keys::flush),
    spec("get", 2, RF, ONE_KEY, strings::get),
    spec("hget", 3, RF, ONE_KEY, hashes::hget),
    spec("hgetall", 2, R, ONE_KEY, hashes::hgetall),
    spec("hset", -4, WMF, ONE_KEY, hashes::hset),
    spec("incr", 2, WMF, ONE_KEY, strings::incr),
    spec("incrby", 3, WMF, ONE_KEY, strings::incrby),
    spec("info", -1, &["loading", "stale"], NO_KEYS, server::info),
    spec("llen", 2, RF, ONE_KEY, lists::llen),
    spec("lpop", -2, WF, ONE_KEY, lists::lpop),
    spec("lpush", -3, WMF, ONE_KEY, lists::lpush),
    spec("lrange", 4, R, ONE_KEY, lists::lrange),
    spec("mget", -2, RF, ALL_KEYS, strings::mget),
    spec("mset", -3, WM, (1, -1, 2), strings::mset),
    spec("pexpire", -3, WF, ONE_KEY, keys::pexpire),
    spec("ping", -1, &["fast"], NO_KEYS, server::ping),
    spec("pttl", 2, RF, ONE_KEY, keys::pttl),
    spec(
        "quit",
        -1,
        &["fast", "noscript", "loading", "stale"],
        NO_KEYS,
        server::quit,
    ),
    spec("rpop", -2, WF, ONE_KEY, lists::rpop),
    spec("rpush", -3, WMF, ONE_KEY, lists::rpush),
    spec("sadd", -3, WMF, ONE_KEY, sets::sadd),
    spec("scard", 2, RF, ONE_KEY, sets::scard),
    spec(
        "select",
        2,
        &["loading", "stale", "fast"],
        NO_KEYS,
        server::select,
    ),
    spec("set", -3, WM, ONE_KEY, strings::set),
    spec("smembers", 2, R, ONE_KEY, sets::smembers),
    spec("spop", -2, WF, ONE_KEY, sets::spop),
    spec("ttl", 2, RF, ONE_KEY, keys::ttl),
    spec("type", 2, RF, ONE_KEY, keys::type_),
    spec("zadd", -4, WMF, ONE_KEY, zsets::zadd),
    spec("zpopmin", -2, WF, ONE_KEY, zsets::zpopmin),
    spec("zrange", -4, R, ONE_KEY, zsets::zrange),
];

/// The command called `name`, in any case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .binary_search_by(|spec| {
            spec.name
                .bytes()
                .cmp(name.iter().map(u8::to_ascii_lowercase))
        })
        .ok()
        .map(|at| &COMMANDS[at])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is sorted, so lookups by binary search find every command, in any case.
    #[test]
    fn table_is_sorted_and_found() {
        assert!(COMMANDS.windows(2).all(|w| w[0].name < w[1].name));
        for spec in COMMANDS {
            assert_eq!(lookup(spec.name.as_bytes()).unwrap().name, spec.name);
            let upper = spec.name.to_ascii_uppercase();
            assert_eq!(lookup(upper.as_bytes()).unwrap().name, spec.name);
        }
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"").is_none());
    }
}
