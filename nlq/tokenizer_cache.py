"""The parser's tokenizer rules and lexicon patterns, kept in a file so a process need not import spaCy.

Why: ``cohort ask`` is a new process for every question, and importing spaCy, building its blank
pipelines and the lexicon's ``PhraseMatcher`` cost ~1 s of CPU before the first word is parsed. What
the parser uses of all that is data (``nlq.spacy_rules.TokenizerData``): this module reads it from
one JSON file (~10 ms) and only on a miss imports spaCy to build it, then writes the file.

When a file is used: its name is a hash of spaCy's version file, the source of the modules that
extract and run the rules (``nlq.spacy_rules``, ``nlq.rule_tokenizer``) and the lexicon's aliases.
Another spaCy, changed extraction code or an edited lexicon looks for another file, so a stale one
is never read. What it holds: spaCy's tokenizer rules and the lexicon's words, nothing typed by a
user. Where: ``$COHORT_ENGINE_CACHE/tokenizer`` (default ``~/.cache/cohort-engine``, as the other
caches), written atomically (two processes racing write identical files), mode 0600 in a 0700
folder, at most :data:`KEEP` files. Best effort: a missing, unreadable, invalid or unwritable file
costs the spaCy build, never a parse; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from pydantic import ValidationError

from cohort_engine.cache_files import cache_root, write_private
from cohort_engine.nlq import rule_tokenizer
from cohort_engine.nlq.lexicon import aliases
from cohort_engine.nlq.rule_tokenizer import TokenizerData

#: Files kept (the newest): one per spaCy/lexicon/code version met, so a handful is plenty.
KEEP = 4


def cache_dir() -> Path:
    """``$COHORT_ENGINE_CACHE/tokenizer`` (default ``~/.cache/cohort-engine/tokenizer``)."""
    return cache_root() / "tokenizer"


def _spacy_version_file() -> bytes:
    """spaCy's ``about.py``, found without importing spaCy (``find_spec`` of a top-level package
    only locates it)."""
    spec = importlib.util.find_spec("spacy")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("spaCy is not installed: the parser's tokenizer rules come from it")
    return (Path(spec.origin).parent / "about.py").read_bytes()


def stamp() -> str:
    """What the data depends on, hashed (see the module's docstring)."""
    h = hashlib.sha256()
    h.update(_spacy_version_file())
    here = Path(rule_tokenizer.__file__).parent
    for module in ("spacy_rules.py", "rule_tokenizer.py"):
        h.update(b"\x00" + (here / module).read_bytes())
    h.update(json.dumps([(a.text, a.key, a.case) for a in aliases()], ensure_ascii=False).encode())
    return h.hexdigest()[:32]


def cache_file() -> Path:
    return cache_dir() / f"{stamp()}.json"


def load(path: Path) -> TokenizerData | None:
    """The data in ``path``; None when it is missing, unreadable or not valid."""
    try:
        return TokenizerData.model_validate_json(path.read_bytes())
    except (OSError, ValueError, ValidationError):
        return None


def save(path: Path, data: TokenizerData) -> bool:
    """Write ``data`` to ``path`` atomically and prune old files; True when written."""
    return write_private(path, data.model_dump_json().encode(), keep=KEEP)


def data() -> TokenizerData:
    """The rules and patterns: from the cache file, else built from spaCy (and the file written)."""
    path = cache_file()
    found = load(path)
    if found is not None:
        return found
    from cohort_engine.nlq.spacy_rules import tokenizer_data

    built = tokenizer_data(aliases())
    save(path, built)
    return built
