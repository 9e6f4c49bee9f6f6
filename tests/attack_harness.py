"""The attack suite's harness: a real server in a subprocess, keys of every role, an HTTP client that
records every status it sees, and ground truth read directly from the mart file.

Why a real server and not the in-process TestClient: an attacker talks HTTP to `cohort serve`; resource
limits, timeouts, concurrency caps and log output only show up in the real process.

Why ground truth from the mart file (read-only DuckDB, the pipeline's own compiler, no API layer): an
attack succeeds when what the API shows pins down a true value; only the true values can tell.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.served import served

#: Roles the suite holds keys for (two researchers and two stewards: ownership and four-eyes checks).
KEY_ROLES = {
    "researcher": "researcher",
    "researcher2": "researcher",
    "steward": "steward",
    "steward2": "steward",
    "export_client": "export_client",
    "admin": "admin",
}
#: The server's per-query time limit in the suite (short, so the runaway-query attacks stay quick).
QUERY_TIMEOUT_S = 5.0


@dataclass
class Seen:
    role: str
    method: str
    path: str
    status: int


@dataclass
class Server:
    """The running server, its keys, and every response status the suite saw."""

    base: str
    keys: dict[str, str]
    mart: Path
    state: Path
    log: Path
    proc: subprocess.Popen[bytes]
    seen: list[Seen] = field(default_factory=list)

    def req(
        self,
        role: str | None,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120.0,
    ) -> httpx.Response:
        h = dict(headers or {})
        if role is not None:
            h["Authorization"] = f"Bearer {self.keys[role]}"
        if content is not None:
            h.setdefault("Content-Type", "application/json")
        r = httpx.request(
            method,
            self.base + path,
            json=json,
            content=content,
            params=params,
            headers=h,
            timeout=timeout,
        )
        self.seen.append(Seen(role or "-", method, path, r.status_code))
        return r

    def alive(self) -> bool:
        try:
            return httpx.get(f"{self.base}/v1/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False


def start_server(mart: Path, workdir: Path) -> Iterator[Server]:
    """`cohort serve` on a free port over ``mart`` with a fresh state file; yields, then stops it."""
    with served(mart, workdir, KEY_ROLES, args=["--timeout", str(QUERY_TIMEOUT_S)], log_level="info") as s:
        yield Server(base=s.base, keys=s.keys, mart=mart, state=s.state, log=s.log, proc=s.proc)


# --- what a researcher reads off a count -----------------------------------------------------------

_INT = re.compile(r"^\d+$")


def shown(display: str | None) -> int | None:
    """The number an attacker reads off a displayed count: a plain integer, or None (hidden, '<k', band)."""
    if display is None:
        return None
    d = display.strip().replace(",", "")
    return int(d) if _INT.match(d) else None


def hidden(display: str | None) -> bool:
    """True when the display withholds the number (threshold '<k', 'suppressed', or a band)."""
    return shown(display) is None


def body_text(r: httpx.Response) -> str:
    return r.content.decode("utf-8", errors="replace")
