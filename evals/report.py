"""The three faces of an eval run: a terminal table, a self-contained HTML report, one JSON object.

Example person_ids of the set differences appear only in the JSON and the HTML, which are operator
artefacts on the mart host: they are the mart's internal ids, not identifiers of real people, but
they still should not leave that host. The terminal output shows sizes only.
"""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table

from cohort_engine.evals.gold import is_blind
from cohort_engine.evals.metrics import QuestionOutcome
from cohort_engine.evals.runner import EvalReport

PERSON_ID_NOTE = (
    "missing_examples / extra_examples are internal person_ids of the mart, for the operator debugging "
    "on the mart host; do not copy them elsewhere."
)
TERMINAL_FAILURES = 30
SUMMARY_KEYS = (
    "execution_accuracy",
    "mean_jaccard",
    "mean_precision",
    "mean_recall",
    "answered_rate",
    "spec_field_accuracy",
    "refusal_accuracy",
    "abstention_rate",
    "reliability_score",
    "latency_p50_ms",
    "latency_p95_ms",
)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def visible_failures(report: EvalReport) -> tuple[list[QuestionOutcome], int]:
    """The failures a report may show sentence by sentence, and how many blind ones it must not.

    Blind-split outcomes count in every figure and failure class, but their questions, read-backs and
    ids never reach a report: the parser's authors may see the blind split only as scores.
    """
    fails = report.failures()
    shown = [o for o in fails if not is_blind(o.split)]
    return shown, len(fails) - len(shown)


def _silent(s: dict[str, Any]) -> str:
    rate = s["wrong_ok_rate"]
    return f"{s['wrong_ok']}" + (f"  ({100 * rate:.1f}% of answerable)" if rate is not None else "")


def _classes(s: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in s["failure_classes"].items()) or "none"


def failure_dict(o: QuestionOutcome) -> dict[str, Any]:
    return {
        "id": o.id,
        "question": o.question,
        "language": o.language,
        "mart": o.mart,
        "tags": o.tags,
        "expected_status": o.expected_status,
        "status": o.status,
        "message": o.message,
        "readback": o.readback,
        "gold_size": o.gold_size,
        "produced_size": o.produced_size,
        "missing": o.missing,
        "extra": o.extra,
        "missing_examples": o.missing_examples,
        "extra_examples": o.extra_examples,
        "jaccard": o.jaccard,
        "spec_wrong_fields": o.spec_wrong,
        "latency_ms": round(o.latency_ms, 1),
    }


def report_json(report: EvalReport) -> dict[str, Any]:
    """One JSON object: settings, headline figures, breakdowns and every failure."""
    s = report.summary
    out: dict[str, Any] = {"parser": report.parser, "split": report.split}
    out.update({k: s[k] for k in ("questions", "answerable", "refusable")})
    out["skipped"] = report.skipped
    out.update({k: s[k] for k in SUMMARY_KEYS})
    out.update(
        {
            k: s[k]
            for k in ("reliability_points", "spec_questions", "status_counts", "by_construct", "by_mart")
        }
    )
    out.update({k: s[k] for k in ("wrong_ok", "wrong_ok_rate", "failure_classes")})
    out["person_id_note"] = PERSON_ID_NOTE
    shown, redacted = visible_failures(report)
    out["failures"] = [failure_dict(o) for o in shown]
    out["blind_failures_redacted"] = redacted
    return out


# ---------------------------------------------------------------- terminal
def print_report(report: EvalReport, console: Console, max_failures: int = TERMINAL_FAILURES) -> None:
    """Summary, per-construct table and the first ``max_failures`` failures (0 = all), without person_ids."""
    s = report.summary
    skipped = ", ".join(f"{n} {m}" for m, n in report.skipped.items())
    console.rule(
        f"cohort eval · parser {report.parser} · split {report.split} · {s['questions']} questions "
        f"({s['answerable']} answerable, {s['refusable']} to refuse/clarify)"
        + (f" · skipped {skipped}" if skipped else "")
    )
    t = Table(title="summary", show_header=True)
    t.add_column("metric")
    t.add_column("value", justify="right")
    for key in SUMMARY_KEYS:
        v = s[key]
        if key.startswith("latency"):
            shown = _num(v, 0) + " ms"
        elif key == "reliability_score":
            shown = f"{_num(v)}  ({s['reliability_points']} points)"
        else:
            shown = _pct(v)
        t.add_row(key, shown)
    t.add_row("silent wrong answers (ok, wrong)", _silent(s))
    t.add_row("failure classes", _classes(s))
    console.print(t)

    c = Table(title="by construct")
    for col in ("construct", "n", "answerable", "accuracy", "exec. acc.", "mean Jaccard", "reliability"):
        c.add_column(col, justify="left" if col == "construct" else "right")
    for name, g in s["by_construct"].items():
        c.add_row(
            name,
            str(g["questions"]),
            str(g["answerable"]),
            _pct(g["accuracy"]),
            _pct(g["execution_accuracy"]),
            _num(g["mean_jaccard"], 3),
            _num(g["reliability_score"]),
        )
    for name, g in s["by_mart"].items():
        c.add_row(
            f"mart:{name}",
            str(g["questions"]),
            str(g["answerable"]),
            _pct(g["accuracy"]),
            _pct(g["execution_accuracy"]),
            _num(g["mean_jaccard"], 3),
            _num(g["reliability_score"]),
        )
    console.print(c)

    fails, redacted = visible_failures(report)
    if redacted:
        console.print(f"{redacted} failures of the blind split are counted above and not listed.")
    if not fails:
        if not redacted:
            console.print("[bold green]no failures[/]")
        return
    listed = fails if max_failures <= 0 else fails[:max_failures]
    more = (
        ""
        if len(listed) == len(fails)
        else f"; first {len(listed)} shown, all with --failures 0, --json or --html"
    )
    table = Table(title=f"failures ({len(fails)}{more})")
    for col in (
        "id",
        "expected → got",
        "question",
        "read-back / message",
        "gold",
        "produced",
        "missing",
        "extra",
    ):
        table.add_column(col, overflow="fold")
    for o in listed:
        first = (o.readback or o.message or "").strip().splitlines()
        table.add_row(
            o.id,
            f"{o.expected_status} → {o.status}",
            o.question[:90],
            (first[0] if first else "")[:90],
            _opt(o.gold_size),
            _opt(o.produced_size),
            _opt(o.missing),
            _opt(o.extra),
        )
    console.print(table)


def _opt(x: int | None) -> str:
    return "–" if x is None else str(x)


# ---------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans KR',sans-serif;margin:2rem;color:#222;\
max-width:1200px}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}\
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.3rem}.card span{color:#666;font-size:.8rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}\
th,td{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
pre{white-space:pre-wrap;margin:0;font-size:.8rem;color:#333}\
.bad{color:#b00020}.ok{color:#1b7f3b}.note{color:#666;font-size:.8rem}
"""


def _bar_chart(groups: dict[str, dict[str, Any]]) -> str:
    """Horizontal bars: share of correct outcomes per construct (inline SVG, no script, no CDN)."""
    rows = list(groups.items())
    label_w, bar_w, row_h, top = 170, 520, 22, 24
    height = top + row_h * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 140}" height="{height}" '
        'role="img" aria-label="accuracy per construct" font-size="12" font-family="sans-serif">',
        f'<text x="{label_w}" y="14" fill="#666">0%</text>'
        f'<text x="{label_w + bar_w - 30}" y="14" fill="#666">100%</text>',
    ]
    for i, (name, g) in enumerate(rows):
        y = top + i * row_h
        acc = g["accuracy"] or 0.0
        colour = "#1b7f3b" if acc >= 0.8 else "#d08c00" if acc >= 0.5 else "#b00020"
        parts.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{html.escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="#f0f0f0"/>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * acc:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{label_w + bar_w + 6}" y="{y + 14}">{100 * acc:.0f}% of {g["questions"]}'
            f" · RS {_num(g['reliability_score'], 0)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def report_html(report: EvalReport) -> str:
    """A single self-contained HTML page (inline CSS and SVG)."""
    s = report.summary
    e = html.escape
    cards = "".join(
        f'<div class="card"><b>{e(v)}</b><span>{e(k)}</span></div>'
        for k, v in [
            ("questions", str(s["questions"])),
            ("execution accuracy", _pct(s["execution_accuracy"])),
            ("mean Jaccard", _num(s["mean_jaccard"], 3)),
            ("precision / recall", f"{_num(s['mean_precision'], 2)} / {_num(s['mean_recall'], 2)}"),
            ("spec-field accuracy", _pct(s["spec_field_accuracy"])),
            ("refusal accuracy", _pct(s["refusal_accuracy"])),
            ("reliability score", _num(s["reliability_score"])),
            ("silent wrong answers", _silent(s)),
            ("latency p50 / p95", f"{_num(s['latency_p50_ms'], 0)} / {_num(s['latency_p95_ms'], 0)} ms"),
        ]
    )
    group_rows = "".join(
        f"<tr><td>{e(name)}</td><td class=n>{g['questions']}</td><td class=n>{g['answerable']}</td>"
        f"<td class=n>{_pct(g['accuracy'])}</td><td class=n>{_pct(g['execution_accuracy'])}</td>"
        f"<td class=n>{_num(g['mean_jaccard'], 3)}</td><td class=n>{_pct(g['refusal_accuracy'])}</td>"
        f"<td class=n>{_num(g['reliability_score'])}</td></tr>"
        for name, g in [*s["by_construct"].items(), *((f"mart:{m}", g) for m, g in s["by_mart"].items())]
    )
    fail_rows = []
    shown, redacted = visible_failures(report)
    for o in shown:
        sets = (
            f"gold {o.gold_size}, produced {_opt(o.produced_size)}<br>"
            f"missing {_opt(o.missing)}, extra {_opt(o.extra)}"
            + (
                f"<br><span class=note>missing e.g. {e(', '.join(map(str, o.missing_examples)))}</span>"
                if o.missing_examples
                else ""
            )
            + (
                f"<br><span class=note>extra e.g. {e(', '.join(map(str, o.extra_examples)))}</span>"
                if o.extra_examples
                else ""
            )
            if o.answerable
            else "–"
        )
        spec = e(", ".join(o.spec_wrong)) if o.spec_wrong else ""
        fail_rows.append(
            f"<tr><td>{e(o.id)}</td><td>{e(o.question)}</td>"
            f"<td><span class=ok>{e(o.expected_status)}</span> → <span class=bad>{e(o.status)}</span></td>"
            f"<td><pre>{e(o.readback or o.message or '')}</pre></td><td>{sets}</td><td>{spec}</td></tr>"
        )
    skipped = ", ".join(f"{n} {m}" for m, n in report.skipped.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">\
<title>cohort eval · {e(report.parser)} · {e(report.split)}</title>
<style>{_CSS}</style></head><body>
<h1>cohort eval · parser {e(report.parser)} · split {e(report.split)}</h1>
<p class=note>{s["answerable"]} answerable questions, {s["refusable"]} to refuse or clarify\
{(" · skipped " + e(skipped)) if skipped else ""}.
Reliability: +1 right answer or right abstention, 0 abstention on an answerable question, \
−10 wrong answer; score = 100 × mean.</p>
<div class=cards>{cards}</div>
<h2>Accuracy per construct</h2>
{_bar_chart(s["by_construct"])}
<table><tr><th>construct</th><th>n</th><th>answerable</th><th>accuracy</th><th>exec. acc.</th>\
<th>mean Jaccard</th><th>refusal acc.</th><th>reliability</th></tr>
{group_rows}</table>
<h2>Failures ({len(fail_rows)})</h2>
<p class=note>Failure classes: {e(_classes(s))}.\
{f" {redacted} failures of the blind split are counted and not listed." if redacted else ""}</p>
<p class=note>{e(PERSON_ID_NOTE)}</p>
<table><tr><th>id</th><th>question</th><th>expected → got</th><th>read-back / message</th>\
<th>person sets</th><th>wrong spec fields</th></tr>
{"".join(fail_rows)}</table>
</body></html>
"""
