"""spaCy's English stop words, without importing spaCy.

Why: the English rules read spaCy's stop-word list, and ``from spacy.lang.en.stop_words import
STOP_WORDS`` imports the whole spaCy package first (~0.5 s of every ``cohort ask``), while the list is a
plain Python file with no imports of its own. It is executed here from spaCy's installed copy, so the
words stay exactly spaCy's; a process that has imported spaCy already takes them from there.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load() -> set[str]:
    loaded = sys.modules.get("spacy.lang.en.stop_words")
    if loaded is not None:
        return set(loaded.STOP_WORDS)
    spec = importlib.util.find_spec("spacy")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("spaCy is not installed: the English stop words come from it")
    path = Path(spec.origin).parent / "lang" / "en" / "stop_words.py"
    namespace: dict[str, object] = {"__name__": "cohort_engine.nlq._spacy_en_stop_words"}
    exec(compile(path.read_text("utf-8"), str(path), "exec"), namespace)  # noqa: S102 - spaCy's own file
    words = namespace["STOP_WORDS"]
    if not isinstance(words, set):
        raise TypeError(f"{path}: STOP_WORDS is a {type(words).__name__}, expected a set")
    return words


#: The same words as ``spacy.lang.en.stop_words.STOP_WORDS`` (tests/test_rule_tokenizer.py).
STOP_WORDS: set[str] = _load()
