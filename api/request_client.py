"""A small client of the release request endpoints, for ``cohort requests …`` (and scripts).

Why a client in the API package rather than direct state-file access like ``cohort keys``: requests,
reviews and downloads are acts of a key holder (the server decides what that key may do, and audits
it), not of the operator of the mart host. The key comes from a 0600 file or ``COHORT_API_KEY``, never
from the command line (it would stay in shell history and in the process list).

Downloads resume: bytes already in ``<out>.part`` are kept and the rest is asked for with ``Range``;
once complete, the zip's SHA-256 must equal the server's (``ETag``) and every member its line in
``SHA256SUMS``, or the file is not moved into place.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from cohort_engine.api.release_package import CHECKSUMS

__all__ = ["DownloadResult", "RequestClient", "RequestClientError", "connect", "read_key", "verify_package"]

KEY_ENV = "COHORT_API_KEY"
_CHUNK = 1 << 16


class RequestClientError(Exception):
    """A refusal or failure, in words for the person at the terminal (the server's message)."""


class DownloadResult(BaseModel):
    path: str
    bytes: int
    sha256: str
    members_verified: int
    resumed_from: int


def read_key(key_file: Path | None) -> str:
    """The API key from ``key_file`` (this user's file, no access for group or others) or the env."""
    if key_file is not None:
        try:
            st = key_file.stat()
        except OSError:
            raise RequestClientError(f"cannot read the key file {key_file}") from None
        if st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
            raise RequestClientError(f"the key file {key_file} must be yours with mode 0600 (chmod 600 it)")
        key = key_file.read_text("utf-8").strip()
    else:
        key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise RequestClientError(f"no API key: give --key-file FILE (mode 0600) or set {KEY_ENV}")
    return key


def connect(server: str, key: str) -> httpx.Client:
    """An HTTP client of ``server`` sending ``key``; replaced in tests by the app's own test client."""
    return httpx.Client(base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _check(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            raise RequestClientError(f"{err['message']} ({r.status_code} {err['code']})")
        except (ValueError, KeyError, TypeError):
            raise RequestClientError(f"the server answered HTTP {r.status_code}") from None
    return r.json()


def verify_package(path: Path) -> int:
    """Check every member of the zip against ``SHA256SUMS``; returns how many were checked."""
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        if CHECKSUMS not in names:
            raise RequestClientError(f"the package has no {CHECKSUMS}")
        listed: dict[str, str] = {}
        for line in zf.read(CHECKSUMS).decode("utf-8").splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        if set(listed) != names - {CHECKSUMS}:
            raise RequestClientError(f"{CHECKSUMS} does not list exactly the package's members")
        for name, digest in listed.items():
            h = hashlib.sha256()
            with zf.open(name) as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            if h.hexdigest() != digest:
                raise RequestClientError(f"member {name} does not match its checksum")
    return len(listed)


class RequestClient:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def list_requests(self, status: str | None = None) -> list[dict[str, Any]]:
        return list(_check(self.http.get("/v1/requests", params={"status": status} if status else None)))

    def show(self, request_id: str) -> dict[str, Any]:
        return dict(_check(self.http.get(f"/v1/requests/{request_id}")))

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(_check(self.http.post("/v1/requests", json=body)))

    def review(self, request_id: str, decision: str, comment: str) -> dict[str, Any]:
        r = self.http.post(
            f"/v1/requests/{request_id}/reviews", json={"decision": decision, "comment": comment}
        )
        return dict(_check(r))

    def disclosure(self, request_id: str) -> dict[str, Any]:
        return dict(_check(self.http.get(f"/v1/requests/{request_id}/disclosure")))

    def download(
        self, request_id: str, out: Path, progress: Callable[[int, int], None] | None = None
    ) -> DownloadResult:
        """Fetch the package into ``out`` (resuming ``<out>.part``), verify it, then move it into place."""
        pkg = self.show(request_id)["package"]
        if pkg["status"] != "ready":
            raise RequestClientError(f"the package is {pkg['status']}, not ready to download")
        size, want = int(pkg["bytes"]), str(pkg["sha256"])
        part = out.with_name(out.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        if have > size:
            part.unlink()
            have = 0
        start = have
        if have < size:
            headers = {"Range": f"bytes={have}-"} if have else {}
            with self.http.stream("GET", f"/v1/requests/{request_id}/package", headers=headers) as r:
                if r.status_code >= 400:
                    r.read()
                    _check(r)
                if have and r.status_code != 206:  # the server sent the whole file: start over
                    have = start = 0
                fd = os.open(part, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if have else os.O_TRUNC), 0o600)
                with os.fdopen(fd, "ab" if have else "wb") as f:
                    for chunk in r.iter_bytes(_CHUNK):
                        f.write(chunk)
                        have += len(chunk)
                        if progress is not None:
                            progress(have, size)
        h = hashlib.sha256()
        with open(part, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        if h.hexdigest() != want:
            part.unlink()
            raise RequestClientError("the downloaded package does not match the server's SHA-256; run again")
        members = verify_package(part)
        os.replace(part, out)
        return DownloadResult(
            path=str(out), bytes=size, sha256=want, members_verified=members, resumed_from=start
        )
