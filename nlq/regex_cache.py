"""The parser's regular expressions, compiled once per user rather than once per process.

Why: the parser compiles ~380 regular expressions as its modules load, ~0.17 s of a one-shot
``cohort ask`` whose target is 0.8 s in all (issue 14), and Python keeps no compiled expression
between processes. CPython compiles an expression in two steps: parsing it and generating the
matcher's code, in Python (nearly all of the cost), then ``_sre.compile``, which builds the pattern
object from that code in C and checks the code is well formed. This module keeps the first step's
output (the code, the flags, the groups and their names) for every expression the parser compiled
through :func:`regex`, in one file per interpreter build, and builds the pattern from it with the
same ``_sre.compile`` call ``re`` makes: the same object ``re.compile`` returns, in ~2 % of the time.

When a file is used: its name is a hash of the interpreter's version and sre's own version
(``_sre.MAGIC``, ``CODESIZE``), so another Python never reads it; each entry is keyed by the
expression's text and flags, so a changed expression is a miss, compiled the normal way, and
written back when the process ends. What it holds: the parser's own expressions (its code and the
lexicon's words), never a question. Where: ``$COHORT_ENGINE_CACHE/regex``, mode 0600 in a 0700
folder, written atomically. Best effort everywhere: a missing, unreadable or foreign file, an entry
``_sre`` rejects, or a Python whose ``re`` internals differ costs the normal compile, never a parse.
"""

from __future__ import annotations

import atexit
import hashlib
import marshal
import re
import sys
from pathlib import Path
from typing import Any

from cohort_engine.cache_files import cache_root, write_private

try:  # CPython's sre internals (3.11+); anything else compiles the normal way
    import _sre
    from re import _compiler, _parser  # type: ignore[attr-defined]

    _INTERNALS = callable(getattr(_compiler, "_code", None)) and callable(getattr(_sre, "compile", None))
except ImportError:  # pragma: no cover - other interpreters
    _INTERNALS = False

#: (expression, flags) -> (flags in force, code, groups - 1, group index, index group)
_Entry = tuple[int, list[int], int, dict[str, int], tuple[str | None, ...]]
_Key = tuple[str, int]

#: At most this many entries are kept in the file: the expressions of one parser are ~400; the rest
#: are older versions of changed ones, dropped when the file outgrows this.
MAX_ENTRIES = 4000


def cache_file() -> Path:
    build = f"{sys.version}\x00{getattr(_sre, 'MAGIC', '')}\x00{getattr(_sre, 'CODESIZE', '')}"
    return cache_root() / "regex" / f"{hashlib.sha256(build.encode()).hexdigest()[:16]}.marshal"


class _Store:
    """The file's entries, read on first use; the entries this process used or added."""

    def __init__(self) -> None:
        self.known: dict[_Key, _Entry] | None = None
        self.used: dict[_Key, _Entry] = {}
        self.added = False

    def lookup(self, key: _Key) -> _Entry | None:
        if self.known is None:
            self.known = _read(cache_file())
        entry = self.known.get(key)
        if entry is not None:
            self.used[key] = entry
        return entry

    def add(self, key: _Key, entry: _Entry) -> None:
        if not self.added:
            self.added = True
            atexit.register(self.save)
        self.used[key] = entry

    def save(self) -> bool:
        """Write this process's entries over the file's (all of them, while the file stays small)."""
        if not self.added:
            return False
        known = self.known or {}
        merged = {**known, **self.used} if len(known) + len(self.used) <= MAX_ENTRIES else self.used
        self.added = False
        return write_private(cache_file(), marshal.dumps(merged), keep=4)


def _read(path: Path) -> dict[_Key, _Entry]:
    try:
        data = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


_STORE = _Store()


def _generate(pattern: str, flags: int) -> _Entry:
    """The first step of ``re._compiler.compile``: parse ``pattern`` and generate its code."""
    parsed = _parser.parse(pattern, flags)
    code = [int(op) for op in _compiler._code(parsed, flags)]  # opcodes are int subclasses
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, i in groupindex.items():
        indexgroup[i] = name
    return (flags | parsed.state.flags, code, parsed.state.groups - 1, groupindex, tuple(indexgroup))


def _build(pattern: str, entry: _Entry) -> re.Pattern[str]:
    """The second step: ``_sre.compile`` checks the code and makes the pattern object."""
    flags, code, groups, groupindex, indexgroup = entry
    built: Any = _sre.compile(pattern, flags, code, groups, groupindex, indexgroup)
    return built


def regex(pattern: str, flags: int | re.RegexFlag = 0) -> re.Pattern[str]:
    """``re.compile(pattern, flags)`` for the parser's expressions, from the cache where it can."""
    flags = int(flags)
    if not _INTERNALS or flags & re.DEBUG or not isinstance(pattern, str):
        return re.compile(pattern, flags)
    key = (pattern, flags)
    entry = _STORE.lookup(key)
    if entry is not None:
        try:
            return _build(pattern, entry)
        except (RuntimeError, TypeError, ValueError, OverflowError):
            pass  # an entry _sre rejects: compile it anew (re.compile raises for a bad pattern)
    try:
        entry = _generate(pattern, flags)
        compiled = _build(pattern, entry)
    except Exception:  # noqa: BLE001 - any drift in re's internals: the normal compile decides
        return re.compile(pattern, flags)
    _STORE.add(key, entry)
    return compiled


def save() -> bool:
    """Write the entries compiled so far (the process also does this when it ends)."""
    return _STORE.save()
