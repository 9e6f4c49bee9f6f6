"""``morph.prefetch_for``: a Korean question starts loading Kiwi in the background (so a one-shot
``cohort ask`` overlaps the model load with its imports), an English one loads nothing, and the
analyses are the same as without it."""

from __future__ import annotations

import json
import subprocess
import sys

from cohort_engine.seed import SEED_EN, SEED_KO

PROBE = """
import json, sys
from cohort_engine.nlq import morph
started = morph.prefetch_for(sys.argv[1]) if sys.argv[2] == "prefetch" else None
imported = "kiwipiepy" in sys.modules
again = morph.prefetch_for(sys.argv[1]) if started else None
out = {"started": started, "again": again, "imported": imported}
if any("\\uac00" <= c <= "\\ud7a3" for c in sys.argv[1]):
    out["morphs"] = [[m.form, m.tag, m.lemma, m.start, m.end] for m in morph.analyse(sys.argv[1])]
print(json.dumps(out))
"""


def _probe(question: str, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, question, mode], capture_output=True, text=True, timeout=120, check=True
    )
    return dict(json.loads(done.stdout))


def test_english_loads_no_kiwi() -> None:
    assert _probe(SEED_EN, "prefetch") == {"started": False, "again": None, "imported": False}


def test_korean_prefetch_gives_the_same_analysis() -> None:
    warm, cold = _probe(SEED_KO, "prefetch"), _probe(SEED_KO, "plain")
    assert (warm["started"], warm["again"], cold["started"]) == (True, False, None)
    assert warm["morphs"] == cold["morphs"] != []
