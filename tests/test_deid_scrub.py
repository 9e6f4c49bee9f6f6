"""Free-text scrubbing: exact outputs (English and Korean), deny-list expansion, offline operation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import util

import pytest

from cohort_engine.deid.policy import ReleasePolicy
from cohort_engine.deid.scrub import expand_identifiers, get_analyzer, scrub_text

POLICY = ReleasePolicy(project_key="scrub-test", secret="scrub-test-secret-0123456789")

KNOWN = [
    "KIM^MINJUN",
    "김민준",
    "H12345678",
    "P00001234",
    "1975-04-09",
    "123 Sejong-daero, Jung-gu, Seoul",
    "서울특별시 중구 세종대로 110",
    "010-9876-5432",
    "minjun.kim@example.com",
]

CASES_EN = [
    ("CT chest for KIM MINJUN", "CT chest for [NAME]"),
    ("Kim Minjun, MRN H12345678, seen 2023-10-01", "[NAME], MRN [MRN], seen [DATE]"),
    (
        "Follow-up Oct 1 2023; prior 1 October 2023; DOB April 9, 1975",
        "Follow-up [DATE]; prior [DATE]; DOB [DATE]",
    ),
    ("Contact 010-9876-5432 or minjun.kim@example.com", "Contact [PHONE] or [EMAIL]"),
    ("Lives at 123 Sejong-daero, Jung-gu, Seoul", "Lives at [ADDRESS]"),
    ("Patient ID P00001234 transferred", "Patient ID [MRN] transferred"),
    ("Chart No 1234567 reviewed", "Chart No [MRN] reviewed"),
    ("Dr. Park reviewed the images", "Dr. [NAME] reviewed the images"),
    ("Seen on 15/03/2022 and 2022.03.16", "Seen on [DATE] and [DATE]"),
    ("born 09 Apr 1975", "born [DATE]"),
    ("AXIAL 5mm", "AXIAL 5mm"),
    ("KIMCHI diet, no sleep issues", "KIMCHI diet, no sleep issues"),
    ("CHEST PA", "CHEST PA"),
]

CASES_KO = [
    ("김민준님 2023년 10월 1일 내원", "[NAME]님 [DATE] 내원"),
    ("주민등록번호 750409-1234567", "주민등록번호 [RRN]"),
    ("연락처: 02-123-4567, 휴대폰 +82 10-2222-3333", "연락처: [PHONE], 휴대폰 [PHONE]"),
    ("등록번호: 87654321 환자번호 12345678", "등록번호: [MRN] 환자번호 [MRN]"),
    ("민준씨 보호자 연락 바람", "[NAME]씨 보호자 연락 바람"),
    ("주소 서울특별시 중구 세종대로 110", "주소 [ADDRESS]"),
    ("2023.10.01 촬영, 생년월일 19750409", "[DATE] 촬영, 생년월일 [DATE]"),
    ("담당 이영희 씨에게 전달", "담당 [NAME] 씨에게 전달"),
    ("선생님께 전달", "선생님께 전달"),
    ("흉부 CT 조영증강", "흉부 CT 조영증강"),
]


@pytest.mark.parametrize(("text", "expected"), CASES_EN)
def test_scrub_english(text: str, expected: str) -> None:
    assert scrub_text(text, KNOWN, POLICY) == expected


@pytest.mark.parametrize(("text", "expected"), CASES_KO)
def test_scrub_korean(text: str, expected: str) -> None:
    assert scrub_text(text, KNOWN, POLICY) == expected


def test_patterns_work_without_known_identifiers() -> None:
    assert scrub_text("RRN 800315-2345678 tel 010-1111-2222", [], POLICY) == "RRN [RRN] tel [PHONE]"


def test_custom_mrn_patterns_from_policy() -> None:
    policy = ReleasePolicy(
        project_key="scrub-mrn",
        secret="scrub-test-secret-0123456789",
        mrn_patterns=(r"(?<![A-Z0-9])SNU\d{6}(?!\d)",),
    )
    assert scrub_text("ref SNU123456", [], policy) == "ref [MRN]"
    assert scrub_text("ref SNU123456", [], POLICY) == "ref SNU123456"


def test_expand_identifiers_types_and_spellings() -> None:
    exp = expand_identifiers(["HONG^GILDONG", "홍^길동", "19800315", "02-123-4567", "H12345678"])
    assert {"HONG", "GILDONG", "HONG GILDONG", "HONGGILDONG", "홍길동", "길동"} <= set(exp["NAME"])
    assert {"1980-03-15", "1980년 3월 15일", "15 March 1980", "March 15, 1980", "800315"} <= set(exp["DATE"])
    assert {"021234567", "+82 2-123-4567"} <= set(exp["PHONE"])
    assert exp["MRN"] == ("H12345678",)


def test_analyzer_is_built_once() -> None:
    assert get_analyzer(POLICY) is get_analyzer(POLICY)
    scrub_text("x 1", KNOWN, POLICY)
    assert get_analyzer(POLICY) is get_analyzer()


def test_no_spacy_model_installed() -> None:
    """The point of the no-op engine: it must work with no spaCy model on the machine."""
    for model in ("en_core_web_sm", "en_core_web_lg", "ko_core_news_sm"):
        assert util.find_spec(model) is None


@pytest.mark.slow
def test_works_offline_in_fresh_process() -> None:
    """Fresh interpreter, HF_HUB_OFFLINE=1, every socket connect raising: import, build, scrub."""
    code = textwrap.dedent(
        """
        import socket
        def _blocked(*a, **k):
            raise OSError("network disabled in test")
        socket.socket.connect = _blocked
        socket.socket.connect_ex = _blocked
        socket.create_connection = _blocked
        from cohort_engine.deid.policy import ReleasePolicy
        from cohort_engine.deid.scrub import scrub_text
        p = ReleasePolicy(project_key="offline", secret="offline-secret-0123456789")
        print(scrub_text("홍길동 010-1234-5678 2023-10-01", ["홍길동"], p))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[NAME] [PHONE] [DATE]"


def test_custom_mrn_pattern_without_digits_is_not_gated() -> None:
    policy = ReleasePolicy(
        project_key="scrub-mrn2", secret="scrub-test-secret-0123456789", mrn_patterns=(r"\bMRN-[A-Z]{6}\b",)
    )
    assert scrub_text("see MRN-ABCDEF", [], policy) == "see [MRN]"
