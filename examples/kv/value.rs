//! `Value`: what a key holds.

use std::collections::{HashMap, VecDeque};

use super::member_set::MemberSet;
use super::sorted_set::SortedSet;

/// The value of a key: one of Redis's five basic types.
///
/// Collections are boxed so that the common case, a string, keeps entries small. A collection
/// is never left empty: the command that removes its last element deletes the key, as in Redis.
#[expect(
    clippy::box_collection,
    reason = "a boxed collection keeps every entry, strings included, at 24 bytes of value"
)]
pub(crate) enum Value {
    /// Any bytes; `INCR` and friends read them as a decimal `i64`.
    Str(Vec<u8>),
    /// A list, pushed and popped at both ends.
    List(Box<VecDeque<Vec<u8>>>),
    /// A set of distinct members.
    Set(Box<MemberSet>),
    /// Fields and their values.
    Hash(Box<HashMap<Vec<u8>, Vec<u8>>>),
    /// Members ordered by score, then by their bytes.
    ZSet(Box<SortedSet>),
}

impl Value {
    /// The type's name, as `TYPE` reports it.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::Hash(_) => "hash",
            Value::ZSet(_) => "zset",
        }
    }
}
