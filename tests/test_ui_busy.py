"""The chat UI waits out a busy server (``503 busy`` with ``Retry-After``) instead of showing an error.

Why: under load the mart pool turns a request away at once with ``503 busy`` and a ``Retry-After``
(api/pool.py) rather than letting it queue for ever; a researcher should see "busy, retrying" and
then the answer, not an error for a request that would succeed a second later. The real server
(`cohort serve` over the demo mart) answers every request that reaches it; Playwright's route, in
front of it, turns ``POST /v1/ask`` away with the server's own 503 body a set number of times first,
so the busy answers are deterministic. Real headless Chromium, as in tests/test_ui_chat.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from cohort_engine.api.pool import BUSY_MESSAGE
from cohort_engine.seed import SEED_EN, SEED_KO
from tests.served import served
from tests.test_ui_chat import CHROMIUM, _api, _chromium_installed, _open, browser  # noqa: F401

pytestmark = pytest.mark.browser

BUSY_TEXT = {
    "en": "The server is busy; retrying in {s} s…",
    "ko": "서버가 바쁩니다. {s}초 뒤 다시 시도합니다…",
}
ERROR_PREFIX = {"en": "Error", "ko": "오류"}


@pytest.fixture(scope="module")
def server(demo_mart_path: Path, tmp_path_factory: pytest.TempPathFactory):
    with served(demo_mart_path, tmp_path_factory.mktemp("ui-busy"), {"researcher": "researcher"}) as s:
        yield {"base": s.base, "key": s.keys["researcher"]}


class BusyFront:
    """In front of the real ``POST /v1/ask``: the first ``busy`` requests get a 503 (with
    ``retry_after`` as Retry-After, or none), the rest reach the server. Records when each came."""

    def __init__(self, busy: int, retry_after: str | None = "1", code: str = "busy") -> None:
        self.busy, self.retry_after, self.code = busy, retry_after, code
        self.times: list[float] = []

    def __call__(self, route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        self.times.append(time.monotonic())
        if len(self.times) > self.busy:
            route.continue_()
            return
        headers = {"Content-Type": "application/json"}
        if self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        message = BUSY_MESSAGE if self.code == "busy" else "The mart cannot be opened."
        route.fulfill(
            status=503, headers=headers, body=json.dumps({"error": {"code": self.code, "message": message}})
        )


def _ask(page, question: str) -> None:
    page.fill("#question", question)
    page.click("#ask-button")


def _errors_shown(page) -> list[str]:
    return page.locator(".msg.error[role=alert]").all_text_contents()


@pytest.mark.parametrize("lang,question", [("en", SEED_EN), ("ko", SEED_KO)])
def test_one_busy_answer_is_waited_out_and_the_answer_shown(
    browser, server, lang: str, question: str
) -> None:
    page, _, page_errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang=lang)
    front = BusyFront(busy=1, retry_after="1")
    page.route("**/v1/ask", front)
    _ask(page, question)
    status = page.wait_for_selector("[data-testid=msg-assistant][data-busy=true]", timeout=10_000)
    assert status.text_content() == BUSY_TEXT[lang].format(s=1)
    page.wait_for_selector("#result:not([hidden]) [data-testid=funnel-step]", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#count').textContent !== '–'")
    api = _api(server, "POST", "/v1/ask", {"question": question})
    assert api["status"] == "ok"
    assert page.locator("[data-testid=funnel-count]").all_text_contents() == [
        a["display"] for a in api["attrition"]
    ]
    assert page.text_content("#count") == api["count_display"]
    assert len(front.times) == 2
    assert front.times[1] - front.times[0] >= 0.9  # waited the Retry-After before asking again
    assert page.locator("[data-busy=true]").count() == 0  # the status message went with the answer
    assert _errors_shown(page) == []
    assert page_errors == []
    page.close()


def test_a_server_that_stays_busy_is_retried_three_times_then_reported(browser, server) -> None:
    page, _, page_errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="en")
    front = BusyFront(busy=100, retry_after="1")
    page.route("**/v1/ask", front)
    _ask(page, SEED_EN)
    page.wait_for_selector(".msg.error[role=alert]", timeout=20_000)
    assert _errors_shown(page) == [f"Error: {BUSY_MESSAGE}"]
    assert len(front.times) == 4  # the first try and three retries
    assert page.is_enabled("#ask-button")
    assert page_errors == []
    page.close()


def test_a_503_without_retry_after_is_not_retried(browser, server) -> None:
    """An unavailable mart (503 ``mart_unavailable``, no Retry-After) is reported at once."""
    page, _, page_errors = _open(browser, server, viewport={"width": 1366, "height": 900}, lang="ko")
    front = BusyFront(busy=100, retry_after=None, code="mart_unavailable")
    page.route("**/v1/ask", front)
    _ask(page, SEED_KO)
    page.wait_for_selector(".msg.error[role=alert]", timeout=10_000)
    assert _errors_shown(page) == [f"{ERROR_PREFIX['ko']}: The mart cannot be opened."]
    assert len(front.times) == 1
    assert page_errors == []
    page.close()


def test_a_long_retry_after_is_capped_at_ten_seconds(browser, server) -> None:
    """Retry-After: 3600 shows and waits 10 s (Chromium's clock is driven, not waited on)."""
    page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="en-US")
    page.clock.install()
    page.goto(server["base"] + "/")
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#api-key", server["key"])
    page.click("#key-save")
    page.click("#lang-en")
    front = BusyFront(busy=1, retry_after="3600")
    page.route("**/v1/ask", front)
    _ask(page, SEED_EN)
    status = page.wait_for_selector("[data-testid=msg-assistant][data-busy=true]", timeout=10_000)
    assert status.text_content() == BUSY_TEXT["en"].format(s=10)
    page.clock.run_for(9_000)
    assert len(front.times) == 1  # not before the (capped) wait is over
    page.clock.run_for(1_500)
    page.wait_for_selector("#result:not([hidden]) [data-testid=funnel-step]", timeout=60_000)
    assert len(front.times) == 2
    assert _errors_shown(page) == []
    page.close()
