"""A real `cohort serve` in a subprocess, for the tests and benchmarks that talk to it over HTTP.

One helper for the chat UI tests, the attack suite and the load benchmark: a fresh state file with the
keys asked for, a free loopback port, a health poll until the server answers, and a clean stop.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from cohort_engine.api.state import StateStore


@dataclass
class Served:
    base: str
    #: name → bearer key, as asked for in ``keys``
    keys: dict[str, str]
    state: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base}/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(
    mart: Path,
    workdir: Path,
    keys: Mapping[str, str],
    *,
    args: Sequence[str] = (),
    log_level: str = "warning",
    start_timeout_s: float = 60.0,
) -> Iterator[Served]:
    """Serve ``mart`` with a new state file under ``workdir``; ``keys`` maps a name to a role."""
    state = workdir / "cohort_state.sqlite"
    store = StateStore(state)
    made = {name: store.create_key(role, f"test-{name}")[1] for name, role in keys.items()}
    store.close()
    port = free_port()
    log = workdir / "server.log"
    command = [sys.executable, "-m", "cohort_engine.cli", "serve", "--mart", str(mart), "--state", str(state)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", log_level, *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    srv = Served(base=f"http://127.0.0.1:{port}", keys=made, state=state, log=log, proc=proc)
    try:
        deadline = time.monotonic() + start_timeout_s
        while not srv.healthy():
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start in {start_timeout_s:.0f} s")
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
