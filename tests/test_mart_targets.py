"""`cohort demo-data --target parquet:DIR`: a mart written as Parquet folders holds the same rows."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb


def _cohort(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cohort_engine.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "400"},
    )


def test_parquet_target_writes_every_table_with_its_rows(eunomia_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "mart"
    out.mkdir()
    shutil.copy(eunomia_path, out / "mart.duckdb")
    folder = tmp_path / "parquet"
    done = _cohort("demo-data", "--out", str(out), "--target", f"parquet:{folder}", "--load-only")
    assert done.returncode == 0, done.stderr[-2000:]
    src = duckdb.connect(str(out / "mart.duckdb"), read_only=True)
    try:
        names = sorted(
            str(n).lower()
            for (n,) in src.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        )
        assert sorted(p.name for p in folder.iterdir()) == names
        assert f"wrote {len(names)} tables" in done.stdout
        for name in ("person", "condition_occurrence", "concept_ancestor"):
            part = folder / name / "part-0.parquet"
            want = src.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            got = duckdb.sql(f"SELECT * FROM read_parquet('{part}') ORDER BY ALL").fetchall()
            assert got == want, name
    finally:
        src.close()
    again = _cohort("demo-data", "--out", str(out), "--target", f"parquet:{folder}", "--load-only")
    assert again.returncode == 2
    assert "already has folder(s)" in again.stderr and "pass --replace" in again.stderr


def test_target_errors_are_clear(tmp_path: Path) -> None:
    bad = _cohort("demo-data", "--out", str(tmp_path), "--target", "parquet:", "--load-only")
    assert bad.returncode == 2 and "--target parquet:DIR needs a folder" in bad.stderr
    path = _cohort("demo-data", "--out", str(tmp_path), "--target", "somewhere/else", "--load-only")
    assert path.returncode == 2 and "--target must be a postgresql:// URL" in path.stderr
    none = _cohort("demo-data", "--out", str(tmp_path), "--load-only")
    assert none.returncode == 2 and "--load-only needs --target" in none.stderr
    missing = _cohort(
        "demo-data", "--out", str(tmp_path), "--target", f"parquet:{tmp_path / 'p'}", "--load-only"
    )
    assert missing.returncode == 2 and "mart file not found" in missing.stderr
