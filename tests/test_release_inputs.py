"""Release inputs (issue 11): the secret file is this user's private regular file with random content;
the project key is a name.  Errors say what is wrong and how to fix it, never the secret."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cohort_engine.cli import app
from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.deid.release_inputs import (
    MAKE_SECRET_HINT,
    ReleaseInputError,
    check_project_key,
    check_secret,
    read_secret_file,
)

GOOD = base64.b64encode(bytes(range(7, 7 + 32 * 5, 5))).decode()  # fixed stand-in for 32 random bytes


def _file(tmp_path: Path, content: str | bytes, mode: int = 0o600, name: str = "release.secret") -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    os.chmod(p, mode)
    return p


def test_a_good_secret_file_is_read_and_stripped(tmp_path: Path) -> None:
    assert read_secret_file(_file(tmp_path, GOOD + "\n")) == GOOD.encode()
    assert read_secret_file(_file(tmp_path, GOOD, 0o400, "ro.secret")) == GOOD.encode()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660])
def test_group_or_world_access_is_refused(tmp_path: Path, mode: int) -> None:
    with pytest.raises(ReleaseInputError, match=rf"other users \(mode {mode:04o}\); run: chmod 600 FILE"):
        read_secret_file(_file(tmp_path, GOOD, mode))


def test_other_owner_symlink_folder_and_missing_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = _file(tmp_path, GOOD)
    link = tmp_path / "link.secret"
    link.symlink_to(secret)
    with pytest.raises(ReleaseInputError, match="not a symbolic link"):
        read_secret_file(link)
    with pytest.raises(ReleaseInputError, match="must be a regular file"):
        read_secret_file(tmp_path)
    with pytest.raises(ReleaseInputError, match="does not exist; " + MAKE_SECRET_HINT.replace("|", r"\|")):
        read_secret_file(tmp_path / "nope")
    monkeypatch.setattr(os, "getuid", lambda: os.stat(secret).st_uid + 1)
    with pytest.raises(ReleaseInputError, match="must be owned by the user running the export"):
        read_secret_file(secret)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("short-but-random-Q7vX", "too short (at least 32 bytes)"),
        ("a" * 64, "low-entropy text"),
        ("password" * 6, "low-entropy text"),
        ("abcdefghij" * 4, "low-entropy text"),
        ("0000000000000000000000000000000000000001", "low-entropy text"),
    ],
)
def test_weak_secrets_are_refused_without_echoing_them(tmp_path: Path, content: str, why: str) -> None:
    with pytest.raises(ReleaseInputError) as err:
        read_secret_file(_file(tmp_path, content))
    assert why in str(err.value) and MAKE_SECRET_HINT in str(err.value) and content not in str(err.value)
    with pytest.raises(ReleaseInputError, match="from COHORT_RELEASE_SECRET"):
        check_secret(content.encode(), "COHORT_RELEASE_SECRET")


def test_a_shadow_like_file_is_refused(tmp_path: Path) -> None:
    """/etc/shadow was accepted before: long enough, but 0640 (and root's on a real system)."""
    shadow = _file(
        tmp_path, "root:$6$Hx9.ab$Zq0LkT8wYv3nR5mJ2pQ7sX1cV4bN6hG8fD0aS9kL3jE:19700:0:99999:7:::\n", 0o640
    )
    with pytest.raises(ReleaseInputError, match="other users"):
        read_secret_file(shadow)


@pytest.mark.parametrize("key", ["lung-ct-2025", "A", "cohort-coh_0123abcd", "v1.2_x", "9" * 64])
def test_project_keys_that_are_names(key: str) -> None:
    assert check_project_key(key) == key
    assert ReleasePolicy(project_key=key, secret=GOOD).project_key == key


@pytest.mark.parametrize(
    "key", ["..", "a..b", "../x", "a/b", "a\\b", ".hidden", "-x", "", "x" * 65, "a b", "a:b", "a\n", "ü"]
)
def test_project_keys_that_are_not_names(key: str) -> None:
    with pytest.raises(ReleaseInputError, match="must be a name of 1-64 characters"):
        check_project_key(key)
    with pytest.raises(ValidationError, match="project_key"):
        ReleasePolicy(project_key=key, secret=GOOD)


@pytest.mark.slow
def test_cli_refuses_a_bad_project_key_and_a_loose_secret_file(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(app, ["export", "--project-key", "..", "--out", str(out), "x"], env={"NO_COLOR": "1"})
    assert res.exit_code == 2 and "must be a name of 1-64 characters" in res.output and not out.exists()
    loose = _file(tmp_path, GOOD, 0o644)
    res = runner.invoke(
        app,
        ["export", "--project-key", "ok", "--out", str(out), "--secret-file", str(loose), "x"],
        env={"NO_COLOR": "1", "COHORT_RELEASE_SECRET": None},
    )
    assert res.exit_code == 2 and "chmod 600" in res.output and GOOD not in res.output and not out.exists()
