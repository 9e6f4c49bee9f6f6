"""Where cohort-engine keeps its per-user cache files, and how it writes one.

Why one module: the parser's tokenizer rules and compiled expressions, the resolver's concept-name
index and the demo vocabulary are each kept in a file so a one-shot ``cohort ask`` need not rebuild
them; they share one root folder and one way to write (atomically, so two processes racing write
identical files; mode 0600 in a 0700 folder; the oldest files beyond a count removed).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def cache_root() -> Path:
    """``$COHORT_ENGINE_CACHE``, default ``~/.cache/cohort-engine``."""
    return Path(os.environ.get("COHORT_ENGINE_CACHE") or Path.home() / ".cache" / "cohort-engine")


def write_private(path: Path, data: bytes, *, keep: int) -> bool:
    """Write ``data`` to ``path`` atomically, then keep only the ``keep`` newest files of its folder
    with its suffix; True when written. Best effort: an unwritable cache is no error."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        rest = sorted(
            (old for old in path.parent.glob(f"*{path.suffix}") if old != path),
            key=lambda old: old.stat().st_mtime_ns,
            reverse=True,
        )
        for old in rest[keep - 1 :]:
            old.unlink(missing_ok=True)
    except OSError:
        return False
    return True
