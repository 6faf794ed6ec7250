//! `Member`'s side of cluster mode: the answers from Redis a member waits for (a guest nick
//! to be welcomed with, whether the nick it asked for is free), and the rename of a member
//! whose nick another instance took while the link was down. The link calls these on the
//! member's reactor, with the member's context.

use turbine::Context;

use super::super::cluster::Cluster;
use super::super::codec::line;
use super::super::node::{self, Guest};
use super::super::registry::NickTaken;
use super::{Member, Stage};

/// Redis's answer to a member's `/nick`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The nick is the member's now, on every instance.
    Won,
    /// Another instance holds it.
    Taken,
    /// No answer (the link dropped): the member takes it if no one known here has it, and it
    /// is checked again when the link returns.
    Unknown,
}

/// What became of a guest nick the link offered an arriving member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Welcome {
    /// The member is welcomed with it.
    Done,
    /// A member known here has that nick: offer another.
    Taken,
    /// The member is not arriving (welcomed already, or gone): the nick is unused.
    NotArriving,
}

/// What became of a member whose nick another instance took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renamed {
    /// Renamed to the guest nick offered.
    Done,
    /// A member known here has the guest nick offered: offer another.
    Taken,
    /// The member does not have the lost nick (any more): the guest nick is unused.
    NotHolder,
}
impl Member {
    /// Cluster mode: welcomes the member with a guest nick from the reactor's reserve, or one
    /// of its own while the link is down, or leaves it waiting for the link.
    pub(super) fn arrive_clustered(&mut self, ctx: &mut Context<'_, Self>, cluster: &Cluster) {
        let Stage::Arriving(handle) = &self.stage else {
            return;
        };
        let handle = handle.clone();
        loop {
            match node::take_guest(ctx, cluster, handle.id()) {
                Guest::Nick(nick) => {
                    if let Ok(lobby) = self.registry.arrive_as(handle.clone(), &nick) {
                        return self.arrived(ctx, handle, nick, lobby);
                    }
                }
                Guest::Unlinked => {
                    let (nick, lobby) = self.registry.arrive_unlinked(handle.clone());
                    return self.arrived(ctx, handle, nick, lobby);
                }
                Guest::Wait => return,
            }
        }
    }

    /// The link offers `nick`, a guest nick Redis holds for this instance, to the member
    /// waiting for one.
    pub(crate) fn welcome(&mut self, ctx: &mut Context<'_, Self>, nick: &str) -> Welcome {
        let Stage::Arriving(handle) = &self.stage else {
            return Welcome::NotArriving;
        };
        let handle = handle.clone();
        match self.registry.arrive_as(handle.clone(), nick) {
            Ok(lobby) => {
                self.arrived(ctx, handle, nick.to_string(), lobby);
                Welcome::Done
            }
            Err(NickTaken) => Welcome::Taken,
        }
    }

    /// The link dropped while the member waited for a guest nick: it gets one this instance
    /// picks alone.
    pub(crate) fn welcome_unlinked(&mut self, ctx: &mut Context<'_, Self>) {
        if let Stage::Arriving(handle) = &self.stage {
            let handle = handle.clone();
            let (nick, lobby) = self.registry.arrive_unlinked(handle.clone());
            self.arrived(ctx, handle, nick, lobby);
        }
    }

    /// Redis's answer to the member's claim of `nick`. Returns whether the member has the
    /// nick now (if not, and Redis granted it, the link lets it go again).
    pub(crate) fn on_claim(
        &mut self,
        ctx: &mut Context<'_, Self>,
        nick: &str,
        outcome: Claim,
    ) -> bool {
        let Stage::Claiming(_, asked) = &self.stage else {
            return false;
        };
        if asked != nick {
            return false;
        }
        let Stage::Claiming(me, asked) = std::mem::replace(&mut self.stage, Stage::Outside) else {
            unreachable!("checked above")
        };
        let kept = match outcome {
            Claim::Taken => {
                self.registry.withdraw(me.id, &asked);
                ctx.send(format!("! nick {asked} is taken"));
                self.stage = Stage::Here(me);
                false
            }
            Claim::Won | Claim::Unknown => {
                self.registry.confirm(me.id, &me.room, &me.nick, &asked);
                self.stage = Stage::Here(me);
                self.renamed(ctx, &asked);
                true
            }
        };
        self.drain(ctx);
        kept
    }

    /// Another instance holds `lost`, this member's nick (it was taken while the link was
    /// down): the member becomes `guest`, a guest nick Redis holds for this instance.
    pub(crate) fn lost_nick(
        &mut self,
        ctx: &mut Context<'_, Self>,
        lost: &str,
        guest: &str,
    ) -> Renamed {
        let (Stage::Here(me) | Stage::Claiming(me, _)) = &mut self.stage else {
            return Renamed::NotHolder;
        };
        if !me.nick.eq_ignore_ascii_case(lost) {
            return Renamed::NotHolder;
        }
        let Ok(room) = self.registry.rename(&me.handle, &me.room, &me.nick, guest) else {
            return Renamed::Taken;
        };
        let old = std::mem::replace(&mut me.nick, guest.to_string());
        ctx.send(format!(
            "* nick {old} was taken on another instance while the cluster link was down"
        ));
        ctx.send(format!("* you are {guest}"));
        room.send(
            Some(me.id),
            &line(&mut self.wire, &["* ", &old, " is now ", guest]),
        );
        let (Stage::Here(me) | Stage::Claiming(me, _)) = &self.stage else {
            return Renamed::Done;
        };
        self.announce(ctx, me);
        Renamed::Done
    }
}
