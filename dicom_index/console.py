"""The operator's view of indexing and linking: rich progress bars and summary tables for ``cohort index``,
``cohort link`` and ``cohort demo-data`` (``cohort_engine/cli.py`` holds only the command definitions).

Everything printed here comes from the reports' counts and value-free reasons: no UID, PatientID,
accession number or file path of an individual image ever reaches the terminal.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

# The stages are imported where used: `cohort index DIR` does not pay for httpx, `cohort link` for pyarrow.
if TYPE_CHECKING:
    from cohort_engine.dicom_index.dicomweb import CrawlProgress, CrawlReport
    from cohort_engine.dicom_index.indexer import IndexProgress, IndexReport
    from cohort_engine.dicom_index.link import LinkReport

__all__ = [
    "DEMO_MARKER",
    "check_demo_dicom_folder",
    "crawl_with_progress",
    "index_with_progress",
    "parse_rate",
    "print_crawl_report",
    "print_index_report",
    "print_link_report",
    "write_demo_dicom_indexed",
]

#: File next to ``OUT/dicom`` that marks the folder as written by ``cohort demo-data`` (safe to replace).
DEMO_MARKER = ".dicom-written-by-cohort-demo-data"
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:/\s*s)?\s*$")


def parse_rate(text: str) -> float:
    """``"10"``, ``"10/s"``, ``"2.5/s"`` → requests per second (positive)."""
    m = _RATE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError("the rate must be a positive number of requests per second, e.g. 10/s")
    return float(m.group(1))


def _bar(console: Console, unit: str) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} " + unit + "/s"),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def index_with_progress(
    mart: Path,
    dirs: list[Path],
    console: Console,
    *,
    workers: int | None = None,
    allow_empty: bool = False,
) -> IndexReport:
    """``index_folders`` with a progress bar (files done of files found, files/s)."""
    from cohort_engine.dicom_index.indexer import index_folders

    with _bar(console, "files") as bar:
        task: TaskID = bar.add_task("indexing folders", total=None, rate=0.0, note="")

        def progress(p: IndexProgress) -> None:
            bar.update(
                task,
                total=p.files_total,
                completed=p.files_done,
                rate=p.files_per_s,
                note=f"{p.quarantined} quarantined, {p.skipped_unchanged} unchanged",
            )

        return index_folders(mart, dirs, workers=workers, progress=progress, allow_empty=allow_empty)


def crawl_with_progress(
    mart: Path,
    url: str,
    console: Console,
    *,
    rate: float,
    page_size: int,
    allow_empty: bool = False,
) -> CrawlReport:
    """``crawl_dicomweb`` with a progress bar (studies done of studies listed so far, instances/s)."""
    from cohort_engine.dicom_index.dicomweb import crawl_dicomweb

    with _bar(console, "instances") as bar:
        task: TaskID = bar.add_task("crawling DICOMweb", total=None, rate=0.0, note="")

        def progress(p: CrawlProgress) -> None:
            bar.update(
                task,
                total=max(p.studies_listed, 1),
                completed=p.studies_done,
                rate=p.instances_per_s,
                note=f"{p.instances} instances, {p.studies_skipped} unchanged studies, {p.requests} requests",
            )

        return crawl_dicomweb(
            mart, url, rate=rate, page_size=page_size, allow_empty=allow_empty, progress=progress
        )


def _table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("")
    t.add_column("count", justify="right")
    for name, value in rows:
        t.add_row(
            name,
            f"{value:,.1f}"
            if isinstance(value, float)
            else f"{value:,}"
            if isinstance(value, int)
            else str(value),
        )
    return t


def _reasons(title: str, reasons: dict[str, int]) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("reason")
    t.add_column("count", justify="right")
    for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        t.add_row(reason, f"{n:,}")
    return t


def print_index_report(rep: IndexReport, console: Console) -> None:
    console.print(
        _table(
            "folder index",
            [
                ("files seen", rep.files_seen),
                ("unchanged (skipped)", rep.skipped_unchanged),
                ("indexed", rep.indexed),
                ("quarantined", rep.quarantined),
                ("removed (gone)", rep.removed),
                ("studies in index", rep.studies),
                ("series in index", rep.series),
                ("instances in index", rep.instances),
                ("files/s", rep.files_per_s),
                ("seconds", rep.elapsed_s),
                ("worker processes", rep.workers),
            ],
        )
    )
    if rep.quarantine_reasons:
        console.print(_reasons("quarantined files", rep.quarantine_reasons))


def print_crawl_report(rep: CrawlReport, console: Console) -> None:
    console.print(
        _table(
            "DICOMweb crawl",
            [
                ("studies listed", rep.studies_listed),
                ("studies crawled", rep.studies_crawled),
                ("unchanged (skipped)", rep.studies_skipped_unchanged),
                ("incomplete (retried next run)", rep.studies_incomplete),
                ("removed (gone)", rep.studies_removed),
                ("instances written", rep.instances_written),
                ("duplicates (indexed already)", rep.duplicates_skipped),
                ("quarantined", rep.quarantined),
                ("listing complete", "yes" if rep.listing_complete else "NO"),
                ("requests", rep.requests),
                ("retries", rep.retries),
                ("rate limit (requests/s)", rep.rate),
                ("seconds waited for the rate limit", rep.waited_s),
                ("studies in index", rep.studies),
                ("series in index", rep.series),
                ("instances in index", rep.instances),
                ("instances/s", rep.instances_per_s),
                ("seconds", rep.elapsed_s),
            ],
        )
    )
    if rep.quarantine_reasons:
        console.print(_reasons("quarantined DICOMweb responses", rep.quarantine_reasons))


def print_link_report(rep: LinkReport, console: Console) -> None:
    console.print(
        _table(
            "linking to the mart",
            [
                ("studies in index", rep.studies),
                ("studies linked to a person", rep.studies_linked),
                ("series linked (image_occurrence rows)", rep.series_linked),
                ("  new rows", rep.rows_inserted),
                ("  refreshed rows", rep.rows_refreshed),
                ("  duplicate rows merged", rep.duplicate_rows_merged),
                ("procedure by accession number", rep.procedures_by_accession),
                ("procedure by date (same person, imaging)", rep.procedures_by_date),
                ("procedure kept from before", rep.procedures_kept),
                ("series without procedure", rep.series_without_procedure),
                ("studies whose accession names another person's procedure", rep.accession_of_other_person),
                ("series not linked", rep.series_unlinked),
                ("image_occurrence rows of series not in the index (untouched)", rep.rows_not_in_index),
            ],
        )
    )
    if rep.studies_unlinked:
        console.print(_reasons("studies not linked", rep.studies_unlinked))


def check_demo_dicom_folder(out_dir: Path) -> None:
    """Raise ``FileExistsError`` when ``out_dir`` holds files that an earlier demo-data did not write."""
    if out_dir.exists() and not (out_dir.parent / DEMO_MARKER).exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and was not written by demo-data; move it away first")


def write_demo_dicom_indexed(
    mart: Path,
    out_dir: Path,
    seed: int,
    max_files: int,
    console: Console,
    first: Collection[int] = (),
) -> tuple[int, IndexReport, LinkReport]:
    """Write demo Part-10 files under ``out_dir`` for a sample of the mart's persons, index them into
    the mart and link them; returns (files written, index report, link report).

    ``out_dir`` is replaced only when an earlier ``demo-data`` wrote it (marker file beside it), so
    stale files of another seed never end up in the index and no one else's folder is deleted.
    """
    from cohort_engine.dicom_index.demo import select_demo_persons, write_demo_dicom
    from cohort_engine.dicom_index.link import link_mart

    check_demo_dicom_folder(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    marker = out_dir.parent / DEMO_MARKER
    marker.write_text("cohort demo-data replaces the dicom/ folder beside this file on every run\n")
    with console.status("writing demo DICOM files"):
        persons = select_demo_persons(mart, seed, max_files, first)
        written = write_demo_dicom(mart, out_dir, seed, persons=persons)
    rep = index_with_progress(mart, [out_dir], console)
    with console.status("linking the index to the mart"):
        link = link_mart(mart)
    return written, rep, link
