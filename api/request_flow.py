"""The release request's state machine: one transition table, pure functions, no I/O.

States: ``submitted`` (waiting for the committee) ⇄ ``changes_requested`` (waiting for the requester),
then ``approved`` or ``rejected`` (final). Stewards review; the requester resubmits.

Why a table and not ``if``s spread over the service: the review rules are the product's promise to the
committee (a quorum of distinct stewards, never the requester, a comment on every decision), so they
are written once, here, where a table-driven test can walk every (state, action) pair and every refusal
with its exact error code. The service only loads the facts (:class:`Facts`) and stores the outcome.

Quorum counts approvals of the *current round*: a resubmission after "changes requested" is a changed
request, so approvals given to the earlier version do not carry over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

RequestState = Literal["submitted", "changes_requested", "approved", "rejected"]
Action = Literal["approve", "reject", "request_changes", "resubmit"]
REQUEST_STATES: tuple[RequestState, ...] = get_args(RequestState)
ACTIONS: tuple[Action, ...] = get_args(Action)
FINAL_STATES: frozenset[RequestState] = frozenset({"approved", "rejected"})
#: Actions that are a committee member's decision (the others are the requester's).
REVIEW_ACTIONS: frozenset[Action] = frozenset({"approve", "reject", "request_changes"})
MAX_COMMENT = 4000

#: (state, action) → next state. ``approve`` from ``submitted`` goes to ``approved`` only once the
#: quorum is reached (:func:`decide`); until then the request stays ``submitted``.
TRANSITIONS: dict[tuple[RequestState, Action], RequestState] = {
    ("submitted", "approve"): "approved",
    ("submitted", "reject"): "rejected",
    ("submitted", "request_changes"): "changes_requested",
    ("changes_requested", "resubmit"): "submitted",
}


class TransitionError(Exception):
    """A step the rules refuse: an HTTP status, a stable code and a message for a person."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about one request at the moment of a step."""

    state: RequestState
    requester: str
    #: distinct steward keys that approved in the current round
    approvals: frozenset[str]
    quorum: int


@dataclass(frozen=True)
class Outcome:
    state: RequestState
    #: approvals of the current round after this step (the quorum's progress)
    approvals: int
    #: True when this step opened a new round (a resubmission)
    new_round: bool = False


def _refusal(state: RequestState, action: Action) -> TransitionError:
    if state in FINAL_STATES:
        return TransitionError(
            409, "request_closed", f"This request is {state} already; a decided request does not change."
        )
    if state == "changes_requested":
        return TransitionError(
            409,
            "awaiting_changes",
            "The committee asked for changes: the requester resubmits the request before it is reviewed "
            "again.",
        )
    return TransitionError(
        409,
        "awaiting_review",
        "This request is waiting for the committee's review; it can be resubmitted only after changes "
        "are requested.",
    )


def decide(facts: Facts, action: Action, actor: str, comment: str) -> Outcome:
    """The state after ``actor`` does ``action`` with ``comment``, or :class:`TransitionError`.

    Checked in this order, so that each refusal names the first thing to fix: the comment, who acts,
    whether the state allows the action, a second approval by the same steward.
    """
    if action not in ACTIONS:
        raise TransitionError(422, "validation_error", f"Unknown action; use one of {', '.join(ACTIONS)}.")
    if facts.quorum < 1:
        raise ValueError("the quorum must be at least 1")
    text = comment.strip()
    if not text:
        raise TransitionError(
            422, "comment_required", "Every step carries a comment: say why (it goes to the requester)."
        )
    if len(text) > MAX_COMMENT:
        raise TransitionError(
            422, "comment_too_long", f"A comment holds at most {MAX_COMMENT} characters; shorten it."
        )
    if action in REVIEW_ACTIONS and actor == facts.requester:
        raise TransitionError(
            403, "self_review", "You made this request; other stewards of the committee review it."
        )
    if action == "resubmit" and actor != facts.requester:
        raise TransitionError(403, "not_requester", "Only the requester resubmits a request.")
    nxt = TRANSITIONS.get((facts.state, action))
    if nxt is None:
        raise _refusal(facts.state, action)
    if action == "approve":
        if actor in facts.approvals:
            raise TransitionError(
                409,
                "already_reviewed",
                "You approved this request already; the quorum needs approvals of other stewards.",
            )
        n = len(facts.approvals) + 1
        return Outcome(state="approved" if n >= facts.quorum else "submitted", approvals=n)
    if action == "resubmit":
        return Outcome(state=nxt, approvals=0, new_round=True)
    return Outcome(state=nxt, approvals=len(facts.approvals))
