//! The application's life as an explicit state machine. [`transition`] is
//! pure, so every pair of (state, event) is unit-tested below; the services
//! call it first and refuse anything it refuses, before touching the data.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Draft,
    Submitted,
    ReturnedForAmendment,
    Resubmitted,
    Accepted,
    Rejected,
    UnderExpertReview,
    Scored,
    InPublicity,
    ObjectionOpen,
    ObjectionResolved,
    Approved,
    Paid,
    Evaluated,
    Withdrawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Submit,
    Withdraw,
    Accept,
    ReturnForAmendment,
    Resubmit,
    Reject,
    DrawExperts,
    CompleteScoring,
    Publish,
    LodgeObjection,
    DismissObjection,
    UpholdObjection,
    Approve,
    Pay,
    Evaluate,
}

impl State {
    pub const ALL: [State; 15] = [
        State::Draft,
        State::Submitted,
        State::ReturnedForAmendment,
        State::Resubmitted,
        State::Accepted,
        State::Rejected,
        State::UnderExpertReview,
        State::Scored,
        State::InPublicity,
        State::ObjectionOpen,
        State::ObjectionResolved,
        State::Approved,
        State::Paid,
        State::Evaluated,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Submitted => "submitted",
            State::ReturnedForAmendment => "returned_for_amendment",
            State::Resubmitted => "resubmitted",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::UnderExpertReview => "under_expert_review",
            State::Scored => "scored",
            State::InPublicity => "in_publicity",
            State::ObjectionOpen => "objection_open",
            State::ObjectionResolved => "objection_resolved",
            State::Approved => "approved",
            State::Paid => "paid",
            State::Evaluated => "evaluated",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Draft => "草稿",
            State::Submitted => "已提交待受理",
            State::ReturnedForAmendment => "退回补正",
            State::Resubmitted => "补正后重新提交",
            State::Accepted => "预审通过",
            State::Rejected => "未通过",
            State::UnderExpertReview => "专家评审中",
            State::Scored => "评审完成",
            State::InPublicity => "公示中",
            State::ObjectionOpen => "公示异议待处理",
            State::ObjectionResolved => "异议已处理",
            State::Approved => "已批准",
            State::Paid => "已兑现",
            State::Evaluated => "已完成绩效评价",
            State::Withdrawn => "已撤回",
        }
    }

    /// Approved, paid or evaluated: counts as passed in the programme report.
    pub fn passed(self) -> bool {
        matches!(self, State::Approved | State::Paid | State::Evaluated)
    }
}

impl Event {
    pub const ALL: [Event; 15] = [
        Event::Submit,
        Event::Withdraw,
        Event::Accept,
        Event::ReturnForAmendment,
        Event::Resubmit,
        Event::Reject,
        Event::DrawExperts,
        Event::CompleteScoring,
        Event::Publish,
        Event::LodgeObjection,
        Event::DismissObjection,
        Event::UpholdObjection,
        Event::Approve,
        Event::Pay,
        Event::Evaluate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Submit => "submit",
            Event::Withdraw => "withdraw",
            Event::Accept => "accept",
            Event::ReturnForAmendment => "return_for_amendment",
            Event::Resubmit => "resubmit",
            Event::Reject => "reject",
            Event::DrawExperts => "draw_experts",
            Event::CompleteScoring => "complete_scoring",
            Event::Publish => "publish",
            Event::LodgeObjection => "lodge_objection",
            Event::DismissObjection => "dismiss_objection",
            Event::UpholdObjection => "uphold_objection",
            Event::Approve => "approve",
            Event::Pay => "pay",
            Event::Evaluate => "evaluate",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Event::Submit => "提交申报",
            Event::Withdraw => "撤回",
            Event::Accept => "预审通过",
            Event::ReturnForAmendment => "退回补正",
            Event::Resubmit => "补正后提交",
            Event::Reject => "不予通过",
            Event::DrawExperts => "抽取评审专家",
            Event::CompleteScoring => "完成专家评分",
            Event::Publish => "公示",
            Event::LodgeObjection => "提出异议",
            Event::DismissObjection => "驳回异议",
            Event::UpholdObjection => "异议成立",
            Event::Approve => "批准",
            Event::Pay => "兑现拨付",
            Event::Evaluate => "绩效评价",
        }
    }
}

/// A refused transition: nothing changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("申报当前状态为“{}”，不能{}", from.label(), event.label())]
pub struct IllegalTransition {
    pub from: State,
    pub event: Event,
}

impl IllegalTransition {
    pub const CODE: &'static str = "application.illegal_transition";
}

/// The whole machine. Review-mode rules (核准制 has no expert review) are
/// checked by the services on top of this, since they depend on the programme.
pub fn transition(from: State, event: Event) -> Result<State, IllegalTransition> {
    use Event as E;
    use State as S;
    let to = match (from, event) {
        (S::Draft, E::Submit) => S::Submitted,
        (S::Draft | S::Submitted | S::ReturnedForAmendment, E::Withdraw) => S::Withdrawn,
        (S::Submitted | S::Resubmitted, E::Accept) => S::Accepted,
        (S::Submitted | S::Resubmitted, E::ReturnForAmendment) => S::ReturnedForAmendment,
        (S::ReturnedForAmendment, E::Resubmit) => S::Resubmitted,
        // Refused at pre-review, or below the funding line after scoring.
        (S::Submitted | S::Resubmitted | S::Scored, E::Reject) => S::Rejected,
        (S::Accepted, E::DrawExperts) => S::UnderExpertReview,
        (S::UnderExpertReview, E::CompleteScoring) => S::Scored,
        (S::Accepted | S::Scored, E::Publish) => S::InPublicity,
        // A second objection while one is open keeps the case open.
        (S::InPublicity | S::ObjectionResolved | S::ObjectionOpen, E::LodgeObjection) => S::ObjectionOpen,
        (S::ObjectionOpen, E::DismissObjection) => S::ObjectionResolved,
        (S::ObjectionOpen, E::UpholdObjection) => S::Rejected,
        (S::InPublicity | S::ObjectionResolved, E::Approve) => S::Approved,
        (S::Approved, E::Pay) => S::Paid,
        (S::Paid, E::Evaluate) => S::Evaluated,
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
        (S::Draft, E::Submit, S::Submitted),
        (S::Draft, E::Withdraw, S::Withdrawn),
        (S::Submitted, E::Withdraw, S::Withdrawn),
        (S::ReturnedForAmendment, E::Withdraw, S::Withdrawn),
        (S::Submitted, E::Accept, S::Accepted),
        (S::Resubmitted, E::Accept, S::Accepted),
        (S::Submitted, E::ReturnForAmendment, S::ReturnedForAmendment),
        (S::Resubmitted, E::ReturnForAmendment, S::ReturnedForAmendment),
        (S::ReturnedForAmendment, E::Resubmit, S::Resubmitted),
        (S::Submitted, E::Reject, S::Rejected),
        (S::Resubmitted, E::Reject, S::Rejected),
        (S::Scored, E::Reject, S::Rejected),
        (S::Accepted, E::DrawExperts, S::UnderExpertReview),
        (S::UnderExpertReview, E::CompleteScoring, S::Scored),
        (S::Accepted, E::Publish, S::InPublicity),
        (S::Scored, E::Publish, S::InPublicity),
        (S::InPublicity, E::LodgeObjection, S::ObjectionOpen),
        (S::ObjectionResolved, E::LodgeObjection, S::ObjectionOpen),
        (S::ObjectionOpen, E::LodgeObjection, S::ObjectionOpen),
        (S::ObjectionOpen, E::DismissObjection, S::ObjectionResolved),
        (S::ObjectionOpen, E::UpholdObjection, S::Rejected),
        (S::InPublicity, E::Approve, S::Approved),
        (S::ObjectionResolved, E::Approve, S::Approved),
        (S::Approved, E::Pay, S::Paid),
        (S::Paid, E::Evaluate, S::Evaluated),
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
        assert_eq!(State::ALL.len() * Event::ALL.len(), 225);
    }

    #[test]
    fn approving_with_an_open_objection_is_refused() {
        let e = transition(S::ObjectionOpen, E::Approve).unwrap_err();
        assert_eq!(e.to_string(), "申报当前状态为“公示异议待处理”，不能批准");
    }

    #[test]
    fn terminal_states_accept_nothing() {
        for s in [S::Rejected, S::Withdrawn, S::Evaluated] {
            assert!(Event::ALL.iter().all(|e| transition(s, *e).is_err()), "{s:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
