"""Who may import whom: the one table of the project's layers.

Data flows one way: a sentence becomes a spec (``nlq``), the spec's terms become concepts
(``schema_catalog``), the spec becomes guarded SQL (``sql_guard``), the cohort meets its images
(``dicom_index``) and leaves de-identified (``deid``). The pipeline composes the stages; the REST API
and the evals sit on the pipeline side by side; the CLI is the shell over all of them. The contract
(the cohort spec, the seed scenario, the shared lexicon data) sits under everything.

``tests/test_architecture.py`` walks every import of the package (module level, inside functions,
under ``TYPE_CHECKING``, and package-data reads through ``importlib.resources``) and fails on any
edge this table does not allow; ``docs/ARCHITECTURE.md`` carries :func:`render_markdown` verbatim,
and the same test fails when the two differ (``python -m cohort_engine.layers`` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass

PACKAGE = "cohort_engine"


@dataclass(frozen=True)
class Layer:
    name: str
    #: Module prefixes (below ``cohort_engine.``) that belong to this layer; "" is the package itself.
    modules: tuple[str, ...]
    #: Layers this one may import, besides itself.
    may_import: tuple[str, ...]
    folder: str
    role: str
    entry_points: tuple[str, ...]


_STAGES = ("nlq", "schema_catalog", "sql_guard", "dicom_index", "deid")

LAYERS: tuple[Layer, ...] = (
    Layer(
        "contract",
        ("", "spec", "seed", "layers", "data", "plurals", "cache_files", "imaging_words"),
        (),
        "cohort_engine/",
        "the cohort spec every stage reads and writes, the seed scenario, the bilingual lexicon data and "
        "its English plurals, the words that name imaging studies, the per-user cache folder, this table",
        ("cohort_engine.spec", "cohort_engine.seed"),
    ),
    Layer(
        "nlq",
        ("nlq",),
        ("contract",),
        "nlq/",
        "sentence → spec: the offline rule parser, the LLM front end (langchain; the mart description "
        "and few-shot examples come in as arguments), read-back in English/Korean",
        ("cohort_engine.nlq.parser.parse", "cohort_engine.nlq.llm", "cohort_engine.nlq.readback"),
    ),
    Layer(
        "schema_catalog",
        ("schema_catalog",),
        ("contract",),
        "schema_catalog/",
        "the mart: table catalogue (source of the DDL and privacy classes), domain map, vocabulary and "
        "term resolution, demo mart generator",
        ("cohort_engine.schema_catalog.tables", "cohort_engine.schema_catalog.resolve"),
    ),
    Layer(
        "sql_guard",
        ("sql_guard",),
        ("contract", "schema_catalog"),
        "sql_guard/",
        "spec → temporal SQL (sqlglot), validation of every SQL, read-only execution",
        (
            "cohort_engine.sql_guard.compiler",
            "cohort_engine.sql_guard.guard",
            "cohort_engine.sql_guard.runner",
        ),
    ),
    Layer(
        "dicom_index",
        ("dicom_index",),
        ("contract", "schema_catalog", "sql_guard"),
        "dicom_index/",
        "DICOM headers (folders, DICOMweb) → index tables, linking to the mart, the cohort's imaging "
        "selection",
        (
            "cohort_engine.dicom_index.indexer",
            "cohort_engine.dicom_index.link",
            "cohort_engine.dicom_index.select",
        ),
    ),
    Layer(
        "deid",
        ("deid",),
        ("contract", "schema_catalog", "sql_guard", "dicom_index"),
        "deid/",
        "release policy (keyed pseudonyms, UIDs, date shifts), manifests, PS3.15 export, free-text scrubbing",
        ("cohort_engine.deid.policy", "cohort_engine.deid.manifest", "cohort_engine.deid.export"),
    ),
    Layer(
        "pipeline",
        ("pipeline", "parsers", "followups"),
        ("contract", *_STAGES),
        "cohort_engine/",
        "the one composition of the stages: parser choice, sentence/spec → answer",
        ("cohort_engine.pipeline", "cohort_engine.parsers"),
    ),
    Layer(
        "api",
        ("api",),
        ("contract", *_STAGES, "pipeline"),
        "api/",
        "REST API (FastAPI) and chat UI over the pipeline; keys, roles, audit",
        ("cohort_engine.api.app",),
    ),
    Layer(
        "evals",
        ("evals",),
        ("contract", *_STAGES, "pipeline"),
        "evals/",
        "gold questions with hand-written SQL, accuracy runner and reports, the CI floor, the parser corpus",
        ("cohort_engine.evals.runner",),
    ),
    Layer(
        "cli",
        ("cli",),
        ("contract", *_STAGES, "pipeline", "api", "evals"),
        "cohort_engine/",
        "the `cohort` command: a shell over the pipeline, the API server and the evals",
        ("cohort_engine.cli:app",),
    ),
)

BY_NAME: dict[str, Layer] = {layer.name: layer for layer in LAYERS}


def layer_of(module: str) -> Layer | None:
    """The layer that owns ``module`` (a dotted name), or None for a module outside the package."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    rest = module[len(PACKAGE) + 1 :]
    best: tuple[int, Layer] | None = None
    for layer in LAYERS:
        for prefix in layer.modules:
            if prefix == "" and rest == "":
                return layer
            if (
                prefix
                and (rest == prefix or rest.startswith(prefix + "."))
                and (best is None or len(prefix) > best[0])
            ):
                best = (len(prefix), layer)
    return best[1] if best else None


def allowed(importer: Layer, imported: Layer) -> bool:
    return importer.name == imported.name or imported.name in importer.may_import


def render_markdown() -> str:
    """The layer table of docs/ARCHITECTURE.md (checked verbatim by tests/test_architecture.py)."""
    lines = [
        "| layer | folder | may import | role | entry points |",
        "|---|---|---|---|---|",
    ]
    for layer in LAYERS:
        may = ", ".join(layer.may_import) or "—"
        entries = ", ".join(f"`{e}`" for e in layer.entry_points)
        lines.append(f"| `{layer.name}` | `{layer.folder}` | {may} | {layer.role} | {entries} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
