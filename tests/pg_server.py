"""A throwaway PostgreSQL server for tests: initdb in a temp folder, unix socket only, stopped after.

Runs the Debian PostgreSQL binaries (installed by scripts/setup-system.sh) as the `postgres` user,
because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise RuntimeError(f"PostgreSQL's {name} is not installed; run scripts/setup-system.sh")


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres_server(port: int = 55432) -> Iterator[str]:
    """Yield a libpq connection string for a fresh cluster in a new temp folder (removed after).

    Not under pytest's tmp_path: that is private to root, and the server runs as `postgres`."""
    base = Path(tempfile.mkdtemp(prefix="cohort-pg-"))
    data = base / "pgdata"
    sock = base / "sock"
    data.mkdir(parents=True)
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(data, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(base, 0o755)
    subprocess.run(
        _as_postgres(
            [_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
        ),
        check=True,
        capture_output=True,
    )
    log = base / "server.log"
    subprocess.run(
        _as_postgres(
            [
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c full_page_writes=off",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"host={sock} port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]), capture_output=True
        )
        time.sleep(0.1)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def persistent_postgres_server(data: Path, port: int = 55433) -> Iterator[str]:
    """Yield a libpq connection string for the cluster in ``data`` (created on first use, kept after):
    a benchmark loads a large mart once and reuses it. The server is stopped on exit."""
    data = Path(data).resolve()
    sock = Path(tempfile.mkdtemp(prefix="cohort-pg-sock-"))
    for folder in (data.parent, sock):
        folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(sock, "postgres")
    if not (data / "PG_VERSION").is_file():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
        subprocess.run(
            _as_postgres(
                [_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
    subprocess.run(
        _as_postgres(
            [
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "-o",
                f"-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c full_page_writes=off "
                "-c shared_buffers=512MB -c work_mem=64MB -c max_parallel_workers_per_gather=0",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"host={sock} port={port} user=postgres dbname=postgres"
    finally:
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]), capture_output=True
        )
        shutil.rmtree(sock, ignore_errors=True)
