"""nlq.regex_cache: the parser's expressions built from the per-user cache match what ``re`` builds."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from cohort_engine.nlq import regex_cache
from cohort_engine.nlq.regex_cache import regex

CASES: list[tuple[str, int, str, list[str]]] = [
    # pattern, flags, text, the matches
    (r"(?P<n>\d+)\s*(?P<u>days?|weeks?)", 0, "within 7 days or 2 weeks", ["7 days", "2 weeks"]),
    (r"\bHbA1c\b", re.IGNORECASE, "hba1c > 8 and HBA1C", ["hba1c", "HBA1C"]),
    (r"(?:진단|수술)(?:일|받은)", 0, "진단일 기준 수술받은 환자", ["진단일", "수술받은"]),
    (
        r"^\s*-\s+(.+)$",
        re.MULTILINE,
        "criteria:\n - age 65+\n - no dialysis",
        [" - age 65+", " - no dialysis"],
    ),
    (r"[^\W\d_]+", re.ASCII, "abc déf 12", ["abc", "d", "f"]),
]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> regex_cache._Store:
    """A fresh cache in its own folder, as a new process sees it."""
    monkeypatch.setenv("COHORT_ENGINE_CACHE", str(tmp_path))
    fresh = regex_cache._Store()
    monkeypatch.setattr(regex_cache, "_STORE", fresh)
    return fresh


def _same(a: re.Pattern[str], b: re.Pattern[str], text: str) -> None:
    assert (a.pattern, a.flags, a.groups, dict(a.groupindex)) == (
        b.pattern,
        b.flags,
        b.groups,
        dict(b.groupindex),
    )
    assert [m.group(0) for m in a.finditer(text)] == [m.group(0) for m in b.finditer(text)]
    assert [m.groupdict() for m in a.finditer(text)] == [m.groupdict() for m in b.finditer(text)]


@pytest.mark.parametrize(("pattern", "flags", "text", "found"), CASES)
def test_a_cached_expression_is_the_one_re_compiles(
    store: regex_cache._Store, pattern: str, flags: int, text: str, found: list[str]
) -> None:
    first = regex(pattern, flags)  # a miss: compiled, remembered
    assert regex_cache.save()
    again = regex_cache._Store()  # the next process reads the file
    regex_cache._STORE = again
    second = regex(pattern, flags)
    assert (pattern, int(flags)) in again.used and not again.added  # built from the file
    expected = re.compile(pattern, flags)
    _same(first, expected, text)
    _same(second, expected, text)
    assert [m.group(0) for m in second.finditer(text)] == found


def test_the_file_is_private_and_keyed_by_the_interpreter(store: regex_cache._Store) -> None:
    regex(r"\d+ days")
    assert regex_cache.save()
    path = regex_cache.cache_file()
    assert path.parent.name == "regex" and path.suffix == ".marshal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not regex_cache.save()  # nothing new since: nothing written


def test_a_damaged_file_costs_the_normal_compile(store: regex_cache._Store) -> None:
    path = regex_cache.cache_file()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not marshal data")
    assert regex(r"(\d+)-(\d+)").fullmatch("7-14").groups() == ("7", "14")
    # an entry sre rejects (its code altered) is compiled anew, never trusted
    regex_cache.save()
    import marshal

    data = marshal.loads(path.read_bytes())
    key = (r"(\d+)-(\d+)", 0)
    flags, code, groups, groupindex, indexgroup = data[key]
    data[key] = (flags, [255, *code], groups, groupindex, indexgroup)
    path.write_bytes(marshal.dumps(data))
    regex_cache._STORE = regex_cache._Store()
    assert regex(r"(\d+)-(\d+)").fullmatch("7-14").groups() == ("7", "14")


def test_a_bad_expression_raises_as_re_does(store: regex_cache._Store) -> None:
    with pytest.raises(re.error, match="missing \\), unterminated subpattern"):
        regex(r"(unclosed")
