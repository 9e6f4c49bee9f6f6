"""Builds the demo mart's vocabulary tables (concept, concept_ancestor, concept_synonym, vocabulary).

Why built rather than shipped: the full ICD-10-CM tree (~98,000 codes) comes from the
``simple_icd_10_cm`` package that the resolver already depends on, so the mart and the resolver
always agree on codes and names.  The tree's transitive closure is computed with numpy
(parent-pointer walking, six levels at most).

Importing ``simple_icd_10_cm`` parses a large XML file (seconds), so the extracted tree (code,
name, class, parent) is cached as one Parquet file under ``$COHORT_ENGINE_CACHE`` (default
``~/.cache/cohort-engine``), keyed by the package version and a hash of this module's source;
a Parquet round trip is exact, so the built tables are identical with or without the cache.
The whole vocabulary is also memoised per process because tests build several marts.

Determinism: ICD-10-CM concept ids are ``2,000,000,000 + position in the sorted code list``;
all other ids follow the fixed ranges documented in :mod:`schema_catalog.demo.concepts`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cohort_engine.cache_files import cache_root
from cohort_engine.schema_catalog.demo import concepts as C

VALID_START = np.datetime64("1970-01-01")
VALID_END = np.datetime64("2099-12-31")
_RANGE_RE = re.compile(r"\(([A-Z0-9]{3}-[A-Z0-9]{3})\)$")


@dataclass(frozen=True)
class Vocab:
    """The four vocabulary tables as Arrow tables plus the code -> concept id lookups."""

    concept: pa.Table
    concept_ancestor: pa.Table
    concept_synonym: pa.Table
    vocabulary: pa.Table
    icd: dict[str, int]
    proc: dict[str, int]
    drug: dict[str, int]  # by ingredient name
    lab: dict[str, int]  # by Lab.key
    unit: dict[str, int]  # by UCUM code
    loinc: dict[str, int]  # non-measurement LOINC codes
    demo: dict[str, int]
    korean_name: dict[int, str]  # preferred Korean name of every concept that has one


def icd_version() -> str:
    """ICD-10-CM release bundled with the package, e.g. 'April 2026', read without importing it."""
    files = [Path(str(f)).name for f in (importlib.metadata.files("simple_icd_10_cm") or [])]
    release = next(
        (
            f[len("code-list-") : -4].replace("-", " ")
            for f in files
            if f.startswith("code-list-") and f.endswith(".txt")
        ),
        "",
    )
    pkg = importlib.metadata.version("simple_icd_10_cm")
    return f"ICD-10-CM {release} (simple_icd_10_cm {pkg})".replace("  ", " ")


def _proc_parent(code: str) -> str | None:
    head, _, tail = code.partition(".")
    if not tail:
        return None
    return head if len(tail) == 1 else f"{head}.{tail[0]}"


def _loinc_id(code: str) -> int:
    return C.LOINC_BASE + int(code.replace("-", ""))


class _Rows:
    """Column-wise accumulator for the small curated vocabularies."""

    def __init__(self) -> None:
        self.cols: dict[str, list] = {
            k: []
            for k in (
                "concept_id",
                "concept_name",
                "domain_id",
                "vocabulary_id",
                "concept_class_id",
                "standard_concept",
                "concept_code",
            )
        }

    def add(
        self, cid: int, name: str, domain: str, vocab: str, klass: str, std: str | None, code: str
    ) -> None:
        for k, v in zip(self.cols, (cid, name, domain, vocab, klass, std, code), strict=True):
            self.cols[k].append(v)


def _extract_icd() -> pa.Table:
    """Read the ICD-10-CM tree out of simple_icd_10_cm: code, name, class, standard flag, parent."""
    import simple_icd_10_cm as icd  # slow import (XML parse): only when the cache misses

    codes = sorted(set(icd.get_all_codes(True)))
    index = {c: i for i, c in enumerate(codes)}
    parent = np.full(len(codes), -1, dtype=np.int64)
    names, classes, std = [], [], []
    for i, code in enumerate(codes):
        # Codes that are both a single-category block and its category ('C50') are one concept:
        # skip self in the ancestor list so that the tree stays a tree.
        anc = [a for a in icd.get_ancestors(code) if a != code]
        if anc:
            parent[i] = index[anc[0]]
        names.append(icd.get_description(code))
        if icd.is_chapter(code):
            classes.append("ICD10 Chapter")
            std.append("C")
        elif icd.is_block(code) and not icd.is_category(code):
            classes.append("ICD10 SubChapter")
            std.append("C")
        else:
            kind = "billing" if icd.is_leaf(code) else "nonbill"
            classes.append(f"{len(code.replace('.', ''))}-char {kind} code")
            std.append("S")
    return pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "name": pa.array(names, pa.string()),
            "klass": pa.array(classes, pa.string()),
            "std": pa.array(std, pa.string()),
            "parent": pa.array(parent, pa.int64()),
        }
    )


def _cache_path() -> Path:
    root = cache_root()
    key = hashlib.sha256(
        (importlib.metadata.version("simple_icd_10_cm") + "\0").encode() + Path(__file__).read_bytes()
    ).hexdigest()[:16]
    return root / "demo-vocab" / f"icd10cm-{key}.parquet"


def _icd_tree() -> pa.Table:
    """The extracted ICD-10-CM tree, from the Parquet cache when present (best effort)."""
    path = _cache_path()
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException):
        pass
    tree = _extract_icd()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        pq.write_table(tree, tmp)
        os.replace(tmp, path)
    except OSError:  # read-only home: simply rebuild next time
        pass
    return tree


def _icd_concepts() -> tuple[dict[str, list], np.ndarray, np.ndarray, list[str]]:
    """ICD-10-CM concept columns, plus parent index per code (-1 at the roots)."""
    tree = _icd_tree()
    codes: list[str] = tree.column("code").to_pylist()
    n = len(codes)
    ids = C.ICD10CM_BASE + np.arange(n, dtype=np.int64)
    cols = {
        "concept_id": ids,
        "concept_name": tree.column("name").to_pylist(),
        "domain_id": ["Condition"] * n,
        "vocabulary_id": ["ICD10CM"] * n,
        "concept_class_id": tree.column("klass").to_pylist(),
        "standard_concept": tree.column("std").to_pylist(),
        "concept_code": codes,
    }
    return cols, tree.column("parent").to_numpy(), ids, codes


def _closure(parent: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transitive closure of a forest given by parent indices, self rows included (level 0)."""
    anc, desc, lvl = [], [], []
    cur = np.arange(len(parent))
    level = 0
    alive = np.ones(len(parent), dtype=bool)
    while alive.any():
        d = np.nonzero(alive)[0]
        anc.append(ids[cur[d]])
        desc.append(ids[d])
        lvl.append(np.full(len(d), level, dtype=np.int32))
        nxt = np.where(alive, parent[cur], -1)
        alive = nxt >= 0
        cur = np.where(alive, nxt, cur)
        level += 1
    return np.concatenate(anc), np.concatenate(desc), np.concatenate(lvl)


@functools.lru_cache(maxsize=2)
def build_vocabulary() -> Vocab:
    """Build (once per process) every vocabulary table of the demo mart."""
    icd_cols, icd_parent, icd_ids, icd_codes = _icd_concepts()
    icd_map = dict(zip(icd_codes, icd_ids.tolist(), strict=True))

    rows = _Rows()
    syn_id: list[int] = []
    syn_name: list[str] = []
    syn_lang: list[int] = []

    def synonyms(cid: int, ko: tuple[str, ...], en: tuple[str, ...]) -> None:
        seen: set[tuple[str, int]] = set()
        for lang, names in ((C.LANG_KO, ko), (C.LANG_EN, en)):
            for s in names:
                if (s, lang) not in seen:
                    seen.add((s, lang))
                    syn_id.append(cid)
                    syn_name.append(s)
                    syn_lang.append(lang)

    for sc in C.STANDARD:
        rows.add(
            sc.concept_id,
            sc.name,
            sc.domain_id,
            sc.vocabulary_id,
            sc.concept_class_id,
            None if sc.concept_id == 0 else "S",
            sc.code,
        )
        synonyms(sc.concept_id, sc.ko, sc.en)

    # ICD9Proc: curated list, hierarchy from the code itself.
    proc_map = {p.code: C.ICD9PROC_BASE + i for i, p in enumerate(C.PROCEDURES)}
    has_child = {_proc_parent(p.code) for p in C.PROCEDURES}
    proc_parent_pairs: list[tuple[int, int]] = []
    for p in C.PROCEDURES:
        cid = proc_map[p.code]
        head, _, tail = p.code.partition(".")
        billing = "nonbill" if p.code in has_child else "billing"
        klass = "2-dig nonbill code" if not tail else f"{len(tail) + 2}-dig {billing} code"
        rows.add(cid, p.name, "Procedure", "ICD9Proc", klass, "S", p.code)
        synonyms(cid, p.ko, p.en)
        par = _proc_parent(p.code)
        if par is not None:
            if par not in proc_map:
                raise ValueError(f"ICD9Proc {p.code}: parent {par} is not listed")
            proc_parent_pairs.append((cid, proc_map[par]))

    drug_map: dict[str, int] = {}
    for d in C.DRUGS:
        cid = C.RXNORM_BASE + d.rxcui
        drug_map[d.name] = cid
        rows.add(cid, d.name, "Drug", "RxNorm", "Ingredient", "S", str(d.rxcui))
        synonyms(cid, d.ko, d.en)

    unit_map: dict[str, int] = {}
    for i, u in enumerate(C.UNITS):
        cid = C.UCUM_BASE + i
        unit_map[u.code] = cid
        rows.add(cid, u.name, "Unit", "UCUM", "Unit", "S", u.code)
        synonyms(cid, u.ko, u.en)

    lab_map: dict[str, int] = {}
    for lab in C.LABS:
        cid = _loinc_id(lab.loinc)
        lab_map[lab.key] = cid
        klass = "Clinical Observation" if lab.key in ("sbp", "dbp", "bmi") else "Lab Test"
        rows.add(cid, lab.name, lab.domain, "LOINC", klass, "S", lab.loinc)
        synonyms(cid, lab.ko, lab.en)
    loinc_map: dict[str, int] = {}
    for lo in C.LOINC_OTHER:
        cid = _loinc_id(lo.code)
        loinc_map[lo.code] = cid
        rows.add(cid, lo.name, lo.domain, "LOINC", lo.concept_class, "S", lo.code)
        synonyms(cid, lo.ko, lo.en)

    demo_map: dict[str, int] = {}
    for i, dc in enumerate(C.DEMO_CONCEPTS):
        cid = C.DEMO_BASE + i
        demo_map[dc.code] = cid
        rows.add(cid, dc.name, dc.domain, "DEMO", dc.concept_class, "S", dc.code)
        synonyms(cid, dc.ko, dc.en)

    icd_ver = icd_version()
    vocab_rows: dict[str, list[object]] = {
        k: []
        for k in (
            "vocabulary_id",
            "vocabulary_name",
            "vocabulary_reference",
            "vocabulary_version",
            "vocabulary_concept_id",
        )
    }
    for i, v in enumerate(C.VOCABULARIES):
        cid = C.VOCAB_BASE + i
        rows.add(cid, v.name, "Metadata", "Vocabulary", "Vocabulary", None, v.vocabulary_id)
        for k, val in zip(
            vocab_rows, (v.vocabulary_id, v.name, v.reference, v.version or icd_ver, cid), strict=True
        ):
            vocab_rows[k].append(val)

    # ICD-10-CM synonyms: Korean names, English abbreviations, and the code range of chapters.
    for code, ko in C.ICD_KO.items():
        if code not in icd_map:
            raise ValueError(f"ICD-10-CM code {code!r} with a Korean name is not in simple_icd_10_cm")
        synonyms(icd_map[code], ko, C.ICD_EN.get(code, ()))
    for code, en in C.ICD_EN.items():
        if code not in C.ICD_KO:
            synonyms(icd_map[code], (), en)
    for code, name, klass in zip(
        icd_codes, icd_cols["concept_name"], icd_cols["concept_class_id"], strict=True
    ):
        if klass == "ICD10 Chapter":
            m = _RANGE_RE.search(name)
            if m:
                synonyms(icd_map[code], (), (m.group(1), f"ICD-10-CM chapter {code}"))

    n_small = len(rows.cols["concept_id"])
    n_icd = len(icd_codes)
    concept = pa.table(
        {
            "concept_id": pa.array(
                np.concatenate([np.asarray(rows.cols["concept_id"], dtype=np.int64), icd_ids]), pa.int32()
            ),
            "concept_name": pa.array(rows.cols["concept_name"] + icd_cols["concept_name"], pa.string()),
            "domain_id": pa.array(rows.cols["domain_id"] + icd_cols["domain_id"], pa.string()),
            "vocabulary_id": pa.array(rows.cols["vocabulary_id"] + icd_cols["vocabulary_id"], pa.string()),
            "concept_class_id": pa.array(
                rows.cols["concept_class_id"] + icd_cols["concept_class_id"], pa.string()
            ),
            "standard_concept": pa.array(
                rows.cols["standard_concept"] + icd_cols["standard_concept"], pa.string()
            ),
            "concept_code": pa.array(rows.cols["concept_code"] + icd_cols["concept_code"], pa.string()),
            "valid_start_date": pa.array(np.full(n_small + n_icd, VALID_START, dtype="datetime64[D]")),
            "valid_end_date": pa.array(np.full(n_small + n_icd, VALID_END, dtype="datetime64[D]")),
            "invalid_reason": pa.nulls(n_small + n_icd, pa.string()),
        }
    ).sort_by("concept_id")
    if len(set(concept.column("concept_id").to_pylist())) != concept.num_rows:
        raise ValueError("duplicate concept ids in the demo vocabulary")

    # concept_ancestor: ICD tree closure + ICD9Proc closure + self rows for every other concept.
    a1, d1, l1 = _closure(icd_parent, icd_ids)
    proc_ids = np.array([proc_map[p.code] for p in C.PROCEDURES], dtype=np.int64)
    pos = {cid: i for i, cid in enumerate(proc_ids.tolist())}
    proc_parent = np.full(len(proc_ids), -1, dtype=np.int64)
    for child, parent in proc_parent_pairs:
        proc_parent[pos[child]] = pos[parent]
    a2, d2, l2 = _closure(proc_parent, proc_ids)
    others = np.array(
        [
            c
            for c in rows.cols["concept_id"]
            if c not in pos and c != 0 and not (C.VOCAB_BASE <= c < C.VOCAB_BASE + 1000)
        ],
        dtype=np.int64,
    )
    anc = np.concatenate([a1, a2, others])
    desc = np.concatenate([d1, d2, others])
    lvl = np.concatenate([l1, l2, np.zeros(len(others), dtype=np.int32)])
    order = np.lexsort((anc, desc))
    concept_ancestor = pa.table(
        {
            "ancestor_concept_id": pa.array(anc[order], pa.int32()),
            "descendant_concept_id": pa.array(desc[order], pa.int32()),
            "min_levels_of_separation": pa.array(lvl[order], pa.int32()),
            "max_levels_of_separation": pa.array(lvl[order], pa.int32()),
        }
    )

    concept_synonym = pa.table(
        {
            "concept_id": pa.array(syn_id, pa.int32()),
            "concept_synonym_name": pa.array(syn_name, pa.string()),
            "language_concept_id": pa.array(syn_lang, pa.int32()),
        }
    )
    vocabulary = pa.table(
        {
            "vocabulary_id": pa.array(vocab_rows["vocabulary_id"], pa.string()),
            "vocabulary_name": pa.array(vocab_rows["vocabulary_name"], pa.string()),
            "vocabulary_reference": pa.array(vocab_rows["vocabulary_reference"], pa.string()),
            "vocabulary_version": pa.array(vocab_rows["vocabulary_version"], pa.string()),
            "vocabulary_concept_id": pa.array(vocab_rows["vocabulary_concept_id"], pa.int32()),
        }
    )

    korean: dict[int, str] = {}
    for cid, name, lang in zip(syn_id, syn_name, syn_lang, strict=True):
        if lang == C.LANG_KO and cid not in korean:
            korean[cid] = name

    return Vocab(
        concept=concept,
        concept_ancestor=concept_ancestor,
        concept_synonym=concept_synonym,
        vocabulary=vocabulary,
        icd=icd_map,
        proc=proc_map,
        drug=drug_map,
        lab=lab_map,
        unit=unit_map,
        loinc=loinc_map,
        demo=demo_map,
        korean_name=korean,
    )
