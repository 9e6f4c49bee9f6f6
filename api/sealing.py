"""What the service keeps of a run: its definition at concept level, and its owner's words sealed.

Why: a question, a mention or a name match is text a person typed, and it may name a patient
("patients diagnosed with Quartermaine syndrome"). The state file is read by whoever operates the
server, so it must not keep those words. Yet approving, exporting and charting a run re-run it, so
its definition must be kept. The two are separated:

* The **concept-level spec** (:func:`concept_level_spec`): every concept set as the concept ids it
  resolved to when the run was made — mentions, saved code sets, overrides and name matches folded
  in, descendants and exclusions kept — and no title. On the same vocabulary it selects the same
  persons (``tests/test_api_sealing.py``), and it is what approval, export and charts re-run: a
  release stays pinned to the concepts that were reviewed even when the lexicon or a code set changes
  later. Stewards review this form.
* The **owner box** (:func:`seal_for_owner`): the run as its owner saw it (question, mentions,
  read-back, SQL), encrypted with AES-GCM under a key derived from the owner's API key. The state
  keeps SHA-256 of each key; the box key is an HMAC of the key under a fixed label, which that hash
  does not give. Only a request carrying the owner's key opens the box, so the owner reads their run
  in their own words, and nobody else — the operator with the state file included — can.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cohort_engine.nlq.readback import readback
from cohort_engine.spec import MAX_IDS, CohortSpec, ConceptSet, Domain, EventFilter
from cohort_engine.sql_guard.compiler import codeset_sql
from cohort_engine.sql_guard.runner import execute_internal

#: The label under which an API key derives its owner-box key (never the key's stored hash).
_BOX_LABEL = b"cohort-engine/owner-box/v1"
_BOX_PREFIX = "aesgcm1:"
#: Result fields that come from a person's words or are built from them; the concept-level result
#: leaves them out (the owner box keeps them).
_WORDED_FIELDS = ("spec", "readback", "notes", "clarifications", "resolutions", "sql", "message")


class NotKeptAtConceptLevel(ValueError):
    """A concept set that cannot be written as a list of concept ids: it selects none, or more than a
    spec may list. (An empty list would mean "any concept", the opposite of "none".)"""


def owner_box_key(api_key: str) -> bytes:
    """The 256-bit key of the owner's box: HMAC-SHA-256 of the API key under a fixed label."""
    return hmac.new(api_key.encode("utf-8"), _BOX_LABEL, hashlib.sha256).digest()


def seal_for_owner(payload: Mapping[str, Any], key: bytes, cohort_id: str) -> str:
    """``payload`` encrypted for the owner; the cohort id is bound in as associated data, so a box
    moved to another run does not open."""
    nonce = os.urandom(12)
    plain = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    sealed = AESGCM(key).encrypt(nonce, plain, cohort_id.encode("ascii"))
    return _BOX_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def open_owner_box(box: str | None, key: bytes | None, cohort_id: str) -> dict[str, Any] | None:
    """The owner's payload, or None for any other key (or no box)."""
    if not box or key is None or not box.startswith(_BOX_PREFIX):
        return None
    raw = base64.b64decode(box[len(_BOX_PREFIX) :])
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], cohort_id.encode("ascii"))
    except InvalidTag:
        return None
    out = json.loads(plain)
    return out if isinstance(out, dict) else None


def _resolved_ids(resolutions: Mapping[str, Sequence[Mapping[str, Any]]], key: str) -> set[int]:
    return {
        int(m["concept_id"])
        for r in resolutions.get(key, ())
        if r.get("status") == "resolved"
        for m in r.get("matches") or ()
    }


def _name_matched_ids(
    con: duckdb.DuckDBPyConnection, cs: ConceptSet, domain: Domain, timeout_s: float | None
) -> set[int]:
    """The concepts whose name or synonym contains one of ``cs.name_contains`` (the compiler's own
    matching, without descendants: those follow from ``include_descendants``)."""
    if not cs.name_contains:
        return set()
    sql = codeset_sql(ConceptSet(name_contains=cs.name_contains, include_descendants=False), domain, ())
    assert sql is not None
    cur = execute_internal(con, sql, timeout_s=timeout_s)
    try:
        return {int(r[0]) for r in cur.fetchall()}
    finally:
        cur.close()


def _concept_level_set(ids: set[int], cs: ConceptSet) -> ConceptSet:
    if not ids:
        raise NotKeptAtConceptLevel("a rule of this definition selects no concept in this mart")
    if len(ids) > MAX_IDS:
        raise NotKeptAtConceptLevel(
            f"a rule of this definition selects {len(ids)} concepts by name (a stored run lists at most "
            f"{MAX_IDS})"
        )
    return ConceptSet(
        concept_ids=sorted(ids),
        include_descendants=cs.include_descendants,
        exclude_concept_ids=cs.exclude_concept_ids,
    )


def concept_level_spec(
    spec: CohortSpec,
    resolutions: Mapping[str, Sequence[Mapping[str, Any]]],
    con: duckdb.DuckDBPyConnection,
    *,
    timeout_s: float | None = None,
) -> CohortSpec:
    """``spec`` with no word a person typed: concept sets as concept ids, no title.

    ``resolutions`` is the run's answer's (``AskResult.resolutions``, as JSON): the concepts each
    mention, code set and override resolved to, keyed ``index`` or by criterion label. Criterion
    labels stay: they name rules (manifests carry them) and, like the audit log, the state treats them
    as structure, not as free text.
    """

    def sealed(f: EventFilter, key: str) -> dict[str, Any]:
        cs = f.concepts
        if cs.is_empty():
            return {}
        ids = set(cs.concept_ids) | _resolved_ids(resolutions, key)
        ids |= _name_matched_ids(con, cs, f.domain, timeout_s)
        return {"concepts": _concept_level_set(ids, cs)}

    out = spec.model_copy(
        update={
            "title": None,
            "index": spec.index.model_copy(update=sealed(spec.index, "index")),
            "criteria": [c.model_copy(update=sealed(c, c.label)) for c in spec.criteria],
        }
    )
    # through validation once more: the result is a spec like any other
    return CohortSpec.model_validate(out.model_dump(mode="json"))


def concept_level_result(result: Mapping[str, Any], spec: CohortSpec | None) -> dict[str, Any]:
    """The stored form of an answer: counts, funnel, imaging and disclosure keys, with the concept-level
    spec and its read-back in place of the words."""
    out = {k: v for k, v in result.items() if k not in _WORDED_FIELDS}
    if spec is not None:
        out["spec"] = spec.model_dump(mode="json")
        out["readback"] = readback(spec)
    return out
