"""The layers of cohort_engine.layers hold: every import edge of the package is allowed by the table.

Imports are read from the source (ast), so an import inside a function or under ``TYPE_CHECKING`` counts
as much as one at module level; so does a package-data read through ``importlib.resources.files(...)``
or ``importlib.import_module(...)`` with a literal name.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import cohort_engine
from cohort_engine.layers import BY_NAME, LAYERS, PACKAGE, allowed, layer_of, render_markdown

ROOT = Path(__file__).resolve().parents[1]
#: The stage folders' old top-level names: nothing may import them any more.
OLD_NAMES = {"nlq", "schema_catalog", "sql_guard", "dicom_index", "deid", "api", "evals"}


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def imports_of(module: str, source: str, is_package: bool = False) -> list[Edge]:
    """Every module ``source`` names: imports at any depth plus literal resources/import_module names."""
    edges: list[Edge] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            edges += [Edge(module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = (
                _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module
            )
            if target:
                edges.append(Edge(module, target, node.lineno))
                # 'from cohort_engine import spec' imports the submodule cohort_engine.spec
                edges += [
                    Edge(module, f"{target}.{a.name}", node.lineno) for a in node.names if target == PACKAGE
                ]
        elif isinstance(node, ast.Call):
            fn = node.func
            name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if name in ("files", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
                value = node.args[0].value
                if isinstance(value, str):
                    edges.append(Edge(module, value, node.lineno))
    return edges


def violations(edges: list[Edge]) -> list[str]:
    out = []
    for e in edges:
        top = e.imported.split(".")[0]
        if top in OLD_NAMES:
            out.append(f"{e}: the stage folders install under {PACKAGE}. (use {PACKAGE}.{e.imported})")
            continue
        src, dst = layer_of(e.importer), layer_of(e.imported)
        if src is None:
            out.append(f"{e}: {e.importer} belongs to no layer of cohort_engine.layers")
        elif dst is not None and not allowed(src, dst):
            out.append(f"{e}: layer {src.name} may not import layer {dst.name} (allowed: {src.may_import})")
    return out


def package_modules() -> list[tuple[str, Path, bool]]:
    mods = [(PACKAGE, Path(cohort_engine.__file__), True)]
    for info in pkgutil.walk_packages(cohort_engine.__path__, PACKAGE + "."):
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin, info.name
        mods.append((info.name, Path(spec.origin), info.ispkg))
    return mods


def test_every_stage_is_a_subpackage_of_one_namespace() -> None:
    names = {m for m, _, _ in package_modules()}
    for stage in ("nlq", "schema_catalog", "sql_guard", "dicom_index", "deid", "api", "evals"):
        assert f"{PACKAGE}.{stage}" in names
    assert {"cohort_engine.spec", "cohort_engine.pipeline", "cohort_engine.cli"} <= names


def test_every_module_belongs_to_a_layer() -> None:
    orphans = [m for m, _, _ in package_modules() if layer_of(m) is None]
    assert orphans == []


@pytest.mark.slow
def test_no_import_crosses_a_layer_backwards() -> None:
    found: list[str] = []
    for module, path, is_pkg in package_modules():
        found += violations(imports_of(module, path.read_text("utf-8"), is_pkg))
    assert found == [], "\n".join(found)


@pytest.mark.slow
def test_tests_and_benchmarks_use_the_namespace() -> None:
    found: list[str] = []
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]:
        for e in imports_of(f"{path.parent.name}.{path.stem}", path.read_text("utf-8")):
            if e.imported.split(".")[0] in OLD_NAMES:
                found.append(f"{path.name}:{e.line} imports {e.imported}")
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    ("importer", "source", "expected"),
    [
        # the loops the issue found: nlq → evals, evals → api, api → evals, schema_catalog → nlq
        (
            "cohort_engine.nlq.llm",
            "from cohort_engine.evals.gold import GoldRecord",
            "layer nlq may not import layer evals",
        ),
        (
            "cohort_engine.evals.runner",
            "from cohort_engine.api.service import Service",
            "layer evals may not import layer api",
        ),
        (
            "cohort_engine.api.app",
            "def f():\n    from cohort_engine.evals import seed\n",
            "layer api may not import layer evals",
        ),
        (
            "cohort_engine.schema_catalog.resolve",
            "import cohort_engine.nlq.parser as p",
            "layer schema_catalog may not import layer nlq",
        ),
        (
            "cohort_engine.spec",
            "from cohort_engine.pipeline import ask",
            "layer contract may not import layer pipeline",
        ),
        (
            "cohort_engine.sql_guard.compiler",
            "from ..dicom_index import select",
            "layer sql_guard may not import layer dicom_index",
        ),
        (
            "cohort_engine.nlq.lexicon",
            "resources.files('cohort_engine.schema_catalog')",
            "layer nlq may not import layer schema_catalog",
        ),
        ("cohort_engine.deid.scrub", "from nlq.spec import CohortSpec", "the stage folders install under"),
    ],
)
def test_a_back_edge_is_reported(importer: str, source: str, expected: str) -> None:
    found = violations(imports_of(importer, source))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        ("cohort_engine.sql_guard.compiler", "from cohort_engine.spec import CohortSpec"),
        ("cohort_engine.deid.manifest", "from cohort_engine.dicom_index.select import cohort_imaging_sql"),
        ("cohort_engine.cli", "from cohort_engine.evals.runner import run_eval"),
        ("cohort_engine.nlq.parser", "from . import dates"),
        ("cohort_engine.nlq.lexicon", "resources.files('cohort_engine')"),
    ],
)
def test_a_forward_edge_is_allowed(importer: str, source: str) -> None:
    assert violations(imports_of(importer, source)) == []


def test_every_may_import_names_a_lower_layer() -> None:
    order = [layer.name for layer in LAYERS]
    for layer in LAYERS:
        for dep in layer.may_import:
            assert dep in BY_NAME and order.index(dep) < order.index(layer.name), (layer.name, dep)


def test_architecture_doc_carries_the_table() -> None:
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text("utf-8")
    assert render_markdown() in doc, "regenerate the table: python -m cohort_engine.layers"


@pytest.mark.slow
def test_wheel_installs_one_top_level_name(tmp_path: Path) -> None:
    """Only cohort_engine lands in site-packages: no 'deid', 'evals' or 'api' to collide with others."""
    import subprocess
    import sys

    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cohort_engine-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {PACKAGE}
    for must in (
        "cohort_engine/nlq/parser.py",
        "cohort_engine/api/static/index.html",
        "cohort_engine/evals/gold/demo.jsonl",
        "cohort_engine/data/lexicon.json",
        "cohort_engine/evals/floor.json",
    ):
        assert must in names, must
