"""Disclosure check of a record release: k-anonymity over (sex, age band, index year), before writing.

Why: a record release hands every row of a person out.  Pseudonyms and shifted dates hide *who*, but
a person alone in their class of quasi-identifiers — the only woman of 20-24 with an index in 2023 —
is found by anyone who knows those three facts about her, and then every one of her records is
hers.  So before anything is written each person's released quasi-identifiers are generalised until
their class holds at least ``k`` persons, or the person is withheld:

====  ==========================================  ==========================
step  sex, age band, index year released as        what changes for the person
====  ==========================================  ==========================
0     sex, ``age_band_years`` band, year           nothing ("kept")
1     sex, twice as wide a band, year              ``age_band_widened``
2     sex, the wide band, year removed             ``index_year_removed``: no absolute date of
                                                   theirs is released (records keep days from index)
—     —                                            ``withheld``: none of their rows is released
====  ==========================================  ==========================

Classes are counted among the persons released at the same step (local recoding): a released
tuple's class is the set of released rows with exactly that tuple, and a step-1 row ("60-69") is
never counted with step-0 rows ("60-64").  Ages are top-coded: above ``top`` (89, HIPAA Safe Harbor,
the policy's ``age_top_code``) the band is ``"90+"`` at every step.  The index year is the year of the
*released* (shifted) index date — what a recipient sees.

``k`` defaults to 11, the PCORnet/CMS small-cell threshold the REST API's counts use (docs/PRIVACY.md).
The report (:class:`DisclosureReport`) holds counts only — how many persons took each step, how many
classes were below ``k`` as they were — never a class's values, since a small class's values are
themselves the disclosure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

__all__ = [
    "DEFAULT_K",
    "QUASI_IDENTIFIERS",
    "STEP_NAMES",
    "DisclosureReport",
    "QuasiIdentifiers",
    "age_band",
    "generalise",
    "released_values",
    "sex_label",
]

#: The small-cell threshold (PCORnet, CMS), as for the REST API's counts.
DEFAULT_K = 11
QUASI_IDENTIFIERS: tuple[str, ...] = ("sex", "age_band", "index_year")
#: What each step (0, 1, 2) is called in reports; None (withheld) is "withheld".
STEP_NAMES: tuple[str, ...] = ("kept", "age_band_widened", "index_year_removed")

#: (sex label, age at index or None, released index year or None) of one person.
QuasiIdentifiers = tuple[str, int | None, int | None]


def sex_label(gender_concept_id: int | None) -> str:
    """``F`` (8532), ``M`` (8507) or ``unknown``: the released form of ``person.gender_concept_id``."""
    return {8507: "M", 8532: "F"}.get(gender_concept_id or 0, "unknown")


def age_band(age: int | None, width: int, top: int = 89) -> str:
    """``"60-64"`` for width 5; ``"90+"`` above ``top`` (top-coding); ``"unknown"`` without a birth year."""
    if age is None or age < 0:
        return "unknown"
    if age > top:
        return f"{top + 1}+"
    lo = (age // width) * width
    return f"{lo}-{min(lo + width - 1, top)}"


def released_values(
    qi: QuasiIdentifiers, step: int, band_years: int, top: int = 89
) -> tuple[str, str, int | None]:
    """The (sex, age band, index year) a person at ``step`` is released with."""
    sex, age, year = qi
    width = band_years if step == 0 else 2 * band_years
    return sex, age_band(age, width, top), (year if step < 2 else None)


class DisclosureReport(BaseModel):
    """What the check did: counts only (see the module docstring)."""

    k: int
    quasi_identifiers: list[str] = Field(default_factory=lambda: list(QUASI_IDENTIFIERS))
    age_band_years: int
    wide_age_band_years: int
    age_top_code: int
    persons: int
    """Persons of the cohort, before the check."""
    classes_below_k_as_is: int
    """Classes (at step 0) holding fewer than k persons."""
    persons_below_k_as_is: int
    kept: int
    age_band_widened: int
    index_year_removed: int
    withheld: int
    released: int
    released_classes: int
    smallest_released_class: int | None

    def lines(self) -> list[str]:
        """The report in words, for README.txt and the command line."""
        return [
            f"Quasi-identifiers: {', '.join(self.quasi_identifiers)} (age bands of {self.age_band_years} "
            f"years, ages above {self.age_top_code} as {self.age_top_code + 1}+; index year of the shifted "
            "index date).",
            f"k = {self.k}: every released combination of these values is shared by at least "
            f"{self.k} persons.",
            f"Cohort: {self.persons} persons; as they were, {self.persons_below_k_as_is} of them in "
            f"{self.classes_below_k_as_is} combinations below k.",
            f"Released as they were: {self.kept}.",
            f"Age band widened to {self.wide_age_band_years} years: {self.age_band_widened}.",
            f"Index year removed (no absolute dates; days from index kept): {self.index_year_removed}.",
            f"Withheld (no rows at all): {self.withheld}.",
            f"Released: {self.released} persons in {self.released_classes} combinations"
            + (f", the smallest of {self.smallest_released_class}." if self.smallest_released_class else "."),
        ]


def generalise(
    qis: Sequence[QuasiIdentifiers], k: int, *, band_years: int = 5, top: int = 89
) -> tuple[list[int | None], DisclosureReport]:
    """Each person's step (0, 1, 2; None = withheld) so that every released class has >= ``k`` persons.

    Greedy per step: persons whose class at this step has at least ``k`` members (counted among the
    persons still undecided) are released at it; the rest go on to the next step.
    """
    if k < 2:
        raise ValueError("k must be at least 2")
    if band_years < 1:
        raise ValueError("age bands must be at least one year wide")
    steps: list[int | None] = [None] * len(qis)
    undecided = list(range(len(qis)))
    as_is = Counter(released_values(q, 0, band_years, top) for q in qis)
    released_classes: Counter[tuple[int, tuple[str, str, int | None]]] = Counter()
    for step in range(len(STEP_NAMES)):
        values = {i: released_values(qis[i], step, band_years, top) for i in undecided}
        sizes = Counter(values.values())
        rest = []
        for i in undecided:
            if sizes[values[i]] >= k:
                steps[i] = step
                released_classes[(step, values[i])] += 1
            else:
                rest.append(i)
        undecided = rest
    per_step = Counter(steps)
    report = DisclosureReport(
        k=k,
        age_band_years=band_years,
        wide_age_band_years=2 * band_years,
        age_top_code=top,
        persons=len(qis),
        classes_below_k_as_is=sum(1 for n in as_is.values() if n < k),
        persons_below_k_as_is=sum(n for n in as_is.values() if n < k),
        kept=per_step[0],
        age_band_widened=per_step[1],
        index_year_removed=per_step[2],
        withheld=per_step[None],
        released=len(qis) - per_step[None],
        released_classes=len(released_classes),
        smallest_released_class=min(released_classes.values()) if released_classes else None,
    )
    return steps, report
