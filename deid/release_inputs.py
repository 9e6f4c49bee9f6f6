"""Checks on what a person hands an export: the release secret (file or environment) and the project key.

Why so strict: the secret keys every pseudonym, UID and date shift of a release.  A file anyone can
read (``/etc/shadow`` was accepted before) or a guessable phrase would let others recompute the
mappings; a project key such as ``..`` names folders and archives.  Errors say what was wrong and how
to make a good secret, never the content (nor the path's content).
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections import Counter
from pathlib import Path

from cohort_engine.deid.policy import PROJECT_KEY_PATTERN

__all__ = [
    "MAKE_SECRET_HINT",
    "MIN_SECRET_BITS",
    "MIN_SECRET_BYTES",
    "ReleaseInputError",
    "check_project_key",
    "check_secret",
    "read_private_file",
    "read_secret_file",
    "secret_entropy_bits",
]

MIN_SECRET_BYTES = 32
#: Empirical entropy floor: 32 random bytes as base64 measure ~200 bits; "aaaa…" or a short repeated
#: word measure far less.
MIN_SECRET_BITS = 128.0
_MIN_DISTINCT = 16
MAKE_SECRET_HINT = (
    "make one with: head -c 32 /dev/urandom | base64 > release.secret && chmod 600 release.secret"
)
_KEY_RE = re.compile(PROJECT_KEY_PATTERN)


class ReleaseInputError(ValueError):
    """A release input is unusable; the message says why and what to do (never a secret's content)."""


def secret_entropy_bits(data: bytes) -> float:
    """Empirical Shannon entropy per byte times the length: a floor check against weak text, not a proof."""
    if not data:
        return 0.0
    total = len(data)
    per_byte = -sum(c / total * math.log2(c / total) for c in Counter(data).values())
    return per_byte * total


def _repeats_short_pattern(data: bytes) -> bool:
    return any(data == (data[:n] * (len(data) // n + 1))[: len(data)] for n in range(1, 17))


def check_secret(data: bytes, source: str) -> bytes:
    """The secret if it is long and varied enough; else :class:`ReleaseInputError` naming ``source``."""
    if len(data) < MIN_SECRET_BYTES:
        raise ReleaseInputError(
            f"the release secret from {source} is too short (at least {MIN_SECRET_BYTES} bytes); "
            + MAKE_SECRET_HINT
        )
    if (
        len(set(data)) < _MIN_DISTINCT
        or secret_entropy_bits(data) < MIN_SECRET_BITS
        or _repeats_short_pattern(data)
    ):
        raise ReleaseInputError(
            f"the release secret from {source} looks like low-entropy text, not random key material; "
            + MAKE_SECRET_HINT
        )
    return data


def read_private_file(
    path: Path, *, what: str, owner: str, hint: str, max_bytes: int = 64 * 1024, kind: str = "release secret"
) -> bytes:
    """The bytes of ``path``: a regular file of this user, mode 0600 or stricter, ``max_bytes`` at most.

    Opened with ``O_NOFOLLOW`` and checked on the open descriptor (``fstat``), so a symlink or a file
    swapped between the check and the read is refused. Shared by every secret read from a file (the
    release secret here, the LLM API key in ``cohort_engine.parsers``): one check, one set of messages.
    ``what`` names the file in messages ("the secret file"), ``owner`` who must own it, ``hint`` how to
    make a good one, ``kind`` what a too-large file is not; no message holds the content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ReleaseInputError(f"{what} does not exist; {hint}") from None
    except OSError as e:
        if path.is_symlink():
            raise ReleaseInputError(f"{what} must be a regular file, not a symbolic link") from None
        raise ReleaseInputError(f"cannot open {what} ({type(e).__name__})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ReleaseInputError(f"{what} must be a regular file (not a folder, device or pipe)")
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            raise ReleaseInputError(f"{what} must be owned by {owner}; {hint}")
        if st.st_mode & 0o077:
            mode = stat.S_IMODE(st.st_mode)
            raise ReleaseInputError(
                f"{what} is readable or writable by other users (mode {mode:04o}); run: chmod 600 FILE"
            )
        if st.st_size > max_bytes:
            raise ReleaseInputError(f"{what} is larger than {max_bytes // 1024} KiB: it is not a {kind}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    return data


def read_secret_file(path: Path) -> bytes:
    """The secret in ``path``: a regular file of this user, mode 0600 or stricter, strong content."""
    data = read_private_file(
        path, what="the secret file", owner="the user running the export", hint=MAKE_SECRET_HINT
    )
    return check_secret(data.strip(), "the secret file")


def check_project_key(key: str) -> str:
    """The project key if it is a name (letters, digits, ``. _ -``; no ``..``, no path separators)."""
    if not _KEY_RE.fullmatch(key) or ".." in key:
        raise ReleaseInputError(
            "the project key must be a name of 1-64 characters: a letter or digit first, then letters, "
            "digits, '.', '_' or '-' (no '..', no '/'), e.g. lung-ct-2025"
        )
    return key
