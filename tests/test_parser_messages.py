"""The parser's message catalogue: every message and every offered reading exists in English and Korean
with the same placeholders, and every message is said somewhere."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from cohort_engine.nlq import messages
from cohort_engine.nlq.messages import KIND_NAMES, MESSAGES, READINGS, readings, say
from cohort_engine.nlq.parser import parse
from cohort_engine.nlq.vocab import KIND_DOMAIN

NLQ = Path(messages.__file__).parent


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_message_has_both_languages_with_the_same_placeholders(code: str) -> None:
    entry = MESSAGES[code]
    assert set(entry) == {"en", "ko"}
    assert entry["en"].strip() and entry["ko"].strip()
    assert _fields(entry["en"]) == _fields(entry["ko"])
    assert re.search(r"[\uac00-\ud7a3]", entry["ko"]), "the Korean text is not Korean"


@pytest.mark.parametrize("code", sorted(READINGS))
def test_readings_have_both_languages_with_the_same_placeholders(code: str) -> None:
    entry = READINGS[code]
    assert set(entry) == {"en", "ko"}
    assert entry["en"] and entry["ko"]
    assert set().union(*map(_fields, entry["en"])) == set().union(*map(_fields, entry["ko"]))


def test_kind_names_cover_every_event_kind_in_both_languages() -> None:
    assert set(KIND_NAMES) == {"en", "ko"}
    assert set(KIND_NAMES["en"]) == set(KIND_NAMES["ko"]) == set(KIND_DOMAIN)


def test_every_message_is_said_somewhere() -> None:
    """A code no module passes to ``say``/``readings`` is a dead message."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in NLQ.glob("*.py") if p.name != "messages.py")
    unused = sorted(code for code in {*MESSAGES, *READINGS} if f'"{code}"' not in source)
    assert unused == []


def test_say_fills_placeholders_in_the_users_language() -> None:
    assert say("not_understood", "en", text="blue hair") == "I did not understand “blue hair”."
    assert say("not_understood", "ko", text="파란 머리") == "“파란 머리”을(를) 이해하지 못했습니다."
    assert readings("window_ambiguous", "ko", n=30, side="후") == (
        "30일 후 이내",
        "정확히 30일 후",
        "30일 이상 후",
    )


def test_a_question_is_answered_in_its_language() -> None:
    """The same refusal reaches English and Korean users from the one catalogue entry."""
    en, ko = parse("delete all patients"), parse("환자 데이터를 모두 삭제해줘")
    assert (en.status, en.message) == ("refused", MESSAGES["refuse_destructive"]["en"])
    assert (ko.status, ko.message) == ("refused", MESSAGES["refuse_destructive"]["ko"])
