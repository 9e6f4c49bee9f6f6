"""Crawl a DICOMweb server (a PACS, Orthanc, dcm4chee …) into the same index tables as the folder indexer.

Why a crawler and not a DICOM C-FIND client: DICOMweb is what PACS expose to other software today
(plain HTTPS, JSON, paging), and QIDO-RS + WADO-RS *metadata* give every indexed attribute without
moving a single pixel.

How a run goes:

1. ``GET {base}/studies?limit=L&offset=O`` (QIDO-RS), page after page until a short page; each page's
   studies are crawled before the next page is asked for, so memory stays flat on a large PACS (a
   study stored while the crawl pages may shift the offsets and be missed: the next run finds it);
2. a study whose (NumberOfStudyRelatedInstances, NumberOfStudyRelatedSeries) equals what the last
   complete crawl of it recorded (``dicom_web_state``) is skipped: that is what makes a re-run cheap
   and a killed run resumable;
3. otherwise ``GET /studies/{st}/series`` (QIDO-RS, paged), and per series
   ``GET /studies/{st}/series/{se}/instances`` (QIDO-RS, paged) and
   ``GET /studies/{st}/series/{se}/metadata`` (WADO-RS): one ``dicom_instance`` row per instance with
   the same attributes and value semantics as a file's header (``dicom_index.header``);
4. each study is committed in one transaction that replaces its earlier rows and records it as
   complete — only when nothing about it had to be quarantined, so a study with a failed request is
   retried by the next run;
5. when the listing completed with only valid items (``listing_complete``), studies the server no
   longer lists are removed; then ``dicom_series`` and ``dicom_study`` are rebuilt from
   ``dicom_instance``.

What lands where: ``path`` is the WADO-RS instance URL ``{base}/studies/{st}/series/{se}/instances/
{sop}`` (credentials in the base URL are used for HTTP basic auth and never stored); ``file_size``,
``file_mtime_ns`` and ``content_hash`` are NULL because neither QIDO-RS nor WADO-RS metadata carries a
file size, time or the file's bytes (``dicom_series.total_bytes`` is then NULL); ``transfer_syntax_uid``
is taken from the metadata when the server includes (0002,0010) or AvailableTransferSyntaxUID
(0008,3002), else NULL (Orthanc includes neither).

Politeness and failure: every request (retries included) takes a token from a token bucket of
``rate`` requests/s and capacity ``burst`` (default ``max(1, rate)``), so any window of t seconds
holds at most ``burst + rate·t`` requests.  429/502/503/504 and transport errors are retried (at most
``retries`` times, bounded back-off); every other bad response — an HTTP error, a body that is not
DICOM JSON, an item without UIDs, a UID that cannot be part of a URL, an instance the metadata lacks —
becomes a ``dicom_quarantine`` row (path = the URL that failed, reason = what went wrong, never a
value) and the crawl goes on.  Nothing raises on a bad server except an empty listing where the
mart holds rows from that server (:class:`EmptyServerError`, the DICOMweb twin of an unmounted folder).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import httpx
import pyarrow as pa
from pydantic import BaseModel

from cohort_engine.dicom_index.indexer import (
    _arrow,
    ensure_tables,
    rebuild_summaries,
)
from cohort_engine.dicom_index.scan import INSTANCE_COLUMNS, QUARANTINE_COLUMNS

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_RATE",
    "STATE_DDL",
    "CrawlProgress",
    "CrawlReport",
    "EmptyServerError",
    "TokenBucket",
    "crawl_dicomweb",
    "normalise_base_url",
]

#: Requests per second when the caller gives no rate: gentle on a clinical PACS.
DEFAULT_RATE = 10.0
#: QIDO-RS page size (``limit``); servers may cap it lower, which paging handles.
DEFAULT_PAGE_SIZE = 100
#: Upper bound on pages of one listing: a server that ignores ``offset`` must not loop us forever.
MAX_PAGES = 100_000
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_MAX_BACKOFF_S = 30.0

#: Which studies a complete crawl has seen, per server, with the counts that decide re-crawling.
#: Not in the catalog (it holds UIDs and is bookkeeping): no guarded query can read it.
STATE_DDL = """CREATE TABLE IF NOT EXISTS dicom_web_state (
  server VARCHAR NOT NULL,
  study_instance_uid VARCHAR NOT NULL,
  n_instances INTEGER,
  n_series INTEGER,
  completed_at TIMESTAMP NOT NULL
)"""

# DICOM JSON tag → (column, kind).  Same attributes as dicom_index.header._ATTRS.
_TAGS: dict[str, tuple[str, str]] = {
    "00100020": ("patient_id", "str"),
    "0020000D": ("study_instance_uid", "str"),
    "0020000E": ("series_instance_uid", "str"),
    "00080018": ("sop_instance_uid", "str"),
    "00080016": ("sop_class_uid", "str"),
    "00080020": ("study_date", "date"),
    "00080030": ("study_time", "str"),
    "00080021": ("series_date", "date"),
    "00080060": ("modality", "str"),
    "00180015": ("body_part_examined", "str"),
    "00081030": ("study_description", "str"),
    "0008103E": ("series_description", "str"),
    "00080050": ("accession_number", "str"),
    "00080070": ("manufacturer", "str"),
    "00081090": ("manufacturer_model_name", "str"),
    "00280010": ("image_rows", "int"),
    "00280011": ("image_columns", "int"),
    "00180050": ("slice_thickness", "float"),
    "00280008": ("number_of_frames", "int"),
    "00200011": ("series_number", "int"),
    "00200013": ("instance_number", "int"),
    "00280301": ("burned_in_annotation", "str"),
}
_TS_TAGS = ("00020010", "00083002")
_N_SERIES, _N_INSTANCES = "00201206", "00201208"
_STUDY_FIELDS = ("00201206", "00201208")
#: UIDs become URL path segments: refuse anything that is not UID-like rather than escape a surprise.
_UID_RE = re.compile(r"^[0-9A-Za-z._-]{1,128}$")
_INT32 = 2**31


class _QuietHttpLogs(logging.Filter):
    """Drop httpx/httpcore log records emitted by a crawl (their request lines carry UIDs in URLs).

    Only records from a thread inside :func:`crawl_dicomweb` are dropped; other httpx users (the API's
    test client, say) keep their logs.
    """

    active = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(self.active, "on", False)


_QUIET = _QuietHttpLogs()
for _name in (
    "httpx",
    "httpcore",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.connection",
    "httpcore.proxy",
):
    logging.getLogger(_name).addFilter(_QUIET)


@contextmanager
def _quiet_http_logs() -> Iterator[None]:
    previous = getattr(_QUIET.active, "on", False)
    _QUIET.active.on = True
    try:
        yield
    finally:
        _QUIET.active.on = previous


class EmptyServerError(ValueError):
    """The server lists no study while the mart holds rows crawled from it (``allow_empty`` to accept)."""


class TokenBucket:
    """Blocking token bucket: ``rate`` tokens per second, at most ``capacity`` stored.

    Bounded by construction: the bucket starts full and never holds more than ``capacity`` tokens, so
    in any window of ``t`` seconds at most ``capacity + rate·t`` tokens are handed out.  ``clock`` and
    ``sleep`` are injectable so that the bound is tested without waiting.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive (requests per second)")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(1.0, rate))
        if self.capacity < 1:
            raise ValueError("capacity must be at least one token")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._last = clock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        """Take one token, sleeping until one is available.

        After the sleep the awaited token is taken at once (not re-checked against the clock): a
        re-check could spin forever on floating-point remainders too small to move the clock.
        """
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return
        wait = (1 - self._tokens) / self.rate
        self.waited_s += wait
        self._sleep(wait)
        after = max(self._clock(), now + wait)  # never credit less than the time we waited for
        self._tokens = min(self.capacity, self._tokens + (after - now) * self.rate) - 1
        self._last = after


class CrawlProgress(BaseModel):
    """Progress of a crawl, for a progress bar (studies listed grows while the listing pages in)."""

    studies_listed: int
    studies_done: int
    studies_skipped: int
    instances: int
    quarantined: int
    requests: int
    instances_per_s: float
    elapsed_s: float


class CrawlReport(BaseModel):
    """Outcome of one crawl.  Counts and value-free reasons only: safe to log and show."""

    studies_listed: int
    studies_crawled: int
    studies_skipped_unchanged: int
    studies_incomplete: int
    studies_removed: int
    instances_written: int
    duplicates_skipped: int
    """Instances whose SOPInstanceUID the index held already (files, another base URL): not written."""
    quarantined: int
    quarantine_reasons: dict[str, int]
    listing_complete: bool
    requests: int
    retries: int
    rate: float
    burst: float
    waited_s: float
    studies: int
    series: int
    instances: int
    instances_per_s: float
    elapsed_s: float


class _Failure(Exception):
    """A request or response that cannot be used (internal): ``reason`` is value-free."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_base_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(base URL without credentials, query or trailing slash; basic-auth pair or None)``."""
    try:
        u = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as e:
        raise ValueError("the DICOMweb URL is not a valid URL") from e
    if u.scheme not in ("http", "https") or not u.host:
        raise ValueError("the DICOMweb URL must be http(s)://host[:port]/path")
    if u.query or u.fragment:
        raise ValueError("the DICOMweb URL must not have a query or fragment")
    auth = (u.username, u.password) if u.username else None
    port = f":{u.port}" if u.port else ""
    host = f"[{u.host}]" if ":" in u.host else u.host
    base = f"{u.scheme}://{host}{port}{u.path.rstrip('/')}"
    return base, auth


# --- DICOM JSON values --------------------------------------------------------------------------------


def _first_number(values: list[Any]) -> float | None:
    v = values[0]
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _decode(elem: Any, kind: str) -> Any:
    """One DICOM JSON element → the value ``dicom_index.header`` would give for the same attribute."""
    if not isinstance(elem, dict):
        return None
    values = elem.get("Value")
    if not isinstance(values, list) or not values:
        return None
    if kind in ("str", "date"):
        parts = []
        for v in values:
            if isinstance(v, str):
                parts.append(v)
            elif isinstance(v, int | float) and not isinstance(v, bool):
                parts.append(str(v))
            elif v is None:
                parts.append("")
            else:
                return None  # PN objects etc.: not an indexed kind
        text = "\\".join(parts).rstrip(" \x00")
        if not text:
            return None
        if kind == "date":
            return _date(text)
        return text
    number = _first_number(values)
    if number is None:
        return None
    if kind == "float":
        return number
    if not number.is_integer() or not -_INT32 <= number < _INT32:
        return None
    return int(number)


def _date(value: str) -> dt.date | None:
    v = value.strip().replace(".", "")
    if len(v) != 8 or not v.isdigit():
        return None
    try:
        return dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
    except ValueError:
        return None


def _uid(ds: dict[str, Any], tag: str) -> str | None:
    v = _decode(ds.get(tag), "str")
    return v.strip() if isinstance(v, str) and v.strip() else None


def _count(ds: dict[str, Any], tag: str) -> int | None:
    v = _decode(ds.get(tag), "int")
    return v if isinstance(v, int) else None


# --- the crawler ----------------------------------------------------------------------------------------


class _Crawler:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        client: httpx.Client,
        base: str,
        bucket: TokenBucket,
        page_size: int,
        retries: int,
        progress: Callable[[CrawlProgress], None] | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.con = con
        self.client = client
        self.base = base
        self.bucket = bucket
        self.page_size = page_size
        self.retries = retries
        self.progress = progress
        self.sleep = sleep
        self.requests = 0
        self.retried = 0
        self.reasons: Counter[str] = Counter()
        self.listed = self.done = self.skipped = self.crawled = self.incomplete = 0
        self.instances = self.quarantined = 0
        #: Instances not written because their SOPInstanceUID was indexed already.
        self.duplicates = 0
        self.t0 = time.perf_counter()
        self.last_progress = 0.0

    # -- HTTP ---------------------------------------------------------------------------------------
    def _get_json(self, url: str, what: str) -> list[Any]:
        """GET a DICOM JSON array (204 = empty), with retries; raises _Failure with a reason."""
        attempt = 0
        while True:
            self.bucket.acquire()
            self.requests += 1
            try:
                r = self.client.get(url, headers={"Accept": "application/dicom+json, application/json"})
            except httpx.TransportError as e:
                if attempt < self.retries:
                    attempt += 1
                    self.retried += 1
                    self.sleep(min(0.5 * 2**attempt, _MAX_BACKOFF_S))
                    continue
                raise _Failure(f"DICOMweb {what}: connection error ({type(e).__name__})") from None
            except httpx.HTTPError as e:  # e.g. a body that fails its content encoding: not retried
                raise _Failure(f"DICOMweb {what}: bad response ({type(e).__name__})") from None
            if r.status_code in _RETRY_STATUS and attempt < self.retries:
                attempt += 1
                self.retried += 1
                self.sleep(self._retry_after(r, attempt))
                continue
            if r.status_code == 204:
                return []
            if r.status_code != 200:
                raise _Failure(f"DICOMweb {what}: HTTP {r.status_code}")
            try:
                data = r.json()
            except ValueError:
                raise _Failure(f"DICOMweb {what}: response is not JSON") from None
            if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
                raise _Failure(f"DICOMweb {what}: response is not a DICOM JSON array")
            return data

    @staticmethod
    def _retry_after(r: httpx.Response, attempt: int) -> float:
        header = r.headers.get("Retry-After", "")
        if header.strip().isdigit():
            return min(float(header.strip()), _MAX_BACKOFF_S)
        return min(0.5 * 2**attempt, _MAX_BACKOFF_S)

    def _pages(self, url: str, what: str, extra: str = "") -> Iterator[list[dict[str, Any]]]:
        """QIDO-RS pages (limit/offset) until a short or empty page."""
        offset = 0
        for _ in range(MAX_PAGES):
            page = self._get_json(f"{url}?limit={self.page_size}&offset={offset}{extra}", what)
            if page:
                yield page
            if len(page) < self.page_size:
                return
            offset += len(page)
        raise _Failure(f"DICOMweb {what}: more than {MAX_PAGES} pages (server ignores offset?)")

    def _report(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.progress is None or (not force and now - self.last_progress < 0.2):
            return
        self.last_progress = now
        elapsed = now - self.t0
        self.progress(
            CrawlProgress(
                studies_listed=self.listed,
                studies_done=self.done,
                studies_skipped=self.skipped,
                instances=self.instances,
                quarantined=self.quarantined,
                requests=self.requests,
                instances_per_s=self.instances / elapsed if elapsed > 0 else 0.0,
                elapsed_s=elapsed,
            )
        )

    # -- one study ----------------------------------------------------------------------------------
    def crawl_study(self, study_uid: str, counts: tuple[int | None, int | None]) -> None:
        study_url = f"{self.base}/studies/{quote(study_uid, safe='')}"
        rows: list[tuple[Any, ...]] = []
        bad: list[tuple[Any, ...]] = []

        def quarantine(path: str, reason: str) -> None:
            bad.append((path, reason, None, None, None))

        try:
            series_items = [s for page in self._pages(f"{study_url}/series", "QIDO series") for s in page]
        except _Failure as f:
            series_items = []
            quarantine(f"{study_url}/series", f.reason)
        seen_series: set[str] = set()
        for item in series_items:
            series_uid = _uid(item, "0020000E")
            if series_uid is None or not _UID_RE.match(series_uid):
                quarantine(
                    f"{study_url}/series", "DICOMweb QIDO series: item without a valid SeriesInstanceUID"
                )
                continue
            if series_uid in seen_series:
                continue
            seen_series.add(series_uid)
            self._crawl_series(
                study_uid, series_uid, f"{study_url}/series/{quote(series_uid, safe='')}", rows, quarantine
            )
        self._commit_study(study_uid, study_url, rows, bad, counts)

    def _crawl_series(
        self,
        study_uid: str,
        series_uid: str,
        series_url: str,
        rows: list[tuple[Any, ...]],
        quarantine: Callable[[str, str], None],
    ) -> None:
        try:
            listed = [i for page in self._pages(f"{series_url}/instances", "QIDO instances") for i in page]
            metadata = self._get_json(f"{series_url}/metadata", "WADO-RS series metadata")
        except _Failure as f:
            quarantine(series_url, f.reason)
            return
        expected: dict[str, None] = {}
        for item in listed:
            sop = _uid(item, "00080018")
            if sop is None or not _UID_RE.match(sop):
                quarantine(
                    f"{series_url}/instances", "DICOMweb QIDO instances: item without a valid SOPInstanceUID"
                )
                continue
            expected[sop] = None
        got: set[str] = set()
        for n, ds in enumerate(metadata):
            sop = _uid(ds, "00080018")
            where = f"{series_url}/metadata#{n}"
            if _uid(ds, "0020000D") is None:
                quarantine(where, "missing StudyInstanceUID")
                continue
            if _uid(ds, "0020000E") is None:
                quarantine(where, "missing SeriesInstanceUID")
                continue
            if sop is None:
                quarantine(where, "missing SOPInstanceUID")
                continue
            if not _UID_RE.match(sop):
                quarantine(where, "DICOMweb WADO-RS series metadata: SOPInstanceUID not usable in a URL")
                continue
            if _uid(ds, "0020000D") != study_uid or _uid(ds, "0020000E") != series_uid:
                quarantine(where, "DICOMweb WADO-RS series metadata: instance of another series")
                continue
            if sop in got:
                continue
            got.add(sop)
            rows.append(self._row(f"{series_url}/instances/{quote(sop, safe='')}", ds))
        for sop in expected:
            if sop not in got:
                quarantine(
                    f"{series_url}/instances/{quote(sop, safe='')}",
                    "DICOMweb WADO-RS series metadata: listed instance missing",
                )

    @staticmethod
    def _row(url: str, ds: dict[str, Any]) -> tuple[Any, ...]:
        values: dict[str, Any] = {col: _decode(ds.get(tag), kind) for tag, (col, kind) in _TAGS.items()}
        values["transfer_syntax_uid"] = next(
            (v for v in (_decode(ds.get(t), "str") for t in _TS_TAGS) if v), None
        )
        values["transfer_syntax_uid"] = (values["transfer_syntax_uid"] or "").split("\\")[0] or None
        values.update(path=url, file_size=None, file_mtime_ns=None, content_hash=None)
        return tuple(values[c] for c in INSTANCE_COLUMNS)

    def _commit_study(
        self,
        study_uid: str,
        study_url: str,
        rows: list[tuple[Any, ...]],
        bad: list[tuple[Any, ...]],
        counts: tuple[int | None, int | None],
    ) -> None:
        """Replace the study's rows and record it complete (only when nothing was quarantined)."""
        con = self.con
        prefix = study_url + "/"
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM dicom_instance WHERE starts_with(path, ?)", [prefix])
            con.execute("DELETE FROM dicom_quarantine WHERE starts_with(path, ?)", [prefix])
            con.execute(
                "DELETE FROM dicom_web_state WHERE server = ? AND study_instance_uid = ?",
                [self.base, study_uid],
            )
            written = 0
            if rows:
                con.register("_web_inst", _arrow(rows, "dicom_instance"))
                # An instance indexed already (from files, or from this server under another base URL)
                # is one instance: not written again, so counts and byte totals never double.
                got = con.execute(
                    f"INSERT INTO dicom_instance ({', '.join(INSTANCE_COLUMNS)}) "
                    f"SELECT {', '.join(INSTANCE_COLUMNS)} FROM _web_inst w WHERE w.sop_instance_uid IS NULL "
                    "OR w.sop_instance_uid NOT IN (SELECT sop_instance_uid FROM dicom_instance "
                    "WHERE sop_instance_uid IS NOT NULL)"
                ).fetchone()
                written = int(got[0]) if got else 0
                con.unregister("_web_inst")
            if bad:
                self._insert_quarantine(bad)
            else:
                con.execute(
                    "INSERT INTO dicom_web_state VALUES (?, ?, ?, ?, now()::TIMESTAMP)",
                    [self.base, study_uid, counts[0], counts[1]],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self.instances += written
        self.duplicates += len(rows) - written
        self.crawled += 1
        self.incomplete += bool(bad)
        for r in bad:
            self.reasons[r[1]] += 1
        self.quarantined += len(bad)

    def _insert_quarantine(self, bad: list[tuple[Any, ...]]) -> None:
        self.con.register("_web_quar", _arrow(bad, "dicom_quarantine"))
        self.con.execute(
            f"INSERT INTO dicom_quarantine ({', '.join(QUARANTINE_COLUMNS)}) "
            f"SELECT {', '.join(QUARANTINE_COLUMNS)} FROM _web_quar"
        )
        self.con.unregister("_web_quar")

    def listing_failure(self, url: str, reason: str) -> None:
        self.con.execute("BEGIN TRANSACTION")
        self._insert_quarantine([(url, reason, None, None, None)])
        self.con.execute("COMMIT")
        self.reasons[reason] += 1
        self.quarantined += 1


def crawl_dicomweb(
    mart_path: Path | str,
    url: str,
    *,
    rate: float = DEFAULT_RATE,
    burst: float | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    timeout_s: float = 30.0,
    retries: int = 2,
    allow_empty: bool = False,
    progress: Callable[[CrawlProgress], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CrawlReport:
    """Crawl the DICOMweb server at ``url`` (the QIDO/WADO root, e.g. ``http://pacs/dicom-web``) into
    the mart at ``mart_path``; see the module docstring.

    ``rate``/``burst``: token bucket (requests/s, capacity).  ``page_size``: QIDO ``limit``.
    ``transport``: an httpx transport (tests inject faults with it).  Raises ``ValueError`` for a bad
    URL or arguments and :class:`EmptyServerError`; every server-side problem is reported instead.
    """
    with _quiet_http_logs():
        return _crawl(
            mart_path,
            url,
            rate=rate,
            burst=burst,
            page_size=page_size,
            timeout_s=timeout_s,
            retries=retries,
            allow_empty=allow_empty,
            progress=progress,
            transport=transport,
            sleep=sleep,
        )


def _crawl(
    mart_path: Path | str,
    url: str,
    *,
    rate: float,
    burst: float | None,
    page_size: int,
    timeout_s: float,
    retries: int,
    allow_empty: bool,
    progress: Callable[[CrawlProgress], None] | None,
    transport: httpx.BaseTransport | None,
    sleep: Callable[[float], None],
) -> CrawlReport:
    base, auth = normalise_base_url(url)
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if retries < 0:
        raise ValueError("retries must be non-negative")
    bucket = TokenBucket(rate, burst, sleep=sleep)
    t0 = time.perf_counter()
    con = duckdb.connect(str(mart_path))
    client = httpx.Client(
        auth=auth,
        timeout=timeout_s,
        transport=transport,
        follow_redirects=False,
        headers={"User-Agent": "cohort-engine-dicom-index"},
    )
    try:
        ensure_tables(con)
        con.execute(STATE_DDL)
        state = {
            uid: (n_inst, n_ser)
            for uid, n_inst, n_ser in con.execute(
                "SELECT study_instance_uid, n_instances, n_series FROM dicom_web_state WHERE server = ?",
                [base],
            ).fetchall()
        }
        # Problems are detected afresh by every run (a study with one is never recorded complete).
        con.execute("DELETE FROM dicom_quarantine WHERE starts_with(path, ?)", [base + "/"])
        crawler = _Crawler(con, client, base, bucket, page_size, retries, progress, sleep)
        seen: set[str] = set()
        listing_complete = True
        listed_items = 0
        extra = "".join(f"&includefield={t}" for t in _STUDY_FIELDS)
        try:
            for page in crawler._pages(f"{base}/studies", "QIDO studies", extra):
                for item in page:
                    study_uid = _uid(item, "0020000D")
                    listed_items += 1
                    if study_uid is None or not _UID_RE.match(study_uid):
                        listing_complete = False  # a listing with garbage is not trusted for removals
                        crawler.listing_failure(
                            f"{base}/studies", "DICOMweb QIDO studies: item without a valid StudyInstanceUID"
                        )
                        continue
                    if study_uid in seen:
                        continue
                    seen.add(study_uid)
                    crawler.listed += 1
                    counts = (_count(item, _N_INSTANCES), _count(item, _N_SERIES))
                    if study_uid in state and state[study_uid] == counts:
                        crawler.skipped += 1
                    else:
                        crawler.crawl_study(study_uid, counts)
                    crawler.done += 1
                    crawler._report()
        except _Failure as f:
            listing_complete = False
            crawler.listing_failure(f"{base}/studies", f.reason)

        removed = 0
        if listing_complete:
            if not listed_items and not allow_empty:
                (held,) = con.execute(
                    "SELECT count(*) FROM dicom_instance WHERE starts_with(path, ?)", [base + "/"]
                ).fetchone() or (0,)
                if held or state:
                    raise EmptyServerError(
                        f"the DICOMweb server lists no study, but the mart holds {held} instances crawled "
                        "from it: wrong URL or an empty test server? (allow_empty / --allow-empty if the "
                        "studies are really gone)"
                    )
            gone = [uid for uid in state if uid not in seen]
            if gone:
                removed = _remove_studies(con, base, gone)
        rebuild_summaries(con)
        studies, series, instances = con.execute(
            "SELECT (SELECT count(*) FROM dicom_study), (SELECT count(*) FROM dicom_series), "
            "(SELECT count(*) FROM dicom_instance)"
        ).fetchone() or (0, 0, 0)
        crawler._report(force=True)
    finally:
        client.close()
        con.close()
    elapsed = time.perf_counter() - t0
    return CrawlReport(
        studies_listed=crawler.listed,
        studies_crawled=crawler.crawled,
        studies_skipped_unchanged=crawler.skipped,
        studies_incomplete=crawler.incomplete,
        studies_removed=removed,
        instances_written=crawler.instances,
        duplicates_skipped=crawler.duplicates,
        quarantined=crawler.quarantined,
        quarantine_reasons=dict(sorted(crawler.reasons.items())),
        listing_complete=listing_complete,
        requests=crawler.requests,
        retries=crawler.retried,
        rate=bucket.rate,
        burst=bucket.capacity,
        waited_s=bucket.waited_s,
        studies=studies,
        series=series,
        instances=instances,
        instances_per_s=crawler.instances / elapsed if elapsed > 0 else 0.0,
        elapsed_s=elapsed,
    )


def _remove_studies(con: duckdb.DuckDBPyConnection, base: str, gone: list[str]) -> int:
    """Drop the rows and state of studies the server no longer lists (one transaction)."""
    prefixes = [f"{base}/studies/{quote(uid, safe='')}/" for uid in gone]
    con.execute("BEGIN TRANSACTION")
    try:
        con.register(
            "_gone", pa.table({"prefix": pa.array(prefixes, pa.string()), "uid": pa.array(gone, pa.string())})
        )
        for table in ("dicom_instance", "dicom_quarantine"):
            con.execute(
                f"DELETE FROM {table} WHERE path IN (SELECT t.path FROM {table} t JOIN _gone g "
                "ON starts_with(t.path, g.prefix))"
            )
        con.execute(
            "DELETE FROM dicom_web_state WHERE server = ? AND study_instance_uid IN (SELECT uid FROM _gone)",
            [base],
        )
        con.unregister("_gone")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(gone)
