"""The release package of an approved request: one zip with the de-identified records, the image
manifest and the de-identified DICOM copies, and a SHA-256 checksum per member.

Layout of ``<request id>.zip`` (every name fixed here or by the release stage; nothing from a person)::

    records/            deid.dataset.extract_dataset: persons, one file per domain, images.parquet,
                        datapackage.json, disclosure.json, README.txt (what `cohort extract` writes)
    images/             deid.export.export_cohort: manifest.csv, excluded.csv, export.json, README.txt and
                        files/<pseudonym>/<study>/<series>/<sop>.dcm (what `cohort export` writes)
    release.json        the request id, release name, what was released, counts (no free text)
    SHA256SUMS          ``<sha256>  <member>`` for every other member (``sha256sum -c`` reads it)

Why the same functions as the CLI: a release must not depend on the door it went through; the records
and the images are written with one :class:`ReleasePolicy` (one release key), so ``records/*.patient``
joins ``images/manifest.csv``'s ``patient``. Members are stored, not deflated (images rarely shrink,
and the archive can be checked byte for byte). Everything is built in a private folder (0700, files
0600) and moved into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from cohort_engine.deid.dataset import ExtractOptions, ExtractProgress, extract_dataset
from cohort_engine.deid.export import ExportProgress, export_cohort
from cohort_engine.deid.kanon import DisclosureReport, generalise, sex_label
from cohort_engine.deid.policy import ReleasePolicy, pseudonym
from cohort_engine.deid.records import DomainName, RecordWindow, cohort_persons, shifted_index_year
from cohort_engine.spec import CohortSpec, ImagingRequest
from cohort_engine.sql_guard.compiler import CompiledCohort

__all__ = [
    "CHECKSUMS",
    "PackageContents",
    "PackageResult",
    "build_package",
    "disclosure_report",
    "sha256_file",
]

CHECKSUMS = "SHA256SUMS"
_CHUNK = 1 << 20


class PackageContents(BaseModel):
    """What an approved request releases (the request's own fields, checked at submission)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str
    release: str
    domains: tuple[DomainName, ...]
    window: RecordWindow
    images: bool
    modalities: tuple[str, ...] = ()
    k: int = Field(ge=2, le=1000)


class PackageResult(BaseModel):
    path: str
    sha256: str
    bytes: int
    members: int
    summary: dict[str, Any]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def imaging_request(spec: CohortSpec, contents: PackageContents) -> ImagingRequest | None:
    """The cohort's own imaging request, narrowed to the requested modalities (when any are named)."""
    if not contents.modalities:
        return spec.imaging
    base = spec.imaging or ImagingRequest()
    return base.model_copy(update={"modalities": list(contents.modalities)})


def released_persons(
    con: duckdb.DuckDBPyConnection, compiled: CompiledCohort, policy: ReleasePolicy, k: int
) -> tuple[list[int], list[int], DisclosureReport]:
    """The persons the records extraction releases, those it withholds, and its k-anonymity check
    (deid.kanon), computed as :func:`deid.dataset.extract_dataset` does (same order, same options)."""
    persons = list(cohort_persons(con, compiled))
    persons.sort(key=lambda p: pseudonym(policy, str(p.person_id)))
    qis = [(sex_label(p.gender_concept_id), p.age, shifted_index_year(policy, p)) for p in persons]
    opts = ExtractOptions(k=k)
    steps, report = generalise(qis, k, band_years=opts.age_band_years, top=policy.age_top_code)
    released = [p.person_id for p, s in zip(persons, steps, strict=True) if s is not None]
    withheld = [p.person_id for p, s in zip(persons, steps, strict=True) if s is None]
    return released, withheld, report


def disclosure_report(
    con: duckdb.DuckDBPyConnection, compiled: CompiledCohort, policy: ReleasePolicy, k: int
) -> DisclosureReport:
    """The k-anonymity check the records extraction will apply, for the reviewers."""
    return released_persons(con, compiled, policy, k)[2]


@dataclass
class ReleasedCohort(CompiledCohort):
    """The cohort narrowed to the persons the disclosure check releases: the DICOM copies then hold no
    image of a person the records withhold (whose rare sex, age and index year the check kept back).

    The narrowing is a list of integer person ids written into the SQL (the imaging SQL is validated by
    the guard against the catalogue, so a registered table cannot be used): the shorter list, persons
    withheld (usually few) or persons released."""

    person_filter: str = ""

    @property
    def cohort_sql(self) -> str:
        inner = super().cohort_sql
        return f"SELECT c.* FROM ({inner}) AS c WHERE {self.person_filter}" if self.person_filter else inner

    @classmethod
    def of(cls, compiled: CompiledCohort, released: list[int], withheld: list[int]) -> ReleasedCohort:
        if not withheld:
            where = ""
        elif len(withheld) <= len(released):
            where = f"c.person_id NOT IN ({', '.join(str(int(i)) for i in withheld)})"
        else:
            where = f"c.person_id IN ({', '.join(str(int(i)) for i in released) or 'NULL'})"
        return cls(**{f.name: getattr(compiled, f.name) for f in fields(compiled)}, person_filter=where)


def build_package(
    con: duckdb.DuckDBPyConnection,
    compiled: CompiledCohort,
    spec: CohortSpec,
    policy: ReleasePolicy,
    contents: PackageContents,
    out_dir: Path,
    *,
    readback: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> PackageResult:
    """Write ``out_dir/<request id>.zip`` (see the module docstring); ``progress(fraction, step)``."""

    def report(fraction: float, step: str) -> None:
        if progress is not None:
            progress(max(0.0, min(fraction, 1.0)), step)

    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".package-", dir=out_dir))
    try:
        # 1. records (and the image manifest as a table), as `cohort extract`
        image_share = 0.45 if contents.images else 0.0
        rec_share = 0.9 - image_share

        def on_extract(p: ExtractProgress) -> None:
            inner = (p.done / p.total) if p.total else 0.0
            report(rec_share * inner, f"records: {p.step}")

        imaging = imaging_request(spec, contents)
        records = extract_dataset(
            con,
            compiled,
            policy,
            work / "records",
            ExtractOptions(
                domains=contents.domains, window=contents.window, images=contents.images, k=contents.k
            ),
            imaging=imaging,
            readback=readback,
            progress=on_extract,
        )
        summary: dict[str, Any] = {
            "persons": records.persons,
            "withheld": records.disclosure.withheld,
            "rows": records.rows,
            "image_series": records.image_series,
            "missing_domains": records.missing_domains,
        }
        # 2. de-identified DICOM copies and their manifest, as `cohort export`
        if contents.images:

            def on_export(p: ExportProgress) -> None:
                inner = p.files_done / p.files_total if p.files_total else 1.0
                report(rec_share + image_share * inner, "images")

            released, withheld, _report = released_persons(con, compiled, policy, contents.k)
            images = export_cohort(
                con,
                ReleasedCohort.of(compiled, released, withheld),
                imaging,
                policy,
                work / "images",
                level="series",
                formats=["csv"],
                progress=on_export,
            )
            summary.update(
                image_files=images.files_written,
                image_files_excluded=images.files_excluded,
                image_bytes=images.bytes_written,
            )
        # 3. the zip: every member stored, its checksum in SHA256SUMS
        report(0.9, "zip")
        meta = {
            "request_id": contents.request_id,
            "release": contents.release,
            "domains": list(contents.domains),
            "window": contents.window.label(),
            "images": contents.images,
            "modalities": list(contents.modalities),
            "k": contents.k,
            "counts": summary,
        }
        (work / "release.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        members = sorted(
            p.relative_to(work).as_posix()
            for p in work.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        sums = [f"{sha256_file(work / m)}  {m}" for m in members]
        (work / CHECKSUMS).write_text("\n".join(sums) + "\n", "utf-8")
        part = work / "package.zip"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for m in [*members, CHECKSUMS]:
                zf.write(work / m, m)
        final = out_dir / f"{contents.request_id}.zip"
        os.replace(part, final)
        report(1.0, "done")
        return PackageResult(
            path=str(final),
            sha256=sha256_file(final),
            bytes=final.stat().st_size,
            members=len(members) + 1,
            summary=summary,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
