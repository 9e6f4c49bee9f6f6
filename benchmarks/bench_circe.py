"""Our cohort SQL against OHDSI Circe's SQL (rendered by ``duckcdm``) for the scale benchmark's mix.

Why: Circe is the reference engine for cohort definitions (ATLAS); the issue asks that our SQL be at
least 3× faster than Circe's on every definition Circe can express, with the same persons. This prints
the figures; it asserts nothing about time.

What it does, per definition of ``bench_scale``'s mix (same questions, same mart, built or reused the
same way):

* asks our pipeline (rule parser) for the spec, its resolved concepts and its cohort SQL;
* translates the spec into a Circe cohort-definition JSON (:func:`circe_expression`): one concept set per
  spec key with the concept ids our resolver found (descendants included, as ours), a primary criterion
  with the index's date range, first occurrence, age and sex, one inclusion rule per criterion (window,
  occurrence, same visit; a criterion anchored on another is nested in it as Circe's correlated
  criteria), all events kept, the observation period ignored in inclusion rules (ours has none);
  definitions Circe cannot express (imaging criteria, name patterns, value filters, upload lists) are
  listed with the reason;
* renders it with ``duckcdm`` (Circe + SqlRender, DuckDB dialect) into statements that write a temp
  ``cohort`` table on the same read-only mart connection (DuckDB allows temp tables there), and reads the
  distinct ``subject_id`` back;
* checks the person sets are equal (a difference is printed with its size, not asserted: Circe's
  semantics differ in places, e.g. its primary events must lie inside an observation period);
* times both, best of ``--runs``, alternately, and prints Circe/ours.

``duckcdm`` is a benchmark dependency only (``pip install -e '.[bench]'``); the package never imports it.

    .venv/bin/python benchmarks/bench_circe.py                    # 200,000 persons
    .venv/bin/python benchmarks/bench_circe.py --persons 1000000 --runs 3
    .venv/bin/python benchmarks/bench_circe.py --only stroke --show-json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import Best, ask_once, build_mart, load_questions, run_timed, select  # noqa: E402

from cohort_engine.pipeline import AskResult  # noqa: E402
from cohort_engine.spec import CohortSpec, Criterion, EventFilter, Window  # noqa: E402
from cohort_engine.sql_guard.runner import open_mart  # noqa: E402

#: Circe criteria type per spec domain (those Circe has).
CIRCE_DOMAIN: dict[str, str] = {
    "condition": "ConditionOccurrence",
    "procedure": "ProcedureOccurrence",
    "drug": "DrugExposure",
    "measurement": "Measurement",
    "observation": "Observation",
    "visit": "VisitOccurrence",
    "death": "Death",
}
#: Circe's occurrence codes.
OCCURRENCE = {"exactly": 0, "at_most": 1, "at_least": 2}
GENDER = {"male": 8507, "female": 8532}
TARGET = "temp.main.cohort"


class NotExpressible(ValueError):
    """The spec uses something Circe has no construct for; the message says what."""


def resolved_ids(res: AskResult) -> dict[str, list[int]]:
    """Concept ids per spec key (``index`` or a criterion label), as our resolver found them."""
    assert res.spec is not None
    out: dict[str, list[int]] = {}
    filters: list[tuple[str, EventFilter]] = [("index", res.spec.index)]
    filters += [(c.label, c) for c in res.spec.criteria]
    for key, f in filters:
        ids = [int(i) for i in f.concepts.concept_ids]
        for tr in res.resolutions.get(key, []):
            ids += [m.concept_id for m in tr.matches]
        out[key] = list(dict.fromkeys(ids))
    return out


def _check_filter(where: str, f: EventFilter) -> str:
    """The Circe criteria type of ``f``; raises NotExpressible for what Circe cannot say."""
    domain = str(f.domain)
    if domain not in CIRCE_DOMAIN:
        raise NotExpressible(f"{where}: Circe has no {domain} domain (no image_occurrence table)")
    if f.imaging is not None:
        raise NotExpressible(f"{where}: imaging filters")
    if f.value is not None:
        raise NotExpressible(f"{where}: value filters are not translated by this benchmark")
    if f.concepts.name_contains:
        raise NotExpressible(f"{where}: concept-name patterns (Circe needs concept ids)")
    return CIRCE_DOMAIN[domain]


def _date_filter(start: Any, end: Any) -> dict[str, str] | None:
    if start and end:
        return {"Value": str(start), "Op": "bt", "Extent": str(end)}
    if start:
        return {"Value": str(start), "Op": "gte"}
    if end:
        return {"Value": str(end), "Op": "lte"}
    return None


def _window(w: Window) -> dict[str, Any]:
    """Circe's StartWindow: event start relative to the anchor's start; ``Days: None`` is unbounded."""

    def end(days: int | None, default_coeff: int) -> dict[str, Any]:
        if days is None:
            return {"Coeff": default_coeff}
        return {"Days": abs(days), "Coeff": -1 if days < 0 else 1}

    return {"Start": end(w.start, -1), "End": end(w.end, 1), "UseIndexEnd": False, "UseEventEnd": False}


class _Builder:
    """Spec → Circe JSON; one concept set per spec key."""

    def __init__(self, spec: CohortSpec, ids: Mapping[str, Sequence[int]]) -> None:
        self.spec = spec
        self.ids = ids
        self.concept_sets: list[dict[str, Any]] = []

    def codeset(self, key: str, f: EventFilter) -> int | None:
        ids = list(self.ids.get(key, []))
        if not ids:
            if f.concepts.terms or f.concepts.codeset:
                raise NotExpressible(f"{key}: no resolved concepts")
            return None  # any event of the domain
        items = [
            {"concept": {"CONCEPT_ID": cid}, "includeDescendants": f.concepts.include_descendants}
            for cid in ids
        ]
        items += [
            {"concept": {"CONCEPT_ID": int(cid)}, "isExcluded": True, "includeDescendants": True}
            for cid in f.concepts.exclude_concept_ids
        ]
        cs_id = len(self.concept_sets)
        self.concept_sets.append({"id": cs_id, "name": key, "expression": {"items": items}})
        return cs_id

    def criteria(self, key: str, f: EventFilter, extra: dict[str, Any]) -> dict[str, Any]:
        kind = _check_filter(key, f)
        if f.visit_concept_ids:
            raise NotExpressible(f"{key}: visit-type filters are not translated by this benchmark")
        body: dict[str, Any] = dict(extra)
        cs = self.codeset(key, f)
        if cs is not None:
            body["CodesetId"] = cs
        return {kind: body}

    def correlated(self, c: Criterion, children: dict[str, list[Criterion]]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if c.date_range is not None:
            df = _date_filter(c.date_range.start, c.date_range.end)
            if df:
                extra["OccurrenceStartDate"] = df
        nested = children.get(c.label, [])
        if nested:
            if c.occurrence.type != "at_least" or c.occurrence.count < 1:
                raise NotExpressible(f"{c.label}: a chain anchored on an absence")
            extra["CorrelatedCriteria"] = {
                "Type": "ALL",
                "CriteriaList": [self.correlated(n, children) for n in nested],
                "DemographicCriteriaList": [],
                "Groups": [],
            }
        return {
            "Criteria": self.criteria(c.label, c, extra),
            "StartWindow": _window(c.window),
            "RestrictVisit": c.window.same_visit,
            "IgnoreObservationPeriod": True,
            "Occurrence": {"Type": OCCURRENCE[c.occurrence.type], "Count": c.occurrence.count},
        }

    def build(self) -> dict[str, Any]:
        spec = self.spec
        if getattr(spec, "lists", None):
            raise NotExpressible("upload lists (patient lists) have no Circe construct")
        idx = spec.index
        extra: dict[str, Any] = {}
        if idx.first_occurrence:
            extra["First"] = True
        if idx.date_range is not None:
            df = _date_filter(idx.date_range.start, idx.date_range.end)
            if df:
                extra["OccurrenceStartDate"] = df
        demo = spec.demographics
        if demo.sexes:
            extra["Gender"] = [{"CONCEPT_ID": GENDER[s]} for s in demo.sexes]
        if demo.age_min is not None and demo.age_max is not None:
            extra["Age"] = {"Value": demo.age_min, "Op": "bt", "Extent": demo.age_max}
        elif demo.age_min is not None:
            extra["Age"] = {"Value": demo.age_min, "Op": "gte"}
        elif demo.age_max is not None:
            extra["Age"] = {"Value": demo.age_max, "Op": "lte"}
        primary = self.criteria("index", idx, extra)
        labels = {c.label for c in spec.criteria}
        children: dict[str, list[Criterion]] = {}
        for c in spec.criteria:
            if c.window.anchor != "index":
                if c.window.anchor not in labels:
                    raise NotExpressible(f"{c.label}: anchored on unknown {c.window.anchor!r}")
                children.setdefault(c.window.anchor, []).append(c)
        rules = [
            {
                "name": c.label,
                "expression": {
                    "Type": "ALL",
                    "CriteriaList": [self.correlated(c, children)],
                    "DemographicCriteriaList": [],
                    "Groups": [],
                },
            }
            for c in spec.criteria
            if c.window.anchor == "index"
        ]
        return {
            "ConceptSets": self.concept_sets,
            "PrimaryCriteria": {
                "CriteriaList": [primary],
                "ObservationWindow": {"PriorDays": 0, "PostDays": 0},
                "PrimaryCriteriaLimit": {"Type": "All"},
            },
            "QualifiedLimit": {"Type": "All"},
            "ExpressionLimit": {"Type": "All"},
            "InclusionRules": rules,
            "CensoringCriteria": [],
            "CollapseSettings": {"CollapseType": "ERA", "EraPad": 0},
            "CensorWindow": {},
            "cdmVersionRange": ">=5.0.0",
        }


def circe_expression(spec: CohortSpec, ids: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """The Circe cohort definition (JSON object) equivalent to ``spec`` with concepts ``ids``.

    Raises:
        NotExpressible: the spec uses a construct Circe lacks (the message names it).
    """
    return _Builder(spec, ids).build()


def circe_statements(expression: Mapping[str, Any], cdm_schema: str = "main") -> list[str]:
    """DuckDB statements that fill :data:`TARGET` with the cohort (Circe → SqlRender → DuckDB)."""
    from duckcdm.circe import build_cohort_query
    from duckcdm.sqlrender import render, split_sql, translate

    sql = build_cohort_query(
        json.dumps(expression),
        cdm_schema=cdm_schema,
        vocabulary_schema=cdm_schema,
        result_schema="temp.main",
        target_table=TARGET,
        cohort_id=1,
        generate_stats=False,
    )
    return [s for s in split_sql(translate(render(sql), "duckdb")) if s.strip()]


def prepare_target(con: duckdb.DuckDBPyConnection) -> None:
    """The cohort table Circe writes into: a temp table, so the mart stays read-only."""
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {TARGET.split('.')[-1]} (cohort_definition_id BIGINT, "
        "subject_id BIGINT, cohort_start_date DATE, cohort_end_date DATE)"
    )


def run_circe(cur: duckdb.DuckDBPyConnection, statements: Sequence[str]) -> tuple[float, float, set[int]]:
    """Wall and CPU time (ms, as ``bench_scale.run_timed``) of the whole Circe script plus reading the
    persons back, and the persons; ``cur`` is the cursor :func:`prepare_target` ran on (temp tables
    belong to one cursor)."""
    t0, c0 = time.perf_counter(), time.process_time()
    for stmt in statements:
        cur.execute(stmt)
    table = cur.sql(
        f"SELECT DISTINCT subject_id FROM {TARGET} WHERE cohort_definition_id = 1"
    ).to_arrow_table()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall * 1000, cpu * 1000, {int(v) for v in table.column(0).to_pylist()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, default=ROOT / "build" / "bench-scale")
    ap.add_argument("--mart", type=Path, help="An existing mart instead of the demo one.")
    ap.add_argument("--runs", type=int, default=3, help="Runs per engine (best of), alternating.")
    ap.add_argument("--only", default="", help="Comma-separated parts of question ids to run.")
    ap.add_argument("--show-json", action="store_true", help="Print each Circe cohort definition.")
    args = ap.parse_args()

    mart = args.mart or build_mart(args.persons, args.seed, args.dir)
    records = select(load_questions(), args.only)
    print(f"mart {mart} ({mart.stat().st_size / 2**20:,.0f} MiB), {len(records)} definitions")
    con = open_mart(mart)
    circe_cur = con.cursor()
    prepare_target(circe_cur)
    print(
        f"\nms, best of {args.runs} alternating; ours = our cohort SQL, Circe = its whole script "
        "(codesets, events, inclusion rules, eras) + reading the persons"
    )
    print("(wall: elapsed; cpu: the process's CPU time, which a loaded machine does not inflate)")
    print(
        f"{'definition':<34}{'persons':>9}{'ours':>9}{'circe':>9}{'circe/ours':>11}"
        f"{'cpu ours':>10}{'cpu circe':>10}{'cpu c/o':>9}  person sets"
    )
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    skipped: list[tuple[str, str]] = []
    differ: list[str] = []
    for rec in records:
        res, _ = ask_once(con, rec["question"])
        assert res.spec is not None and res.sql is not None
        try:
            expression = circe_expression(res.spec, resolved_ids(res))
        except NotExpressible as e:
            skipped.append((rec["id"], str(e)))
            continue
        if args.show_json:
            print(json.dumps(expression, indent=1))
        statements = circe_statements(expression)
        ours, circe = Best(), Best()
        for _ in range(args.runs):
            ours.add(*run_timed(con, res.sql))
            circe.add(*run_circe(circe_cur, statements))
        best_ours, best_circe, ours_ids, circe_ids = ours.wall, circe.wall, ours.ids, circe.ids
        same = ours_ids == circe_ids
        note = (
            "equal"
            if same
            else f"DIFFER: {len(ours_ids - circe_ids)} only ours, {len(circe_ids - ours_ids)} only Circe"
        )
        if not same:
            differ.append(rec["id"])
        ratios.append(best_circe / best_ours)
        cpu_ratios.append(circe.cpu / ours.cpu)
        print(
            f"{rec['id']:<34}{len(ours_ids):>9}{best_ours:>9.1f}{best_circe:>9.1f}"
            f"{best_circe / best_ours:>11.2f}{ours.cpu:>10.1f}{circe.cpu:>10.1f}{cpu_ratios[-1]:>9.2f}"
            f"  {note}"
        )
    for qid, why in skipped:
        print(f"{qid:<34}  not expressible in Circe: {why}")
    if ratios:
        print(
            f"\nCirce/ours: min {min(ratios):.2f} wall, {min(cpu_ratios):.2f} CPU; "
            f"max {max(ratios):.2f} wall "
            f"over {len(ratios)} definitions; "
            f"{len(skipped)} not expressible; person sets "
            + ("equal on all" if not differ else f"differ on {', '.join(differ)}")
        )
    circe_cur.close()
    con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
