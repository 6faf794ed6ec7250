//! The command table: each command's name, arity, flags, key positions (as Redis's
//! `COMMAND INFO` reports them) and subcommands, and the function that runs it; and
//! [`resolve`], which finds what a command line calls and checks its arities, as Redis does
//! before it runs anything.

mod client;
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
use super::{args, clients, member_set, sorted_set, store, value};

use args::{Args, Outcome, unknown_command, unknown_subcommand, wrong_arity};
use clients::Caller;
use store::Store;
use turbine::codec::Reply;

/// Runs a command whose arity (and its subcommand's) has been checked.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    /// A command on the keyspace.
    Keys(fn(&Store, &Args) -> Outcome),
    /// A command on the connections (`CLIENT`): the caller's entry and every open one.
    Clients(fn(&Caller<'_>, &Args) -> Outcome),
}

/// One subcommand of a command that has them (`CLIENT LIST`, `CONFIG GET`).
pub(crate) struct Sub {
    /// Its name as Redis writes it in replies and in `CLIENT LIST`: `client|list`.
    pub name: &'static str,
    /// How many arguments it takes, the command's name and its own included: exactly that
    /// many, or at least `-arity` when negative.
    pub arity: i64,
}

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
    /// Its subcommands, for a command that has them (then called with one, or alone if its
    /// arity allows); empty otherwise. Only those this server runs: another is unknown.
    pub subcommands: &'static [Sub],
    /// What runs it.
    pub run: Run,
}

impl Spec {
    /// Whether `argc` arguments (the name included) fit the arity.
    pub(crate) fn accepts(&self, argc: usize) -> bool {
        fits(self.arity, argc)
    }
}

/// Whether `argc` arguments fit `arity` (exactly, or at least `-arity` when negative).
fn fits(arity: i64, argc: usize) -> bool {
    let argc = argc as i64;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// `Spec` in one line, for a keyspace command without subcommands.
const fn spec(
    name: &'static str,
    arity: i64,
    flags: &'static [&'static str],
    keys: (i64, i64, i64),
    run: fn(&Store, &Args) -> Outcome,
) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys,
        subcommands: &[],
        run: Run::Keys(run),
    }
}

/// `Sub` in one line.
const fn sub(name: &'static str, arity: i64) -> Sub {
    Sub { name, arity }
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
    Spec {
        name: "client",
        arity: -2,
        flags: &[],
        keys: NO_KEYS,
        subcommands: &[
            sub("client|getname", 2),
            sub("client|help", 2),
            sub("client|id", 2),
            sub("client|info", 2),
            sub("client|list", -2),
            sub("client|setname", 3),
        ],
        run: Run::Clients(client::client),
    },
    Spec {
        subcommands: &[
            sub("command|count", 2),
            sub("command|docs", -2),
            sub("command|info", -2),
            sub("command|list", -2),
        ],
        ..spec(
            "command",
            -1,
            &["loading", "stale"],
            NO_KEYS,
            server::command,
        )
    },
    Spec {
        subcommands: &[sub("config|get", -3)],
        ..spec("config", -2, ADMIN, NO_KEYS, server::config)
    },
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
    position(name).map(|at| &COMMANDS[at])
}

/// Where the command called `name`, in any case, is in [`COMMANDS`].
fn position(name: &[u8]) -> Option<usize> {
    // Lowered byte by byte as the search compares: most probes differ at the first byte, so
    // this does less than lowering the name first and comparing slices (a `memcmp` call each).
    COMMANDS
        .binary_search_by(|spec| {
            spec.name
                .bytes()
                .cmp(name.iter().map(u8::to_ascii_lowercase))
        })
        .ok()
}

/// What `args` call, named as `CLIENT LIST` names it, and the command to run, or the error
/// reply that stops it before it runs: an unknown command (then called [`Called::NONE`], as
/// Redis forgets the last command), a wrong number of arguments, an unknown subcommand
/// (called `NONE` too), a subcommand's wrong number of arguments.
pub(crate) fn resolve(args: &Args) -> (Called, Result<&'static Spec, Reply>) {
    let Some(at) = position(args.name()) else {
        return (Called::NONE, Err(unknown_command(args)));
    };
    let spec = &COMMANDS[at];
    let called = Called::new(at, 0);
    if !spec.accepts(args.len()) {
        return (called, Err(wrong_arity(spec.name)));
    }
    if spec.subcommands.is_empty() || args.len() < 2 {
        return (called, Ok(spec));
    }
    let wanted = &args[1];
    let found = spec.subcommands.iter().position(|sub| {
        // A subcommand's own name follows its command's and the `|`.
        sub.name.as_bytes()[spec.name.len() + 1..].eq_ignore_ascii_case(wanted)
    });
    let Some(index) = found else {
        return (Called::NONE, Err(unknown_subcommand(spec.name, wanted)));
    };
    let sub = &spec.subcommands[index];
    let called = Called::new(at, index + 1);
    if !fits(sub.arity, args.len()) {
        return (called, Err(wrong_arity(sub.name)));
    }
    (called, Ok(spec))
}

/// A command as `CLIENT LIST` names it (`cmd=get`, `cmd=client|list`), in 32 bits, so that a
/// connection can record its latest in an atomic: 0 for none (`cmd=NULL`), else the
/// command's place in [`COMMANDS`] plus one, shifted left 8 bits, plus its subcommand's place
/// in [`Spec::subcommands`] plus one (0 for the command itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Called(u32);

impl Called {
    /// No command: none yet, or an unknown one.
    pub(crate) const NONE: Called = Called(0);

    /// The command at `at` in `COMMANDS`, or its subcommand `sub - 1` when `sub > 0`.
    fn new(at: usize, sub: usize) -> Called {
        debug_assert!(sub < 256, "a command has fewer than 255 subcommands");
        Called(((at as u32 + 1) << 8) | sub as u32)
    }

    /// The call a [`code`](Called::code) stands for.
    pub(crate) fn from_code(code: u32) -> Called {
        Called(code)
    }

    /// The 32 bits that stand for the call.
    pub(crate) fn code(self) -> u32 {
        self.0
    }

    /// Its name, as `CLIENT LIST`'s `cmd=` shows it: `get`, `client|list`, or `NULL`.
    pub(crate) fn name(self) -> &'static str {
        let (at, sub) = ((self.0 >> 8) as usize, (self.0 & 0xff) as usize);
        let Some(spec) = at.checked_sub(1).and_then(|at| COMMANDS.get(at)) else {
            return "NULL";
        };
        match sub.checked_sub(1) {
            None => spec.name,
            Some(sub) => spec.subcommands.get(sub).map_or("NULL", |sub| sub.name),
        }
    }
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
        assert!(lookup(b"a-name-longer-than-any-command").is_none());
        assert!(lookup(b"get\0").is_none() && lookup(b"\0get").is_none());
        assert!(lookup(b"").is_none());
    }

    /// Subcommands are named `<command>|<name>` after their own command, and sorted.
    #[test]
    fn subcommands_are_named_after_their_command() {
        for spec in COMMANDS {
            assert!(spec.subcommands.windows(2).all(|w| w[0].name < w[1].name));
            for sub in spec.subcommands {
                let (command, name) = sub.name.split_once('|').expect("a `|`");
                assert_eq!(command, spec.name);
                assert!(!name.is_empty() && name == name.to_ascii_lowercase());
                assert!(sub.arity >= 2 || sub.arity <= -2, "{}", sub.name);
            }
        }
    }

    /// Each way a command line can go names the call as Redis's `CLIENT LIST` does, and stops
    /// with Redis's error before running.
    #[test]
    fn resolve_names_calls_and_checks_arities() {
        let cases: &[(&[&str], &str, Option<&str>)] = &[
            (&["GET", "k"], "get", None),
            (
                &["get"],
                "get",
                Some("ERR wrong number of arguments for 'get' command"),
            ),
            (
                &["nosuch", "a"],
                "NULL",
                Some("ERR unknown command 'nosuch', with args beginning with: 'a' "),
            ),
            (&["COMMAND"], "command", None),
            (&["command", "Docs"], "command|docs", None),
            (&["CONFIG", "GET", "save"], "config|get", None),
            (
                &["CONFIG", "GET"],
                "config|get",
                Some("ERR wrong number of arguments for 'config|get' command"),
            ),
            (
                &["config", "set", "a", "b"],
                "NULL",
                Some("ERR unknown subcommand 'set'. Try CONFIG HELP."),
            ),
            (
                &["CLIENT"],
                "client",
                Some("ERR wrong number of arguments for 'client' command"),
            ),
            (&["client", "list"], "client|list", None),
            (
                &["CLIENT", "ID", "x"],
                "client|id",
                Some("ERR wrong number of arguments for 'client|id' command"),
            ),
            (
                &["client", "kill", "x"],
                "NULL",
                Some("ERR unknown subcommand 'kill'. Try CLIENT HELP."),
            ),
        ];
        for (words, name, error) in cases {
            let args = Args::new(words.iter());
            let (called, found) = resolve(&args);
            assert_eq!(called.name(), *name, "{words:?}");
            assert_eq!(Called::from_code(called.code()), called);
            match (found, error) {
                (Ok(spec), None) => assert!(name.starts_with(spec.name)),
                (Err(reply), Some(text)) => assert_eq!(reply, Reply::error(*text), "{words:?}"),
                (found, _) => panic!("{words:?}: {:?}", found.map(|s| s.name)),
            }
        }
        assert_eq!(Called::NONE.name(), "NULL");
        assert_eq!(Called::from_code(u32::MAX).name(), "NULL");
    }
}
