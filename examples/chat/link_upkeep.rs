//! `Link`'s upkeep of its reactor's entries: holding its members' nicks (the check after a
//! connect, the renewals), resetting its stream, the reserve of guest nicks and the members
//! waiting for one, and renaming members whose nick another instance took.

use turbine::Context;

use super::super::cluster::Phase;
use super::super::member::{Member, Renamed, Welcome};
use super::super::mirror::guest_number;
use super::super::node::{GUEST_BLOCK, Node};
use super::super::scripts;
use super::super::wire::{Event, Place};
use super::{HOLD_CHUNK, Link, Pending, Reserve, Stage};

impl Link {
    /// Holds (claims again, or renews) every nick of this reactor's members and of its
    /// reserve. Returns how many `HOLD`s went out.
    pub(super) fn hold_all(&mut self, ctx: &mut Context<'_, Self>) -> usize {
        let mut nicks: Vec<String> = (self.cluster.registry().seats_on(self.reactor))
            .into_iter()
            .map(|(_, nick, _)| nick)
            .collect();
        let pool = ctx.reactor_local::<Node>().pool();
        nicks.extend(pool.iter().map(|n| format!("guest{n}")));
        let chunks: Vec<Vec<String>> = nicks.chunks(HOLD_CHUNK).map(<[_]>::to_vec).collect();
        let count = chunks.len();
        for chunk in chunks {
            let hold = scripts::hold(&chunk, &self.stream, self.ttl());
            self.send(ctx, hold, Pending::Hold(chunk));
        }
        count
    }

    /// Replaces this reactor's stream, in Redis and in every mirror, with its members now.
    pub(super) fn reset(&mut self, ctx: &mut Context<'_, Self>) {
        let stream = self.stream.clone();
        let seq = ctx.reactor_local::<Node>().next_seq();
        self.reset_at = seq;
        let seats = self.cluster.registry().seats_on(self.reactor);
        let members: Vec<(u64, Place<'_>)> = (seats.iter())
            .map(|(id, nick, room)| (id.serial(), Place { nick, room }))
            .collect();
        let states: Vec<(u64, String)> = (members.iter())
            .map(|(member, place)| (*member, place.encode()))
            .collect();
        let event = Event::Reset {
            stream: &stream,
            seq,
            members,
        };
        let reset = scripts::reset(&stream, seq, &states, self.ttl(), &event.encode());
        self.send(ctx, reset, Pending::Nobody);
    }

    /// Asks Redis for more guest numbers when the reserve runs low, members wait for one, or
    /// renamed members need them; one reservation at a time.
    pub(super) fn top_up(&mut self, ctx: &mut Context<'_, Self>) {
        let node = ctx.reactor_local::<Node>();
        let needed = node.arriving().len() + self.lost.len();
        if self.reserve != Reserve::Idle || node.pool().len() >= GUEST_BLOCK / 2 + needed {
            return;
        }
        let count = GUEST_BLOCK + needed;
        let floor = self.cluster.registry().guest_high();
        let reserve = scripts::reserve(count, &self.stream, self.ttl(), floor);
        self.reserve = Reserve::Asked;
        self.send(ctx, reserve, Pending::Reserve);
    }

    /// Welcomes the members waiting for a guest nick, while the reserve lasts.
    pub(super) fn serve_arriving(&mut self, ctx: &mut Context<'_, Self>) {
        loop {
            let node = ctx.reactor_local::<Node>();
            let Some(&member) = node.arriving().front() else {
                return;
            };
            let Some(n) = node.pool().pop_front() else {
                return self.top_up(ctx);
            };
            let nick = format!("guest{n}");
            match ctx.with_conn::<Member, _>(member, |m, m_ctx| m.welcome(m_ctx, &nick)) {
                Some(Welcome::Done) => {
                    ctx.reactor_local::<Node>().arriving().pop_front();
                }
                // Someone known here has that nick (named so by hand): try the next number.
                Some(Welcome::Taken) => {}
                // Gone, or welcomed another way: the number is still ours to hand out.
                Some(Welcome::NotArriving) | None => {
                    let node = ctx.reactor_local::<Node>();
                    node.arriving().pop_front();
                    node.pool().push_front(n);
                }
            }
        }
    }

    /// Renames the members whose nick another instance holds, to fresh guest nicks, while
    /// the reserve lasts.
    pub(super) fn rename_lost(&mut self, ctx: &mut Context<'_, Self>) {
        while let Some(nick) = self.lost.front().cloned() {
            if let Some(n) = guest_number(&nick.to_ascii_lowercase()) {
                ctx.reactor_local::<Node>().pool().retain(|&p| p != n);
            }
            let holder =
                (self.cluster.registry().find(&nick)).filter(|h| h.id().reactor() == self.reactor);
            let Some(holder) = holder else {
                self.lost.pop_front(); // nobody here has it any more
                continue;
            };
            let Some(n) = ctx.reactor_local::<Node>().pool().pop_front() else {
                return self.top_up(ctx);
            };
            let guest = format!("guest{n}");
            let renamed = ctx
                .with_conn::<Member, _>(holder.id(), |m, m_ctx| m.lost_nick(m_ctx, &nick, &guest));
            match renamed {
                Some(Renamed::Done) => {
                    self.lost.pop_front();
                }
                Some(Renamed::Taken) => {} // the next number, then
                Some(Renamed::NotHolder) | None => {
                    ctx.reactor_local::<Node>().pool().push_front(n);
                    self.lost.pop_front();
                }
            }
        }
    }

    /// Ends the check once every `HOLD` is answered and every member who lost its nick is
    /// renamed: resets the stream and counts as up.
    pub(super) fn finish_check(&mut self, ctx: &mut Context<'_, Self>) {
        if self.stage != (Stage::Checking { holds: 0 }) {
            return;
        }
        self.rename_lost(ctx);
        if !self.lost.is_empty() {
            return; // waiting for guest numbers
        }
        self.reset(ctx);
        self.stage = Stage::Up;
        ctx.reactor_local::<Node>().go_up();
        self.cluster.set_link(self.reactor, Phase::Up);
        self.serve_arriving(ctx);
    }
}
