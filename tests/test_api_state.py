"""The API's state file on its own: file modes, job ownership across processes, release states.

Why: the file holds the server secret and the key hashes (so it must be the server's alone), and
several server processes may share it (so one must never fail, or flip, another's jobs).
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from cohort_engine.api.jobs import JobRunner
from cohort_engine.api.state import ReleaseStateError, StateFileError, StateStore


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


# -- file modes -------------------------------------------------------------------------------------------


def test_new_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "cohort_state.sqlite"
    store = StateStore(path)
    store.create_key("researcher")
    try:
        assert _mode(path) == 0o600
        for side in ("-wal", "-shm"):
            extra = path.with_name(path.name + side)
            if extra.exists():
                assert _mode(extra) & 0o077 == 0, side
        assert _mode(path.parent) & 0o002 == 0
    finally:
        store.close()


def test_loose_state_file_is_tightened_on_open(tmp_path: Path) -> None:
    path = tmp_path / "cohort_state.sqlite"
    StateStore(path).close()
    os.chmod(path, 0o644)  # as older versions left it
    store = StateStore(path)
    store.close()
    assert _mode(path) == 0o600


def test_world_writable_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(StateFileError, match="writable by every user"):
        StateStore(folder / "cohort_state.sqlite")
    assert not (folder / "cohort_state.sqlite").exists()


# -- release states ----------------------------------------------------------------------------------------


def _cohort(store: StateStore, key_id: str = "key_a") -> str:
    return store.add_cohort(
        key_id=key_id,
        status="ok",
        spec={},
        overrides={},
        codesets={},
        result={},
        person_count=13,
        result_hash="h",
    ).cohort_id


def test_release_needs_a_request_by_another_key(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    try:
        cid = _cohort(store)
        with pytest.raises(ReleaseStateError, match="Nobody has requested"):
            store.approve_release(cid, "key_steward", "h")
        store.request_release(cid, "key_steward")
        with pytest.raises(ReleaseStateError, match="requested this release yourself"):
            store.approve_release(cid, "key_steward", "h")
        store.approve_release(cid, "key_other", "h")
        rec = store.get_cohort(cid)
        assert rec is not None
        assert (rec.release_status, rec.requested_by, rec.approved_by) == (
            "approved",
            "key_steward",
            "key_other",
        )
        with pytest.raises(ReleaseStateError, match="approved already"):
            store.approve_release(cid, "key_third", "h")
    finally:
        store.close()


# -- jobs belong to their process ------------------------------------------------------------------------


def test_a_second_server_leaves_a_live_servers_jobs_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    first, second = StateStore(path), StateStore(path)
    a = JobRunner(first, tmp_path / "exports")
    try:
        job = first.add_job(kind="manifest_export", cohort_id=None, key_id="k", fmt="csv", owner=a.owner)
        assert first.update_job(job.job_id, status="running")
        assert a.owner.startswith(f"{os.getpid()}:") and len(a.owner) > len(str(os.getpid())) + 8

        b = JobRunner(second, tmp_path / "exports")  # another server starts on the same file
        b.shutdown()
        assert second.get_job(job.job_id).status == "running"  # type: ignore[union-attr]
        assert b.owner != a.owner

        # The first server dies: no heartbeat for longer than the lease. Now the job is failed.
        with second.transaction() as con:
            con.execute("UPDATE jobs SET heartbeat_at = ? WHERE job_id = ?", (time.time() - 3600, job.job_id))
        c = JobRunner(second, tmp_path / "exports")
        c.shutdown()
        failed = second.get_job(job.job_id)
        assert failed is not None and (failed.status, failed.message) == (
            "failed",
            "interrupted by a server restart",
        )

        # A failed job never flips to done (nor back to running).
        assert not first.update_job(job.job_id, status="done", message="13 rows")
        assert not first.update_job(job.job_id, status="running")
        assert first.get_job(job.job_id).status == "failed"  # type: ignore[union-attr]
    finally:
        a.shutdown()
        first.close()
        second.close()


@pytest.mark.slow
def test_heartbeat_keeps_a_long_job_alive(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    runner = JobRunner(store, tmp_path / "exports", lease_s=0.3)
    try:
        job = store.add_job(kind="manifest_export", cohort_id=None, key_id="k", fmt="csv", owner=runner.owner)
        store.update_job(job.job_id, status="running")
        time.sleep(0.5)  # longer than the lease: only the heartbeat (every 0.1 s) keeps it alive
        assert store.fail_interrupted_jobs("another-process", lease_s=0.3) == 0
        beat = store.get_job(job.job_id)
        assert beat is not None and beat.status == "running" and beat.heartbeat_at > time.time() - 0.3
        runner.shutdown()
        time.sleep(0.5)
        assert store.fail_interrupted_jobs("another-process", lease_s=0.3) == 1
    finally:
        runner.shutdown()
        store.close()


def test_partial_exports_of_dead_jobs_are_removed(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.sqlite")
    exports = tmp_path / "exports"
    exports.mkdir()
    live = store.add_job(kind="manifest_export", cohort_id=None, key_id="k", fmt="csv", owner="other:live")
    dead = store.add_job(kind="manifest_export", cohort_id=None, key_id="k", fmt="csv")
    store.update_job(dead.job_id, status="failed")
    for job in (live, dead):
        (exports / f"{job.job_id}.csv.part").write_text("patient\n")
    (exports / "job_0000000000000000.csv.part").write_text("patient\n")  # no such job
    runner = JobRunner(store, exports)
    try:
        assert sorted(p.name for p in exports.iterdir()) == [f"{live.job_id}.csv.part"]
    finally:
        runner.shutdown()
        store.close()
