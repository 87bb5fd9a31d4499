//! A ticket's life as an explicit state machine. [`transition`] is pure, so
//! every (state, event) pair is unit-tested below; the services call it first
//! and refuse anything it refuses, before touching the data. Who may fire an
//! event (the owner steward, any steward, the requester, a base admin) and
//! time windows (reopen) are checked by the services on top of this.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// With a steward, not yet accepted (首问负责: the enterprise's own steward first).
    Open,
    /// In the base's pool: no owner, any steward may grab it (抢单).
    InPool,
    /// A steward is working on it.
    Accepted,
    /// The steward says it is done; the requester rates or reopens.
    Resolved,
    /// Rated by the requester.
    Closed,
    /// Withdrawn by the requester.
    Withdrawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The owner steward takes it on (first response).
    Accept,
    /// The owner steward writes to the requester.
    Reply,
    /// The requester adds information.
    Comment,
    /// 转派: to another steward, with a note (also a base admin dispatching from the pool).
    HandOn,
    /// Back to the pool, with a note.
    Release,
    /// 抢单: a steward takes a ticket from the pool.
    Grab,
    Resolve,
    /// The requester rates the resolution (1–5), which closes the ticket.
    Rate,
    /// The requester is not satisfied (within the reopen window).
    Reopen,
    Withdraw,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Open,
        State::InPool,
        State::Accepted,
        State::Resolved,
        State::Closed,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::InPool => "in_pool",
            State::Accepted => "accepted",
            State::Resolved => "resolved",
            State::Closed => "closed",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Open => "待受理",
            State::InPool => "待抢单",
            State::Accepted => "处理中",
            State::Resolved => "已解决待评价",
            State::Closed => "已评价关闭",
            State::Withdrawn => "已撤回",
        }
    }

    /// Still someone's work: the resolution clock runs.
    pub fn live(self) -> bool {
        matches!(self, State::Open | State::InPool | State::Accepted)
    }
}

impl Event {
    pub const ALL: [Event; 10] = [
        Event::Accept,
        Event::Reply,
        Event::Comment,
        Event::HandOn,
        Event::Release,
        Event::Grab,
        Event::Resolve,
        Event::Rate,
        Event::Reopen,
        Event::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Accept => "accept",
            Event::Reply => "reply",
            Event::Comment => "comment",
            Event::HandOn => "hand_on",
            Event::Release => "release",
            Event::Grab => "grab",
            Event::Resolve => "resolve",
            Event::Rate => "rate",
            Event::Reopen => "reopen",
            Event::Withdraw => "withdraw",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Event::Accept => "受理",
            Event::Reply => "答复",
            Event::Comment => "补充说明",
            Event::HandOn => "转派",
            Event::Release => "退回工单池",
            Event::Grab => "抢单",
            Event::Resolve => "办结",
            Event::Rate => "评价",
            Event::Reopen => "重新打开",
            Event::Withdraw => "撤回",
        }
    }
}

/// A refused transition: nothing changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("工单当前状态为“{}”，不能{}", from.label(), event.label())]
pub struct IllegalTransition {
    pub from: State,
    pub event: Event,
}

impl IllegalTransition {
    pub const CODE: &'static str = "ticket.illegal_transition";
}

/// The whole machine.
pub fn transition(from: State, event: Event) -> Result<State, IllegalTransition> {
    use Event as E;
    use State as S;
    let to = match (from, event) {
        (S::Open, E::Accept) => S::Accepted,
        (S::Accepted, E::Reply) => S::Accepted,
        (S::Open | S::InPool | S::Accepted, E::Comment) => from,
        // 转派 from a steward's hands, or a base admin dispatching from the pool:
        // the new steward must accept it again.
        (S::Open | S::Accepted | S::InPool, E::HandOn) => S::Open,
        (S::Open | S::Accepted, E::Release) => S::InPool,
        (S::InPool, E::Grab) => S::Accepted,
        (S::Accepted, E::Resolve) => S::Resolved,
        (S::Resolved, E::Rate) => S::Closed,
        (S::Resolved | S::Closed, E::Reopen) => S::Accepted,
        (S::Open | S::InPool | S::Accepted, E::Withdraw) => S::Withdrawn,
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Event as E;
    use State as S;

    /// The legal pairs, written out once more by hand as the specification.
    const LEGAL: &[(State, Event, State)] = &[
        (S::Open, E::Accept, S::Accepted),
        (S::Accepted, E::Reply, S::Accepted),
        (S::Open, E::Comment, S::Open),
        (S::InPool, E::Comment, S::InPool),
        (S::Accepted, E::Comment, S::Accepted),
        (S::Open, E::HandOn, S::Open),
        (S::Accepted, E::HandOn, S::Open),
        (S::InPool, E::HandOn, S::Open),
        (S::Open, E::Release, S::InPool),
        (S::Accepted, E::Release, S::InPool),
        (S::InPool, E::Grab, S::Accepted),
        (S::Accepted, E::Resolve, S::Resolved),
        (S::Resolved, E::Rate, S::Closed),
        (S::Resolved, E::Reopen, S::Accepted),
        (S::Closed, E::Reopen, S::Accepted),
        (S::Open, E::Withdraw, S::Withdrawn),
        (S::InPool, E::Withdraw, S::Withdrawn),
        (S::Accepted, E::Withdraw, S::Withdrawn),
    ];

    #[test]
    fn every_pair_is_legal_exactly_when_specified() {
        let mut legal = 0;
        for from in State::ALL {
            for event in Event::ALL {
                let expected = LEGAL.iter().find(|(f, e, _)| *f == from && *e == event);
                match (transition(from, event), expected) {
                    (Ok(to), Some((_, _, want))) => {
                        assert_eq!(to, *want, "{from:?} + {event:?}");
                        legal += 1;
                    }
                    (Err(e), None) => {
                        assert_eq!(e, IllegalTransition { from, event });
                        let msg = e.to_string();
                        assert!(msg.contains(from.label()) && msg.contains(event.label()), "{msg}");
                    }
                    (got, want) => panic!("{from:?} + {event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
        assert_eq!(State::ALL.len() * Event::ALL.len(), 60);
    }

    #[test]
    fn a_grabbed_ticket_cannot_be_grabbed_again() {
        let taken = transition(S::InPool, E::Grab).unwrap();
        let e = transition(taken, E::Grab).unwrap_err();
        assert_eq!(e.to_string(), "工单当前状态为“处理中”，不能抢单");
    }

    #[test]
    fn rating_needs_a_resolution() {
        for s in [S::Open, S::InPool, S::Accepted, S::Closed, S::Withdrawn] {
            assert!(transition(s, E::Rate).is_err(), "{s:?}");
        }
    }

    #[test]
    fn withdrawn_is_terminal() {
        assert!(Event::ALL.iter().all(|e| transition(S::Withdrawn, *e).is_err()));
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
    }
}
