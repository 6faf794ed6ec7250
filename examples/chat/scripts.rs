//! The Redis commands of cluster mode: the keys, and the Lua scripts that make each change
//! atomic (a nick claimed only if free, a member's state stored and announced in one step).
//!
//! Keys (all with the `chat:` prefix):
//!
//! | key | type | holds | written by |
//! |---|---|---|---|
//! | `chat:nick:<nick in lower case>` | string, TTL | the stream that holds the nick | its holder: claimed, renewed, released |
//! | `chat:guests` | integer | the last `N` handed out as `guest<N>` | `INCRBY`, a block at a time |
//! | `chat:stream:<stream>` | hash, TTL | `seq` and `<member>` → `<nick> <room>` for each member of a stream | the stream, at each change; renewed |
//! | `chat:streams` | set | the streams that may have a hash | each stream, at its reset; the snapshot drops the expired |
//!
//! The scripts read and write keys they are not given in `KEYS` (the nick keys of a block of
//! guests, each stream's hash in a snapshot): fine on one Redis server, which is what
//! `CHAT_REDIS` names, but not on Redis Cluster.

use std::time::Duration;

use turbine::Command;

use super::wire::EVENTS;

/// Prefix of a nick's key.
pub(crate) const NICK_PREFIX: &str = "chat:nick:";
/// The counter of guest numbers.
pub(crate) const GUESTS: &str = "chat:guests";
/// Prefix of a stream's hash.
pub(crate) const STREAM_PREFIX: &str = "chat:stream:";
/// The set of streams.
pub(crate) const STREAMS: &str = "chat:streams";

/// Holds the nicks in `KEYS` for stream `ARGV[1]` for `ARGV[2]` ms: each that is free or
/// already this stream's is (re)claimed. Returns the 1-based indexes of the keys another
/// stream holds. One script claims a nick (`/nick`), renews them all (the heartbeat) and
/// checks them again after an outage.
const HOLD: &str = "\
local lost = {}
for i, key in ipairs(KEYS) do
  local holder = redis.call('GET', key)
  if holder == false or holder == ARGV[1] then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost";

/// Deletes nick `KEYS[1]` if stream `ARGV[1]` holds it.
const RELEASE: &str = "\
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0";

/// Stores one member's state in stream hash `KEYS[1]` (`ARGV[2]` → `ARGV[3]`, or deletes the
/// field when `ARGV[3]` is empty), sets `seq` to `ARGV[1]`, and publishes `ARGV[4]`, all at
/// once: a snapshot and the events never disagree. Returns -1, changing nothing, if the hash
/// is gone (expired, or Redis restarted): the stream must reset, or the hash would hold only
/// the members that changed since.
const UPDATE: &str = "\
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
return redis.call('PUBLISH', ARGV[5], ARGV[4])";

/// Replaces stream hash `KEYS[1]` with `seq` = `ARGV[1]` and the member/state pairs from
/// `ARGV[6]` on, gives it a TTL of `ARGV[2]` ms, adds stream `ARGV[3]` to set `KEYS[2]`, and
/// publishes `ARGV[4]` on channel `ARGV[5]`.
const RESET: &str = "\
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', ARGV[1])
for i = 6, #ARGV - 1, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return redis.call('PUBLISH', ARGV[5], ARGV[4])";

/// The heartbeat: renews stream hash `KEYS[1]` for `ARGV[1]` ms and publishes `ARGV[2]`.
/// Returns 0, publishing nothing, if the hash is gone: the stream must reset.
const ALIVE: &str = "\
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1";

/// Every stream in set `KEYS[1]` whose hash (`ARGV[1]` .. name) exists: a flat array of name,
/// then the hash as field/value pairs. Streams whose hash expired leave the set.
const SNAPSHOT: &str = "\
local out = {}
for _, stream in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local hash = redis.call('HGETALL', ARGV[1] .. stream)
  if #hash == 0 then
    redis.call('SREM', KEYS[1], stream)
  else
    out[#out + 1] = stream
    out[#out + 1] = hash
  end
end
return out";

/// Reserves `ARGV[1]` guest numbers from counter `KEYS[1]` (raised first to at least
/// `ARGV[4]`, the highest guest number the caller knows of, since a restarted Redis starts it
/// at 0 again) and claims `guest<N>` for each for stream `ARGV[2]` for `ARGV[3]` ms, where
/// no one holds it (a member may have named itself so). Returns the numbers claimed.
const RESERVE: &str = "\
local floor = tonumber(ARGV[4])
local now = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if now < floor then redis.call('SET', KEYS[1], floor) end
local last = redis.call('INCRBY', KEYS[1], ARGV[1])
local got = {}
for n = last - tonumber(ARGV[1]) + 1, last do
  if redis.call('SET', ARGV[5] .. 'guest' .. n, ARGV[2], 'NX', 'PX', ARGV[3]) then
    got[#got + 1] = n
  end
end
return got";

/// The key of `nick` (any case).
pub(crate) fn nick_key(nick: &str) -> String {
    format!("{NICK_PREFIX}{}", nick.to_ascii_lowercase())
}

/// Milliseconds of `ttl`, as Redis takes them.
fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

/// `EVAL script` with `keys`, then `args`.
fn eval<K: AsRef<[u8]>, A: AsRef<[u8]>>(
    script: &str,
    keys: impl ExactSizeIterator<Item = K>,
    args: impl IntoIterator<Item = A>,
) -> Command {
    let mut words: Vec<Vec<u8>> = vec![b"EVAL".to_vec(), script.as_bytes().to_vec()];
    words.push(keys.len().to_string().into_bytes());
    words.extend(keys.map(|k| k.as_ref().to_vec()));
    words.extend(args.into_iter().map(|a| a.as_ref().to_vec()));
    Command::from(words)
}

/// Claims or renews `nicks` (any case) for `stream`; the reply lists the indexes lost.
pub(crate) fn hold(nicks: &[String], stream: &str, ttl: Duration) -> Command {
    let keys: Vec<String> = nicks.iter().map(|n| nick_key(n)).collect();
    eval(HOLD, keys.iter(), [stream.to_string(), millis(ttl)])
}

/// Lets go of `nick` if `stream` holds it.
pub(crate) fn release(nick: &str, stream: &str) -> Command {
    eval(RELEASE, [nick_key(nick)].iter(), [stream])
}

/// Stores `member`'s `state` (`<nick> <room>`, or empty once it left) in `stream`'s hash with
/// event number `seq`, and publishes `payload`.
pub(crate) fn update(stream: &str, seq: u64, member: u64, state: &str, payload: &[u8]) -> Command {
    let key = format!("{STREAM_PREFIX}{stream}");
    let args: [Vec<u8>; 5] = [
        seq.to_string().into_bytes(),
        member.to_string().into_bytes(),
        state.as_bytes().to_vec(),
        payload.to_vec(),
        EVENTS.as_bytes().to_vec(),
    ];
    eval(UPDATE, [key].iter(), args)
}

/// Replaces `stream`'s hash with `members` (member and `<nick> <room>`) at event number
/// `seq`, and publishes `payload`.
pub(crate) fn reset(
    stream: &str,
    seq: u64,
    members: &[(u64, String)],
    ttl: Duration,
    payload: &[u8],
) -> Command {
    let keys = [format!("{STREAM_PREFIX}{stream}"), STREAMS.to_string()];
    let mut args: Vec<Vec<u8>> = vec![
        seq.to_string().into_bytes(),
        millis(ttl).into_bytes(),
        stream.as_bytes().to_vec(),
        payload.to_vec(),
        EVENTS.as_bytes().to_vec(),
    ];
    for (member, state) in members {
        args.push(member.to_string().into_bytes());
        args.push(state.as_bytes().to_vec());
    }
    eval(RESET, keys.iter(), args)
}

/// Renews `stream`'s hash and publishes its heartbeat `payload`.
pub(crate) fn alive(stream: &str, ttl: Duration, payload: &[u8]) -> Command {
    let key = format!("{STREAM_PREFIX}{stream}");
    eval(
        ALIVE,
        [key].iter(),
        [
            millis(ttl).into_bytes(),
            payload.to_vec(),
            EVENTS.as_bytes().to_vec(),
        ],
    )
}

/// Every live stream's hash.
pub(crate) fn snapshot() -> Command {
    eval(SNAPSHOT, [STREAMS].iter(), [STREAM_PREFIX])
}

/// Reserves `count` guest numbers above `floor` and claims their nicks for `stream`.
pub(crate) fn reserve(count: usize, stream: &str, ttl: Duration, floor: u64) -> Command {
    eval(
        RESERVE,
        [GUESTS].iter(),
        [
            count.to_string(),
            stream.to_string(),
            millis(ttl),
            floor.to_string(),
            NICK_PREFIX.to_string(),
        ],
    )
}

/// `PUBLISH channel payload`.
pub(crate) fn publish(channel: &str, payload: &[u8]) -> Command {
    Command::new([b"PUBLISH".as_slice(), channel.as_bytes(), payload])
}
