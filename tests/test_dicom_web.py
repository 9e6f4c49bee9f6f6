"""DICOMweb crawl against a real Orthanc server (Debian ``orthanc`` + ``orthanc-dicomweb``) on loopback.

Why a real server: QIDO-RS/WADO-RS JSON differs between servers in ways a mock would not show (numbers
as JSON numbers, PN objects, 204 for empty results, paging); Orthanc is the PACS most hospitals' research
groups run.  The server is started once per module with its own configuration in a temp folder (HTTP on
a free loopback port, DICOM server off, no remote access, no authentication), loaded with demo files.
Faults (500s, garbage bodies, connection errors) are injected by wrapping the real HTTP transport.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pydicom
import pytest
from typer.testing import CliRunner

from cohort_engine.dicom_index.dicomweb import (
    EmptyServerError,
    TokenBucket,
    crawl_dicomweb,
    normalise_base_url,
)
from cohort_engine.dicom_index.indexer import index_folders
from cohort_engine.dicom_index.link import link_mart
from tests.dicom_fixtures import make_tiny_mart

ORTHANC_PLUGINS = "/usr/share/orthanc/plugins"
ATTRS = (
    "sop_instance_uid, series_instance_uid, study_instance_uid, patient_id, sop_class_uid, study_date, "
    "study_time, series_date, modality, body_part_examined, study_description, series_description, "
    "accession_number, manufacturer, manufacturer_model_name, image_rows, image_columns, slice_thickness, "
    "number_of_frames, series_number, instance_number, burned_in_annotation"
)
UID_RE = re.compile(r"\d+(\.\d+){4,}|2\.25\.\d{10,}")  # five or more components: not an IP address


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _orthanc_binary() -> str:
    found = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
    if not found:
        raise RuntimeError(
            "Orthanc is not installed; run scripts/setup-system.sh (Debian: orthanc orthanc-dicomweb)"
        )
    return found


def _dicomweb_plugin() -> str:
    for pattern in (f"{ORTHANC_PLUGINS}/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so*"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    raise RuntimeError(
        "the Orthanc DICOMweb plugin is not installed; run scripts/setup-system.sh (orthanc-dicomweb)"
    )


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh Orthanc on a free loopback port; yields its DICOMweb root URL."""
    root = tmp_path_factory.mktemp("orthanc")
    port = _free_port()
    config = {
        "Name": "cohort-engine-test",
        "StorageDirectory": str(root / "storage"),
        "IndexDirectory": str(root / "storage"),
        "StorageCompression": False,
        "Plugins": [_dicomweb_plugin()],
        "HttpServerEnabled": True,
        "HttpPort": port,
        "HttpThreadsCount": 4,
        "HttpCompressionEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": False,
        "DicomPort": _free_port(),
        "SaveJobs": False,
        "ConcurrentJobs": 1,
        "LimitFindResults": 0,
        "LimitFindInstances": 0,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }
    cfg = root / "orthanc.json"
    cfg.write_text(json.dumps(config))
    log = (root / "orthanc.log").open("wb")
    proc = subprocess.Popen([_orthanc_binary(), str(cfg)], stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError("Orthanc exited at start:\n" + (root / "orthanc.log").read_text()[-2000:])
            try:
                if httpx.get(f"{base}/dicom-web/studies", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not answer within 30 s")
            time.sleep(0.1)
        yield f"{base}/dicom-web"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def loaded(orthanc: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path, int]:
    """Demo files of a tiny mart, uploaded to Orthanc and indexed from their folder (the reference)."""
    root = tmp_path_factory.mktemp("web")
    mart = root / "mart.duckdb"
    make_tiny_mart(mart, persons=15, studies=7, seed=5)
    from cohort_engine.dicom_index.demo import write_demo_dicom

    n = write_demo_dicom(mart, root / "dicom", seed=9)
    server = orthanc.rsplit("/dicom-web", 1)[0]
    with httpx.Client(timeout=30) as client:
        for p in sorted((root / "dicom").rglob("*")):
            if p.is_file():
                r = client.post(f"{server}/instances", content=p.read_bytes())
                assert r.status_code == 200, r.text
    folder_mart = root / "folder.duckdb"
    shutil.copy(mart, folder_mart)
    rep = index_folders(folder_mart, [root / "dicom"], workers=1)
    assert rep.indexed == n
    return orthanc, mart, folder_mart, n


def _rows(mart: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(mart), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _fresh(mart: Path, tmp_path: Path, name: str = "crawl.duckdb") -> Path:
    out = tmp_path / name
    shutil.copy(mart, out)
    return out


class _Recording(httpx.BaseTransport):
    """The real transport, with request times recorded and faults injected by URL."""

    def __init__(self, faults: dict[str, Callable[[httpx.Request], httpx.Response]] | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.faults = faults or {}
        self.times: list[float] = []
        self.urls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.times.append(time.monotonic())
        url = str(request.url)
        self.urls.append(url)
        for needle, fault in self.faults.items():
            if needle in url:
                return fault(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


# --- the crawl equals the folder index ------------------------------------------------------------------


@pytest.mark.orthanc
def test_crawl_equals_folder_index_and_rerun_skips(
    loaded: tuple[str, Path, Path, int], tmp_path: Path
) -> None:
    url, mart, folder_mart, n = loaded
    crawl = _fresh(mart, tmp_path)
    rep = crawl_dicomweb(crawl, url + "/", rate=1000, page_size=2)  # small pages: every listing pages
    assert (rep.studies_listed, rep.studies_crawled, rep.studies_skipped_unchanged) == (7, 7, 0)
    assert (rep.instances_written, rep.quarantined, rep.listing_complete) == (n, 0, True)
    assert (rep.studies, rep.instances) == (7, n)

    order = " ORDER BY sop_instance_uid"
    assert _rows(crawl, f"SELECT {ATTRS} FROM dicom_instance{order}") == _rows(
        folder_mart, f"SELECT {ATTRS} FROM dicom_instance{order}"
    )
    series_cols = (
        "series_instance_uid, study_instance_uid, patient_id, modality, body_part_examined, series_date, "
        "series_number, series_description, sop_class_uid, manufacturer, manufacturer_model_name, "
        "slice_thickness, image_rows, image_columns, burned_in_annotation, n_instances, n_files"
    )
    assert _rows(crawl, f"SELECT {series_cols} FROM dicom_series ORDER BY 1") == _rows(
        folder_mart, f"SELECT {series_cols} FROM dicom_series ORDER BY 1"
    )
    assert _rows(crawl, "SELECT * FROM dicom_study ORDER BY 1") == _rows(
        folder_mart, "SELECT * FROM dicom_study ORDER BY 1"
    )

    # What only files have is NULL, and the path is the WADO-RS instance URL.
    for path, size, mtime, digest, ts, total, sop, se, st in _rows(
        crawl,
        """
            SELECT i.path, i.file_size, i.file_mtime_ns, i.content_hash, i.transfer_syntax_uid, s.total_bytes,
                   i.sop_instance_uid, i.series_instance_uid, i.study_instance_uid
            FROM dicom_instance i JOIN dicom_series s USING (series_instance_uid)""",
    ):
        assert path == f"{url}/studies/{st}/series/{se}/instances/{sop}"
        assert (size, mtime, digest, ts, total) == (None, None, None, None, None)

    # A re-run lists the studies and skips every one of them: one request per page of 2 studies.
    again = crawl_dicomweb(crawl, url, rate=1000, page_size=2)
    assert (again.studies_crawled, again.studies_skipped_unchanged, again.instances_written) == (0, 7, 0)
    assert again.requests == 4 and again.instances == n

    # The link step fills wadors_uri (no local path) for crawled series.
    link = link_mart(crawl)
    assert link.studies_linked == 7 and not link.studies_unlinked
    for uri, local, st, se in _rows(
        crawl, "SELECT wadors_uri, local_path, image_study_uid, image_series_uid FROM image_occurrence"
    ):
        assert (uri, local) == (f"{url}/studies/{st}/series/{se}", None)


@pytest.mark.orthanc
def test_crawl_of_instances_indexed_from_files_does_not_double_them(
    loaded: tuple[str, Path, Path, int], tmp_path: Path
) -> None:
    url, _, folder_mart, n = loaded
    both = _fresh(folder_mart, tmp_path, "both.duckdb")
    before = _rows(both, "SELECT count(*), sum(file_size) FROM dicom_instance")
    rep = crawl_dicomweb(both, url, rate=1000)
    assert (rep.studies_crawled, rep.instances_written, rep.duplicates_skipped) == (7, 0, n)
    assert rep.instances == n
    assert _rows(both, "SELECT count(*), sum(file_size) FROM dicom_instance") == before
    assert _rows(both, "SELECT count(DISTINCT sop_instance_uid) FROM dicom_instance") == [(n,)]


@pytest.mark.orthanc
def test_changed_study_is_crawled_again_and_gone_studies_are_removed(
    loaded: tuple[str, Path, Path, int], tmp_path: Path
) -> None:
    url, mart, _, n = loaded
    server = url.rsplit("/dicom-web", 1)[0]
    crawl = _fresh(mart, tmp_path)
    crawl_dicomweb(crawl, url, rate=1000)
    (path,) = _rows(crawl, "SELECT min(path) FROM dicom_instance")[0]
    study_uid = _rows(crawl, "SELECT study_instance_uid FROM dicom_instance WHERE path = ?", [path])[0][0]
    # One more instance in one study: only that study is crawled again.
    ref = next(
        p
        for p in sorted(Path(mart).parent.joinpath("dicom").rglob("*"))
        if p.is_file() and pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID == study_uid
    )
    ds = pydicom.dcmread(ref)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID + ".99"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    added = httpx.post(f"{server}/instances", content=buf.getvalue(), timeout=30).json()["ID"]
    try:
        rep = crawl_dicomweb(crawl, url, rate=1000)
        assert (rep.studies_crawled, rep.studies_skipped_unchanged, rep.instances) == (1, 6, n + 1)
        assert (
            _rows(crawl, "SELECT count(*) FROM dicom_instance WHERE study_instance_uid = ?", [study_uid])[0][
                0
            ]
            == _rows(crawl, "SELECT n_instances FROM dicom_study WHERE study_instance_uid = ?", [study_uid])[
                0
            ][0]
        )
    finally:
        httpx.delete(f"{server}/instances/{added}", timeout=30)
    rep = crawl_dicomweb(crawl, url, rate=1000)
    assert (rep.studies_crawled, rep.instances) == (1, n)

    # A server that suddenly lists nothing is refused (a wrong URL must not wipe the index) …
    empty = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    with pytest.raises(EmptyServerError) as info:
        crawl_dicomweb(crawl, url, transport=empty)
    assert study_uid not in str(info.value)
    assert _rows(crawl, "SELECT count(*) FROM dicom_instance")[0][0] == n
    # … unless the operator says the studies are really gone.
    rep = crawl_dicomweb(crawl, url, transport=empty, allow_empty=True)
    assert (rep.studies_removed, rep.instances) == (7, 0)


@pytest.mark.orthanc
def test_rate_limit_is_respected_and_bounded(loaded: tuple[str, Path, Path, int], tmp_path: Path) -> None:
    url, mart, _, n = loaded
    transport = _Recording()
    rate, burst = 40.0, 2.0
    rep = crawl_dicomweb(_fresh(mart, tmp_path), url, rate=rate, burst=burst, transport=transport)
    assert rep.instances_written == n and rep.requests == len(transport.times) > 20
    t = transport.times
    # Token bucket bound: any k consecutive requests span at least (k - burst) / rate seconds.
    slack = 0.01
    for i in range(len(t)):
        for j in range(i + int(burst), len(t)):
            assert t[j] - t[i] >= (j - i + 1 - burst) / rate - slack, (i, j)
    assert rep.elapsed_s >= (len(t) - burst) / rate - slack and rep.waited_s > 0


def test_token_bucket_bound_with_a_fake_clock() -> None:
    now = [0.0]
    taken: list[float] = []

    def sleep(s: float) -> None:
        now[0] += s

    bucket = TokenBucket(5.0, 3.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(50):
        bucket.acquire()
        taken.append(now[0])
        now[0] += 0.01  # work between requests
    for i in range(len(taken)):
        for j in range(i, len(taken)):
            assert j - i + 1 <= 3 + 5 * (taken[j] - taken[i]) + 1e-9
    assert taken[2] < 0.1 and taken[3] >= 0.2 - 1e-9  # burst of 3, then one per 0.2 s
    with pytest.raises(ValueError):
        TokenBucket(0)
    with pytest.raises(ValueError):
        TokenBucket(1, 0.5)


# --- bad responses are reported, never fatal -----------------------------------------------------------


@pytest.mark.orthanc
def test_bad_responses_are_quarantined_with_reasons_and_retried_next_run(
    loaded: tuple[str, Path, Path, int], tmp_path: Path
) -> None:
    url, mart, _, n = loaded
    crawl = _fresh(mart, tmp_path)
    studies = sorted(r[0] for r in _rows(Path(loaded[2]), "SELECT study_instance_uid FROM dicom_study"))
    series = _rows(
        Path(loaded[2]),
        "SELECT study_instance_uid, series_instance_uid, n_instances FROM dicom_series ORDER BY 1, 2",
    )
    (st_a, se_a, n_a) = next(s for s in series if s[0] == studies[0])
    st_b, st_c, st_d = studies[1], studies[2], studies[3]
    n_b = sum(s[2] for s in series if s[0] == st_b)
    n_c = sum(s[2] for s in series if s[0] == st_c)
    n_d = sum(s[2] for s in series if s[0] == st_d)
    (st_e, se_e, _) = next(s for s in series if s[0] == studies[4])

    def dead(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    faults: dict[str, Callable[[httpx.Request], httpx.Response]] = {
        f"/series/{se_a}/metadata": lambda r: httpx.Response(500, text="internal error"),
        f"/studies/{st_b}/series?": lambda r: httpx.Response(200, text="<html>proxy login</html>"),
        f"/studies/{st_c}/series?": lambda r: httpx.Response(200, json={"not": "an array"}),
        f"/studies/{st_d}/series?": dead,
        f"/series/{se_e}/instances?": lambda r: httpx.Response(200, json=[{"00080018": {"vr": "UI"}}]),
    }
    transport = _Recording(faults)
    slept: list[float] = []
    rep = crawl_dicomweb(crawl, url, rate=1000, retries=1, transport=transport, sleep=slept.append)
    assert rep.listing_complete and rep.studies_listed == 7
    assert rep.quarantine_reasons == {
        "DICOMweb QIDO instances: item without a valid SOPInstanceUID": 1,
        "DICOMweb QIDO series: connection error (ConnectError)": 1,
        "DICOMweb QIDO series: response is not JSON": 1,
        "DICOMweb QIDO series: response is not a DICOM JSON array": 1,
        "DICOMweb WADO-RS series metadata: HTTP 500": 1,
    }
    assert rep.studies_incomplete == 5 and rep.retries == 1 and slept  # the connection error was retried once
    assert rep.instances == n - n_a - n_b - n_c - n_d  # what could be read is indexed
    for (reason,) in _rows(crawl, "SELECT reason FROM dicom_quarantine"):
        assert not UID_RE.search(reason)

    # The next run, with the server healthy, completes exactly the incomplete studies.
    again = crawl_dicomweb(crawl, url, rate=1000)
    assert (again.studies_crawled, again.studies_skipped_unchanged, again.quarantined, again.instances) == (
        5,
        2,
        0,
        n,
    )
    assert _rows(crawl, "SELECT count(*) FROM dicom_quarantine")[0][0] == 0


@pytest.mark.orthanc
def test_listing_failure_is_reported_and_keeps_the_index(
    loaded: tuple[str, Path, Path, int], tmp_path: Path
) -> None:
    url, mart, _, n = loaded
    crawl = _fresh(mart, tmp_path)
    crawl_dicomweb(crawl, url, rate=1000)
    transport = _Recording({"/studies?limit=2&offset=2": lambda r: httpx.Response(503)})
    rep = crawl_dicomweb(
        crawl, url, rate=1000, page_size=2, retries=2, transport=transport, sleep=lambda s: None
    )
    assert not rep.listing_complete
    assert rep.quarantine_reasons == {"DICOMweb QIDO studies: HTTP 503": 1} and rep.retries == 2
    assert (rep.studies_listed, rep.studies_removed, rep.instances) == (2, 0, n)  # nothing removed
    # Garbage listings and unreachable servers: reported, not raised.
    for transport2 in (
        httpx.MockTransport(lambda r: httpx.Response(200, content=b"\x00\xff garbage")),
        httpx.MockTransport(
            lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")
        ),
        httpx.MockTransport(
            lambda r: httpx.Response(200, json=[{"0020000D": {"vr": "UI", "Value": ["1/../x"]}}])
        ),
    ):
        rep = crawl_dicomweb(crawl, url, rate=1000, transport=transport2, retries=0)
        assert (rep.quarantined, rep.listing_complete, rep.studies_removed, rep.instances) == (1, False, 0, n)


@pytest.mark.orthanc
def test_crawl_logs_no_uid(
    loaded: tuple[str, Path, Path, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, mart, _, _ = loaded
    with caplog.at_level(logging.DEBUG):
        crawl_dicomweb(_fresh(mart, tmp_path), url, rate=1000)
        httpx.get(f"{url}/studies", timeout=10)  # httpx outside a crawl still logs
    assert not [r for r in caplog.records if UID_RE.search(r.getMessage())]
    assert [r for r in caplog.records if r.name == "httpx"]


def test_base_url_credentials_are_used_not_stored() -> None:
    assert normalise_base_url("https://user:secret@pacs.example:8443/dicom-web/") == (
        "https://pacs.example:8443/dicom-web",
        ("user", "secret"),
    )
    for bad in ("ftp://pacs/dicom-web", "http://pacs/dicom-web?x=1", "not a url"):
        with pytest.raises(ValueError):
            normalise_base_url(bad)


@pytest.mark.orthanc
def test_cli_index_dicomweb_prints_counts_only(loaded: tuple[str, Path, Path, int], tmp_path: Path) -> None:
    from cohort_engine.cli import app

    url, mart, folder_mart, n = loaded
    crawl = _fresh(mart, tmp_path)
    result = CliRunner().invoke(app, ["index", "--mart", str(crawl), "--dicomweb", url, "--rate", "500/s"])
    assert result.exit_code == 0, result.output
    assert "DICOMweb crawl" in result.output and "linking to the mart" in result.output
    secrets = {r[0] for r in _rows(folder_mart, "SELECT DISTINCT patient_id FROM dicom_instance")}
    secrets |= {r[0] for r in _rows(folder_mart, "SELECT DISTINCT study_instance_uid FROM dicom_instance")}
    assert not any(s in result.output for s in secrets)
    result = CliRunner().invoke(
        app, ["index", "--mart", str(crawl), "--dicomweb", url, "--json", "--no-link"]
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["dicomweb"]["studies_skipped_unchanged"] == 7 and data["dicomweb"]["instances"] == n
    bad = CliRunner().invoke(app, ["index", "--mart", str(crawl), "--dicomweb", url, "--rate", "fast"])
    assert bad.exit_code == 2
