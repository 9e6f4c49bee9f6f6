"""The cohort spec contract: JSON round trip, JSON Schema export, and the validation errors users see."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cohort_engine.spec import (
    CohortSpec,
    ConceptSet,
    Criterion,
    DateRange,
    IndexEvent,
    Occurrence,
    ValueFilter,
    Window,
    explain,
    spec_json_schema,
)


def _seed_spec() -> CohortSpec:
    return CohortSpec(
        index=IndexEvent(domain="condition", date_range=DateRange(start="2023-10-01", end="2023-10-10")),
        criteria=[
            Criterion(
                label="surgery",
                domain="procedure",
                concepts=ConceptSet(terms=["myocardial infarction", "coronary artery disease"]),
                window=Window(start=7, end=14),
            ),
        ],
    )


def test_json_round_trip_is_lossless() -> None:
    spec = _seed_spec()
    assert CohortSpec.model_validate_json(spec.model_dump_json()) == spec


def test_json_schema_names_every_part() -> None:
    schema = spec_json_schema()
    assert schema["title"] == "CohortSpec"
    assert {"index", "demographics", "criteria", "imaging"} <= set(schema["properties"])
    defs = schema["$defs"]
    assert {"Criterion", "Window", "Occurrence", "ConceptSet", "DateRange", "ValueFilter"} <= set(defs)
    assert defs["Domain"]["enum"] == [
        "condition",
        "procedure",
        "drug",
        "measurement",
        "observation",
        "visit",
        "imaging",
        "death",
    ]
    json.dumps(schema)  # serialisable as is


@pytest.mark.parametrize(
    "build,message",
    [
        (
            lambda: DateRange(start="2023-10-10", end="2023-10-01"),
            "date range starts (2023-10-10) after it ends (2023-10-01)",
        ),
        (lambda: Window(start=14, end=7), "window starts at day 14 after it ends at day 7"),
        (lambda: ValueFilter(op="between", value=1), "op 'between' needs value_high"),
        (
            lambda: IndexEvent(domain="condition", value=ValueFilter(op=">", value=7)),
            "a value filter applies to measurements or observations, not condition",
        ),
        (
            lambda: Criterion(label="index", domain="drug"),
            "a criterion label must be non-empty and not 'index'",
        ),
        (lambda: Occurrence(count=-1), "greater than or equal to 0"),
        (
            lambda: CohortSpec(
                index=IndexEvent(domain="condition"),
                criteria=[Criterion(label="a", domain="drug"), Criterion(label="a", domain="drug")],
            ),
            "criterion label 'a' is used twice",
        ),
        (
            lambda: CohortSpec(
                index=IndexEvent(domain="condition"),
                criteria=[Criterion(label="b", domain="drug", window=Window(anchor="a"))],
            ),
            "criterion 'b' is anchored on 'a', which is not an earlier criterion",
        ),
        (
            lambda: CohortSpec(
                index=IndexEvent(domain="condition"),
                criteria=[
                    Criterion(label="a", domain="drug", occurrence=Occurrence(type="exactly", count=0)),
                    Criterion(label="b", domain="drug", window=Window(anchor="a")),
                ],
            ),
            "an absence criterion with no events",
        ),
    ],
)
def test_invalid_specs_say_what_is_wrong(build, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        build()
    assert message in str(exc.value)


def test_absence_is_exactly_zero() -> None:
    assert Occurrence(type="exactly", count=0).is_absence
    assert Occurrence(type="at_most", count=0).is_absence
    assert not Occurrence(type="at_least", count=1).is_absence


def _spec_json(**changes: object) -> dict:
    """The seed spec as JSON with ``changes`` applied at dotted paths ('criteria.0.window.start')."""
    data = _seed_spec().model_dump(mode="json")
    for path, value in changes.items():
        node: object = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]  # type: ignore[index]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value  # type: ignore[index]
    return data


# Every door (CLI `run`, REST API, LLM answers, gold specs) validates through the model, so the limits
# live here; the message names the field by its path and never echoes the value.
LIMITS = [
    (
        "criteria.0.window.start",
        -36_601,
        "criteria.0.window.start: Input should be greater than or equal to -36600",
    ),
    ("criteria.0.window.end", 10**12, "criteria.0.window.end: Input should be less than or equal to 36600"),
    (
        "criteria.0.occurrence.count",
        100_001,
        "criteria.0.occurrence.count: Input should be less than or equal",
    ),
    ("demographics.age_max", 151, "demographics.age_max: Input should be less than or equal to 150"),
    (
        "index.concepts.concept_ids",
        [2**31],
        "index.concepts.concept_ids.0: Input should be less than or equal",
    ),
    (
        "index.concepts.concept_ids",
        [-1],
        "index.concepts.concept_ids.0: Input should be greater than or equal",
    ),
    (
        "index.concepts.concept_ids",
        list(range(5_001)),
        "index.concepts.concept_ids: List should have at most 5000",
    ),
    (
        "index.concepts.terms",
        ["x" * 201],
        "index.concepts.terms.0: String should have at most 200 characters",
    ),
    ("index.concepts.codeset", "c" * 65, "index.concepts.codeset: String should have at most 64 characters"),
    (
        "index.date_range.start",
        "1799-12-31",
        "index.date_range.start: dates must fall between the years 1800 and 2200",
    ),
    ("title", "t" * 201, "title: String should have at most 200 characters"),
    ("language", "de", "language: Input should be 'en' or 'ko'"),
    ("criteria.0.label", "l" * 101, "criteria.0.label: String should have at most 100 characters"),
]


@pytest.mark.parametrize(("path", "value", "message"), LIMITS, ids=[p for p, _, _ in LIMITS])
def test_the_spec_enforces_its_own_limits(path: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        CohortSpec.model_validate(_spec_json(**{path: value}))
    text = explain(exc.value)
    assert text.startswith("The spec is invalid — ") and message in text
    if isinstance(value, str) and len(value) > 3:
        assert value not in text  # the input is never echoed


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), float("-inf")])
def test_values_are_finite(bad: float) -> None:
    data = _spec_json(**{"criteria.0.domain": "measurement", "criteria.0.value": {"op": ">", "value": bad}})
    raw = json.dumps(data)  # Infinity / NaN, as a JSON client may send them
    with pytest.raises(ValidationError) as exc:
        CohortSpec.model_validate_json(raw)
    assert "criteria.0.value.value: Input should be a finite number" in explain(exc.value)


def test_a_value_beyond_a_trillion_is_refused() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 1000000000000"):
        ValueFilter(op=">", value=1e13)


def test_imaging_window_anchor_must_name_a_criterion() -> None:
    data = _spec_json()
    data["imaging"] = {"modalities": ["CT"], "window": {"anchor": "nope", "start": 0, "end": 30}}
    with pytest.raises(ValidationError) as exc:
        CohortSpec.model_validate(data)
    assert "the imaging window is anchored on 'nope', which is not a criterion label" in explain(exc.value)


def test_limits_at_their_bounds_are_accepted() -> None:
    data = _spec_json(
        **{"criteria.0.window.start": -36_600, "criteria.0.window.end": 36_600, "demographics.age_max": 150}
    )
    data["index"]["concepts"]["concept_ids"] = [0, 2**31 - 1]
    assert CohortSpec.model_validate(data).criteria[0].window.end == 36_600


def test_the_cli_door_gives_the_spec_message(tmp_path) -> None:
    from typer.testing import CliRunner

    from cohort_engine.cli import app

    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec_json(**{"criteria.0.window.end": 10**12})), "utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "--mart", str(tmp_path / "absent.duckdb")])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "The spec is invalid — criteria.0.window.end: Input should be less than or equal to 36600." in said
