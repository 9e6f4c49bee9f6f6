"""Scoring: person-set metrics, the EHRSQL-style reliability score, spec-field accuracy, aggregation.

Pure functions over plain data (no database), so that every figure the report prints can be checked
by hand on a tiny case (``tests/test_eval_runner.py``). Conventions, chosen so that *no answer* never
scores better than a right answer:

* execution accuracy: exact person-set match, over all answerable questions (no answer = miss);
* Jaccard |P∩G|/|P∪G|, precision |P∩G|/|P|, recall |P∩G|/|G|, averaged over all answerable
  questions; a question the engine did not answer counts P = ∅, whose precision is 0 (not 1);
* reliability (EHRSQL): +1 for a right answer or for abstaining (refused/clarify) where the record
  must be refused or clarified, 0 for abstaining on an answerable question (or an engine error),
  −10 for a wrong answer, including any answer to a question that must be refused. The score is
  100 × mean points, as EHRSQL reports RS(10);
* refusal accuracy: the engine's status equals the expected one ('refused' or 'clarify');
  the abstention rate (either kind) is what the reliability score credits;
* spec-field accuracy: share of the gold spec's fields (structure, not concepts) the parser got right;
* silent wrong answers (``wrong_ok``): the engine said ``ok`` and was wrong — a wrong person set, or an
  answer where it had to refuse or ask back. The worst outcome (a researcher cannot tell), so it is
  counted on its own, as a share of the answerable questions too, and listed first;
* failure classes (:func:`failure_class`) name what went wrong without the sentence, which is all a
  blind split may show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

POINTS_RIGHT = 1
POINTS_ABSTAIN = 0
POINTS_WRONG = -10
ABSTAIN = ("refused", "clarify")

Status = Literal["ok", "clarify", "refused", "error"]
FailureClass = Literal[
    "wrong_ok",  # answered ok with the wrong persons
    "answered_unanswerable",  # answered ok where it had to refuse or ask back
    "false_clarify",  # asked back on an answerable question
    "false_refusal",  # refused an answerable question
    "wrong_abstention",  # refused where it had to ask back, or the other way round
    "error",  # the engine failed
]
FAILURE_CLASSES: tuple[FailureClass, ...] = (
    "wrong_ok",
    "answered_unanswerable",
    "false_clarify",
    "false_refusal",
    "wrong_abstention",
    "error",
)


# ---------------------------------------------------------------- person sets
def jaccard(produced: set[int], gold: set[int]) -> float:
    """|P∩G| / |P∪G|; two empty sets agree (1.0)."""
    union = produced | gold
    return len(produced & gold) / len(union) if union else 1.0


def precision(produced: set[int], gold: set[int]) -> float:
    """|P∩G| / |P|; 0.0 when nothing was produced (no answer is not a precise answer)."""
    return len(produced & gold) / len(produced) if produced else 0.0


def recall(produced: set[int], gold: set[int]) -> float:
    """|P∩G| / |G|; 1.0 for an empty gold set (the gold set never has one: a test forbids it)."""
    return len(produced & gold) / len(gold) if gold else 1.0


def reliability_points(expected_status: str, status: str, exact: bool) -> int:
    """EHRSQL-style points for one question (see the module docstring)."""
    if expected_status == "ok":
        if status == "ok":
            return POINTS_RIGHT if exact else POINTS_WRONG
        return POINTS_ABSTAIN
    if status in ABSTAIN:
        return POINTS_RIGHT
    return POINTS_WRONG if status == "ok" else POINTS_ABSTAIN


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# ---------------------------------------------------------------- spec fields
def normalise_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Make a spec (``CohortSpec.model_dump(mode='json')``) or a gold spec comparable field by field.

    Criterion labels are free text, so anchors become positions ('index' or '#k', k from 1);
    occurrences become 'absent' (exactly/at most 0) or 'type:count'; lists become sorted.
    """
    out = {k: v for k, v in spec.items() if k in ("index", "demographics", "criteria", "imaging")}
    criteria = out.get("criteria") or []
    labels = {c.get("label"): f"#{n}" for n, c in enumerate(criteria, start=1) if isinstance(c, dict)}
    if "index" in out and isinstance(out["index"], dict):
        out["index"] = _normalise_filter(out["index"])
    if "demographics" in out and isinstance(out["demographics"], dict):
        d = dict(out["demographics"])
        if "sexes" in d:
            d["sexes"] = sorted(d["sexes"] or [])
        out["demographics"] = d
    norm_criteria = []
    for c in criteria:
        c = _normalise_filter(c)
        c.pop("label", None)
        w = c.get("window")
        if (
            isinstance(w, dict)
            and w.get("anchor") not in (None, "index")
            and not str(w["anchor"]).startswith("#")
        ):
            c["window"] = {**w, "anchor": labels.get(w["anchor"], w["anchor"])}
        occ = c.get("occurrence")
        if isinstance(occ, dict):
            c["occurrence"] = _occurrence(occ.get("type", "at_least"), int(occ.get("count", 1)))
        norm_criteria.append(c)
    if "criteria" in out:
        out["criteria"] = norm_criteria
    return out


def _occurrence(kind: str, count: int) -> str:
    return "absent" if count == 0 and kind in ("exactly", "at_most") else f"{kind}:{count}"


def _normalise_filter(f: dict[str, Any]) -> dict[str, Any]:
    f = dict(f)
    f.pop("concepts", None)  # concepts are judged by the person sets, not field by field
    if f.get("visit_concept_ids") is not None:
        f["visit_concept_ids"] = sorted(f["visit_concept_ids"])
    img = f.get("imaging")
    if isinstance(img, dict):
        f["imaging"] = {k: sorted(str(x).upper() for x in (v or [])) for k, v in img.items()}
    return f


def _leaves(node: Any, path: tuple[str | int, ...] = ()) -> Iterable[tuple[tuple[str | int, ...], Any]]:
    """(path, value) for every leaf of a gold spec; the criteria list contributes its length too."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list) and path and path[-1] == "criteria":
        yield (*path, "length"), len(node)
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))
    else:
        yield path, node


def _lookup(node: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        if step == "length" and isinstance(node, list):
            return len(node)
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
    return node


_MISSING = object()


def path_str(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def spec_field_diff(gold_spec: dict[str, Any], produced: dict[str, Any] | None) -> tuple[int, int, list[str]]:
    """(fields right, fields compared, wrong field paths) of a produced spec against a partial gold spec.

    Only the fields the gold spec states are compared; a missing produced spec gets every field wrong.
    """
    gold = normalise_spec(gold_spec)
    prod = normalise_spec(produced) if produced is not None else None
    right, total, wrong = 0, 0, []
    for path, want in _leaves(gold):
        total += 1
        got = _lookup(prod, path) if prod is not None else _MISSING
        if got is not _MISSING and _same(got, want):
            right += 1
        else:
            wrong.append(path_str(path))
    return right, total, wrong


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float | int) and isinstance(got, float | int) and not isinstance(want, bool):
        return float(got) == float(want)
    return got == want


# ---------------------------------------------------------------- one question
class QuestionOutcome(BaseModel):
    """What happened to one gold question, with everything the report and the failure list need."""

    id: str
    question: str
    language: str
    mart: str
    split: str
    tags: list[str]
    expected_status: str
    status: Status
    message: str = ""
    readback: str | None = None
    latency_ms: float = 0.0
    gold_size: int | None = None
    produced_size: int | None = None
    missing: int | None = Field(default=None, description="|gold − produced|")
    extra: int | None = Field(default=None, description="|produced − gold|")
    missing_examples: list[int] = Field(
        default_factory=list, description="Internal person_ids (operator only)."
    )
    extra_examples: list[int] = Field(
        default_factory=list, description="Internal person_ids (operator only)."
    )
    exact: bool = False
    jaccard: float | None = None
    precision: float | None = None
    recall: float | None = None
    points: int = 0
    spec_right: int = 0
    spec_total: int = 0
    spec_wrong: list[str] = Field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return self.expected_status == "ok"

    @property
    def correct(self) -> bool:
        """Right answer (exact set) or the expected kind of abstention."""
        return self.exact if self.answerable else self.status == self.expected_status

    @property
    def wrong_ok(self) -> bool:
        """A silent wrong answer: status ok, and not the right one."""
        return self.status == "ok" and not self.correct


def failure_class(o: QuestionOutcome) -> FailureClass | None:
    """What kind of failure ``o`` is (None when it is correct)."""
    if o.correct:
        return None
    if o.status == "error":
        return "error"
    if o.status == "ok":
        return "wrong_ok" if o.answerable else "answered_unanswerable"
    if o.answerable:
        return "false_clarify" if o.status == "clarify" else "false_refusal"
    return "wrong_abstention"


EXAMPLES = 5


def score(
    *,
    id: str,
    question: str,
    language: str,
    mart: str,
    split: str,
    tags: list[str],
    expected_status: str,
    status: Status,
    gold: set[int] | None,
    produced: set[int] | None,
    latency_ms: float,
    message: str = "",
    readback: str | None = None,
    gold_spec: dict[str, Any] | None = None,
    produced_spec: dict[str, Any] | None = None,
) -> QuestionOutcome:
    """Score one question. ``produced`` is None unless the engine answered (status 'ok')."""
    out = QuestionOutcome(
        id=id,
        question=question,
        language=language,
        mart=mart,
        split=split,
        tags=tags,
        expected_status=expected_status,
        status=status,
        message=message,
        readback=readback,
        latency_ms=latency_ms,
    )
    answered = status == "ok" and produced is not None
    if expected_status == "ok" and gold is not None:
        p = produced if answered and produced is not None else set()
        out.gold_size = len(gold)
        out.produced_size = len(p) if answered else None
        missing, extra = sorted(gold - p), sorted(p - gold)
        out.missing, out.extra = len(missing), len(extra)
        out.missing_examples, out.extra_examples = missing[:EXAMPLES], extra[:EXAMPLES]
        out.exact = answered and p == gold
        out.jaccard, out.precision, out.recall = jaccard(p, gold), precision(p, gold), recall(p, gold)
    elif answered and produced is not None:
        out.produced_size = len(produced)
    out.points = reliability_points(expected_status, status, out.exact)
    if gold_spec is not None:
        out.spec_right, out.spec_total, out.spec_wrong = spec_field_diff(gold_spec, produced_spec)
    return out


# ---------------------------------------------------------------- aggregation
def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _percent(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def group_metrics(outcomes: Sequence[QuestionOutcome]) -> dict[str, Any]:
    """Accuracy-type figures for any group of outcomes (the whole run, a construct, a mart)."""
    answerable = [o for o in outcomes if o.answerable]
    refusable = [o for o in outcomes if not o.answerable]
    spec = [o for o in outcomes if o.spec_total]
    classes = [failure_class(o) for o in outcomes]
    wrong_ok = sum(o.wrong_ok for o in outcomes)
    return {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "refusable": len(refusable),
        "correct": sum(o.correct for o in outcomes),
        "accuracy": _mean([float(o.correct) for o in outcomes]),
        "execution_accuracy": _mean([float(o.exact) for o in answerable]),
        "mean_jaccard": _mean([o.jaccard or 0.0 for o in answerable]),
        "mean_precision": _mean([o.precision or 0.0 for o in answerable]),
        "mean_recall": _mean([o.recall or 0.0 for o in answerable]),
        "answered_rate": _mean([float(o.status == "ok") for o in answerable]),
        "refusal_accuracy": _mean([float(o.status == o.expected_status) for o in refusable]),
        "abstention_rate": _mean([float(o.status in ABSTAIN) for o in refusable]),
        "wrong_ok": wrong_ok,
        "wrong_ok_rate": wrong_ok / len(answerable) if answerable else None,
        "failure_classes": {c: classes.count(c) for c in FAILURE_CLASSES if c in classes},
        "reliability_points": sum(o.points for o in outcomes),
        "reliability_score": _percent(_mean([float(o.points) for o in outcomes])),
        "spec_questions": len(spec),
        "spec_field_accuracy": (sum(o.spec_right for o in spec) / sum(o.spec_total for o in spec))
        if spec
        else None,
    }


def summarize(outcomes: Sequence[QuestionOutcome]) -> dict[str, Any]:
    """Overall figures, latency percentiles, status counts and the per-construct / per-mart breakdowns."""
    overall = group_metrics(outcomes)
    latencies = [o.latency_ms for o in outcomes]
    statuses: dict[str, int] = {}
    for o in outcomes:
        statuses[o.status] = statuses.get(o.status, 0) + 1
    tags = sorted({t for o in outcomes for t in o.tags})
    marts = sorted({o.mart for o in outcomes})
    return {
        **overall,
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "status_counts": dict(sorted(statuses.items())),
        "by_construct": {t: group_metrics([o for o in outcomes if t in o.tags]) for t in tags},
        "by_mart": {m: group_metrics([o for o in outcomes if o.mart == m]) for m in marts},
    }
