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
