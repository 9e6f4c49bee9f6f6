"""Vectorised simulation of the demo population, one chunk of persons at a time.

Why this shape: at a million persons a per-person Python loop would take far too long, so every
clinical pathway (background care, chronic clinics, stable CAD, acute MI, stroke, four cancers, GI
bleeding, elective surgery) is written as numpy operations over *all* persons of a chunk that
enter it.  Each pathway appends whole arrays to column stores (:class:`_Store`); visits and
procedures hand back their chunk-local row numbers so that later events can point at them.

Truncation instead of look-ahead: pathways freely schedule events after the end of the data
window (2025-06-30) or after a death; :func:`finalize` then drops every visit starting outside
``[2019-01-01, min(2025-06-30, death)]`` together with the events recorded in it, clips visit and
drug end dates, and only then assigns the global, gap-free ids.  That keeps the pathways simple and
guarantees the referential rules the tests check (every event inside its visit, its person's
observation period, and before death).

Determinism: a chunk is simulated from ``numpy.random.default_rng([seed, chunk_index])`` with a
fixed chunk size (:data:`CHUNK_PERSONS`), and every random draw happens in a fixed code order, so
the same (persons, seed) gives the same tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cohort_engine.schema_catalog.demo import concepts as C
from cohort_engine.schema_catalog.demo.vocabulary import Vocab

CHUNK_PERSONS = 50_000
_DAY0 = np.datetime64("1970-01-01", "D")


def day(iso: str) -> int:
    """Days since 1970-01-01 (Arrow ``date32``) of an ISO date."""
    return int((np.datetime64(iso, "D") - _DAY0).astype(np.int64))


START = day("2019-01-01")
END = day("2025-06-30")
REF = day("2022-07-01")  # ages of the population are drawn as of this date
NEVER = np.int64(2**31 - 1)

#: DICOM BodyPartExamined values; procedure rows carry an index into this (0 = default of the code).
SITES = ("", "CHEST", "HEART", "HEAD", "ABDOMEN", "BREAST", "KNEE", "HIP", "LSPINE")
SITE = {s: i for i, s in enumerate(SITES)}
#: Imaging procedures -> (DICOM modality, default body part).
IMAGING: dict[str, tuple[str, str]] = {
    "87.03": ("CT", "HEAD"),
    "87.41": ("CT", "CHEST"),
    "88.01": ("CT", "ABDOMEN"),
    "88.91": ("MR", "HEAD"),
    "88.92": ("MR", "HEART"),
    "88.56": ("XA", "HEART"),
    "88.57": ("XA", "HEART"),
    "39.74": ("XA", "HEAD"),
    "88.72": ("US", "HEART"),
    "88.73": ("US", "BREAST"),
    "88.76": ("US", "ABDOMEN"),
    "87.44": ("DX", "CHEST"),
    "88.33": ("CR", "KNEE"),
}


def _volume() -> tuple[np.ndarray, np.ndarray]:
    """Relative daily activity of the network: a COVID-19 dip in 2020-2021 and growth from 2022
    (a new cardiac and cancer centre), so that index events are not uniform over the years."""
    days = np.arange(START, END + 1)
    year = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    level = {2019: 1.0, 2020: 0.8, 2021: 0.9, 2022: 1.0, 2023: 1.15, 2024: 1.2, 2025: 1.2}
    w = np.select([year == y for y in level], list(level.values()), 1.0)
    pdf = w / w.sum()
    return pdf, np.cumsum(pdf)


_VOLUME_PDF, _VOLUME_CDF = _volume()

#: Probability scale of each pathway (tertiary cardiac/cancer referral network: high prevalence).
PREVALENCE = {
    "cad": 1.4,
    "mi": 1.0,
    "stroke": 1.0,
    "colon": 1.0,
    "stomach": 1.0,
    "lung": 1.0,
    "breast": 1.0,
    "gib": 1.0,
    "appendix": 1.0,
    "gallstone": 1.0,
    "arthroplasty": 1.0,
}

# Normal-ish lab values: mean, sd, low clip, high clip, decimals.
_NORMAL: dict[str, tuple[float, float, float, float, int]] = {
    "wbc": (7.0, 1.8, 2.0, 20.0, 1),
    "plt": (250, 60, 40, 600, 0),
    "glucose": (98, 14, 60, 250, 0),
    "creat": (0.9, 0.2, 0.4, 2.2, 2),
    "alt": (24, 10, 5, 180, 0),
    "ast": (25, 8, 8, 160, 0),
    "na": (140, 2.5, 126, 150, 0),
    "k": (4.2, 0.35, 3.0, 5.9, 1),
    "bun": (15, 4, 5, 45, 0),
    "crp": (1.5, 1.5, 0.1, 80, 1),
    "tchol": (190, 35, 100, 320, 0),
    "ldl": (115, 30, 40, 230, 0),
    "hdl": (52, 12, 25, 100, 0),
    "tg": (130, 50, 40, 500, 0),
    "cea": (2.0, 1.0, 0.3, 5.5, 1),
    "psa": (1.3, 0.9, 0.1, 9.0, 2),
    "bmi": (24.0, 3.5, 15.0, 40.0, 1),
    "inr": (1.0, 0.08, 0.8, 1.4, 2),
    "ca199": (12, 8, 1, 37, 1),
    "ntprobnp": (80, 40, 10, 300, 0),
    "sbp": (122, 12, 90, 170, 0),
    "dbp": (76, 8, 50, 105, 0),
}
_LAB_INDEX = {lab.key: i for i, lab in enumerate(C.LABS)}


@dataclass(frozen=True)
class CancerSpec:
    """Parameters of one cancer pathway: codes, histology, surgery, chemotherapy, markers, death."""

    codes: tuple[str, ...]
    weights: tuple[float, ...]
    histology: tuple[str, ...]
    histology_w: tuple[float, ...]
    surgery: tuple[str, ...]
    surgery_w: tuple[float, ...]
    p_surgery: float
    los: tuple[int, int]
    regimen: tuple[str, ...]
    cycle_days: int
    cycles: int
    p_chemo: float
    staging: tuple[str, ...]
    markers: tuple[str, ...]
    p_death: float


class _Store:
    """Column arrays of one event kind, appended per pathway and concatenated once."""

    def __init__(self, spec: dict[str, tuple[type, float | int | None]]) -> None:
        self.spec = spec
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in spec}
        self.n = 0

    def add(self, **cols: np.ndarray | int | float) -> np.ndarray:
        lengths = {np.size(v) for v in cols.values() if np.ndim(v) > 0}
        if len(lengths) != 1:
            raise ValueError(f"inconsistent column lengths {lengths}")
        n = lengths.pop()
        for k, (dtype, default) in self.spec.items():
            v = cols.get(k, default)
            if v is None:
                raise ValueError(f"column {k} is required")
            self.parts[k].append(np.broadcast_to(np.asarray(v, dtype=dtype), (n,)))
        ids = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return ids

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            k: (np.concatenate(v) if v else np.empty(0, dtype=self.spec[k][0])) for k, v in self.parts.items()
        }


_I64, _I32, _F64 = np.int64, np.int32, np.float64


class Sim:
    """One chunk of persons and everything that happens to them."""

    def __init__(self, vocab: Vocab, rng: np.random.Generator, n: int) -> None:
        self.v, self.rng, self.n = vocab, rng, n
        self.visits = _Store(
            {"person": (_I64, None), "concept": (_I32, None), "start": (_I64, None), "end": (_I64, None)}
        )
        self.conds = _Store(
            {"person": (_I64, None), "concept": (_I32, None), "date": (_I64, None), "visit": (_I64, None)}
        )
        self.procs = _Store(
            {
                "person": (_I64, None),
                "concept": (_I32, None),
                "date": (_I64, None),
                "visit": (_I64, None),
                "site": (np.uint8, 0),
                "dx": (_I32, 0),
            }
        )
        self.drugs = _Store(
            {
                "person": (_I64, None),
                "concept": (_I32, None),
                "start": (_I64, None),
                "days": (_I32, None),
                "visit": (_I64, None),
                "qty": (_F64, 1.0),
            }
        )
        self.meas = _Store(
            {
                "person": (_I64, None),
                "lab": (np.int16, None),
                "date": (_I64, None),
                "visit": (_I64, None),
                "value": (_F64, None),
            }
        )
        self.obs = _Store(
            {
                "person": (_I64, None),
                "concept": (_I32, None),
                "date": (_I64, None),
                "visit": (_I64, None),
                "vnum": (_F64, np.nan),
                "vconcept": (_I32, 0),
                "unit": (_I32, 0),
                "vstr": (np.int16, -1),
            }
        )
        self.notes = _Store(
            {
                "person": (_I64, None),
                "date": (_I64, None),
                "visit": (_I64, None),
                "kind": (np.uint8, None),
                "concept": (_I32, None),
                "aux": (_I32, 0),
            }
        )
        self.deaths = _Store({"person": (_I64, None), "date": (_I64, None), "cause": (_I32, None)})
        self._demographics()

    # ------------------------------------------------------------------ random helpers
    def rand(self, k: int) -> np.ndarray:
        return self.rng.random(k)

    def ints(self, lo: int | np.ndarray, hi: int | np.ndarray, k: int) -> np.ndarray:
        """Uniform integers in [lo, hi], both inclusive."""
        return self.rng.integers(lo, np.asarray(hi) + 1, k, dtype=np.int64)

    def choose(self, options: Sequence[int], weights: Sequence[float], k: int) -> np.ndarray:
        w = np.asarray(weights, dtype=float)
        return np.asarray(options, dtype=np.int64)[self.rng.choice(len(options), k, p=w / w.sum())]

    def day_in(self, persons: np.ndarray, pre: int = 0, post: int = 0) -> np.ndarray:
        """A day in the person's part of the data window (leaving room before and after), drawn
        from the network's activity curve :data:`_VOLUME_CDF` by inverse-CDF sampling."""
        lo = self.lo[persons] + pre
        hi = np.maximum(END - post, lo)
        f_lo = (
            _VOLUME_CDF[np.clip(lo - START, 0, len(_VOLUME_CDF) - 1)]
            - _VOLUME_PDF[np.clip(lo - START, 0, len(_VOLUME_PDF) - 1)]
        )
        f_hi = _VOLUME_CDF[np.clip(hi - START, 0, len(_VOLUME_CDF) - 1)]
        u = f_lo + self.rand(len(persons)) * (f_hi - f_lo)
        d = START + np.searchsorted(_VOLUME_CDF, u, side="left")
        return np.clip(d, lo, hi).astype(np.int64)

    def icd(self, *codes: str) -> list[int]:
        return [self.v.icd[c] for c in codes]

    def proc_ids(self, *codes: str) -> list[int]:
        return [self.v.proc[c] for c in codes]

    def lab_value(self, key: str, k: int) -> np.ndarray:
        mean, sd, lo, hi, dec = _NORMAL[key]
        return np.round(np.clip(self.rng.normal(mean, sd, k), lo, hi), dec)

    # ------------------------------------------------------------------ event helpers
    def visit(
        self, persons: np.ndarray, start: np.ndarray, end: np.ndarray | int, concept: int | np.ndarray
    ) -> np.ndarray:
        return self.visits.add(person=persons, concept=concept, start=start, end=end)

    def dx(self, persons: np.ndarray, concept: int | np.ndarray, date: np.ndarray, visit: np.ndarray) -> None:
        self.conds.add(person=persons, concept=concept, date=date, visit=visit)

    def proc(
        self,
        persons: np.ndarray,
        code: str | int | np.ndarray,
        date: np.ndarray,
        visit: np.ndarray,
        dx: int | np.ndarray = 0,
        site: str | np.ndarray = "",
    ) -> np.ndarray:
        concept = self.v.proc[code] if isinstance(code, str) else code
        site_ix = SITE[site] if isinstance(site, str) else site
        return self.procs.add(person=persons, concept=concept, date=date, visit=visit, dx=dx, site=site_ix)

    def rx(
        self,
        persons: np.ndarray,
        drug: str | np.ndarray,
        start: np.ndarray,
        days: int | np.ndarray,
        visit: np.ndarray,
        qty: float | np.ndarray | None = None,
    ) -> None:
        concept = self.v.drug[drug] if isinstance(drug, str) else drug
        q = np.asarray(days, dtype=float) if qty is None else qty
        self.drugs.add(person=persons, concept=concept, start=start, days=days, visit=visit, qty=q)

    def lab(
        self,
        persons: np.ndarray,
        key: str,
        date: np.ndarray,
        visit: np.ndarray,
        value: np.ndarray | None = None,
    ) -> None:
        val = self.lab_value(key, len(persons)) if value is None else value
        self.meas.add(person=persons, lab=_LAB_INDEX[key], date=date, visit=visit, value=val)

    def labs(self, persons: np.ndarray, keys: Sequence[str], date: np.ndarray, visit: np.ndarray) -> None:
        for key in keys:
            if key == "hgb":
                self.lab(persons, key, date, visit, self.hgb_normal(persons))
            else:
                self.lab(persons, key, date, visit)

    def hgb_normal(self, persons: np.ndarray) -> np.ndarray:
        mean = np.where(self.male[persons], 14.6, 12.9)
        return np.round(np.clip(self.rng.normal(mean, 1.1), 9.0, 18.5), 1)

    def note(
        self,
        persons: np.ndarray,
        date: np.ndarray,
        visit: np.ndarray,
        kind: int,
        concept: int | np.ndarray,
        aux: int | np.ndarray = 0,
    ) -> None:
        """kind: 0 discharge summary, 1 radiology report, 2 pathology report."""
        self.notes.add(person=persons, date=date, visit=visit, kind=kind, concept=concept, aux=aux)

    def die(
        self, persons: np.ndarray, date: np.ndarray, cause: int | np.ndarray, p: float | np.ndarray
    ) -> None:
        hit = self.rand(len(persons)) < p
        if hit.any():
            self.deaths.add(
                person=persons[hit],
                date=np.asarray(date)[hit],
                cause=np.broadcast_to(np.asarray(cause), (len(persons),))[hit],
            )

    def series(
        self, first: np.ndarray, gap_lo: int, gap_hi: int, max_n: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Repeated visits from ``first`` every gap_lo..gap_hi days until END (at most max_n).

        Returns (row into the caller's arrays, date, rank 0..)."""
        m = len(first)
        if m == 0:
            e = np.empty(0, dtype=np.int64)
            return e, e, e
        gaps = self.ints(gap_lo, gap_hi, m * max_n).reshape(m, max_n)
        gaps[:, 0] = 0
        dates = first[:, None] + np.cumsum(gaps, axis=1)
        keep = dates <= END
        rows, rank = np.nonzero(keep)
        return rows, dates[keep], rank

    # ------------------------------------------------------------------ population
    def _demographics(self) -> None:
        n = self.n
        self.male = self.rand(n) < 0.48
        bucket = self.rng.choice(5, n, p=[0.07, 0.17, 0.38, 0.32, 0.06])
        lo = np.array([0, 18, 40, 65, 85])[bucket]
        hi = np.array([17, 39, 64, 84, 99])[bucket]
        self.age = self.ints(lo, hi, n)
        self.birth = REF - np.floor(self.age * 365.25).astype(np.int64) - self.ints(0, 364, n)
        self.lo = np.maximum(START, self.birth + 1)
        age, male = self.age, self.male
        adult = age >= 20
        u = self.rand(n)
        cur = np.where(male, 0.30, 0.05)
        former = np.where(male, 0.28, 0.04)
        self.smoke = np.where(
            ~adult, 2, np.where(u < cur, 0, np.where(u < cur + former, 1, 2))
        )  # 0 cur 1 ex 2 never
        self.htn = self.rand(n) < np.clip(0.012 * (age - 30), 0, 0.6)
        self.dm = self.rand(n) < np.clip(0.006 * (age - 30), 0, 0.3) * np.where(male, 1.15, 0.9)
        self.hl = self.rand(n) < np.clip(0.009 * (age - 25), 0, 0.45)
        self.af = self.rand(n) < np.clip(0.003 * (age - 50), 0, 0.12)
        self.hf = self.rand(n) < np.clip(0.002 * (age - 60), 0, 0.06)
        self.first_visit = np.full(n, NEVER, dtype=np.int64)

    def run(self) -> None:
        """All pathways, in a fixed order (the order of random draws is part of determinism)."""
        self._background()
        self._chronic()
        self._coronary()
        self._stroke()
        for kind in ("colon", "stomach", "lung", "breast"):
            self._cancer(kind)
        self._gi_bleeding()
        self._elective_surgery()
        self._old_age()

    # ------------------------------------------------------------------ background care
    _BG: tuple[tuple[str, float, int, str], ...] = (
        ("J06.9", 10, 0, ""),
        ("J18.9", 3, 0, ""),
        ("M54.50", 6, 18, ""),
        ("K21.9", 5, 18, ""),
        ("K29.70", 5, 15, ""),
        ("N39.0", 3, 0, "F"),
        ("R51.9", 3, 10, ""),
        ("R10.9", 4, 5, ""),
        ("R07.9", 3, 30, ""),
        ("J45.909", 2, 3, ""),
        ("F32.A", 2, 15, ""),
        ("E03.9", 2, 30, "F"),
        ("M81.0", 3, 55, "F"),
        ("N40.0", 4, 50, "M"),
        ("J44.9", 2, 50, "M"),
        ("M17.11", 3, 50, ""),
        ("Z00.00", 6, 20, ""),
    )

    _BG_ACUTE = ("J06.9", "J18.9", "M54.50", "N39.0", "R51.9", "R10.9", "R07.9", "J45.909")

    def _background(self) -> None:
        n = self.n
        lam = np.clip(0.8 + 0.035 * self.age, 0.8, 4.0)
        k = np.minimum(1 + self.rng.poisson(lam), 8)
        owner = np.repeat(np.arange(n), k)
        m = len(owner)
        date = self.day_in(owner)
        er = self.rand(m) < 0.10
        vid = self.visit(owner, date, date, np.where(er, 9203, 9202))
        np.minimum.at(self.first_visit, owner, date)

        codes = [c for c, *_ in self._BG]
        w = np.array([b[1] for b in self._BG], dtype=float)
        min_age = np.array([b[2] for b in self._BG])
        sex = np.array([b[3] for b in self._BG])
        a = self.age[owner][:, None]
        mal = self.male[owner][:, None]
        ok = (a >= min_age[None, :]) & ~((sex == "F")[None, :] & mal) & ~((sex == "M")[None, :] & ~mal)
        acute = np.isin(codes, self._BG_ACUTE)
        ok &= ~er[:, None] | acute[None, :]  # the ER sees acute complaints, not check-ups
        cdf = np.cumsum(w[None, :] * ok, axis=1)
        pick = (cdf < (self.rand(m) * cdf[:, -1])[:, None]).sum(axis=1)
        ids = np.array(self.icd(*codes), dtype=np.int64)
        cond = ids[pick]
        self.dx(owner, cond, date, vid)
        second = self.rand(m) < 0.25
        pick2 = (cdf[second] < (self.rand(int(second.sum())) * cdf[second, -1])[:, None]).sum(axis=1)
        self.dx(owner[second], ids[pick2], date[second], vid[second])

        code_at = {c: cond == ids[i] for i, c in enumerate(codes)}
        # Labs: routine panel at a third of visits and at every health check-up.
        panel = (self.rand(m) < 0.35) | code_at["Z00.00"]
        self.labs(
            owner[panel],
            ("wbc", "hgb", "plt", "glucose", "creat", "alt", "ast", "na", "k"),
            date[panel],
            vid[panel],
        )
        chk = code_at["Z00.00"]
        self.labs(owner[chk], ("tchol", "ldl", "hdl", "tg"), date[chk], vid[chk])
        psa = chk & self.male[owner] & (self.age[owner] >= 50) & (self.rand(m) < 0.5)
        self.lab(owner[psa], "psa", date[psa], vid[psa])

        def when(code: str, p: float) -> np.ndarray:
            return code_at[code] & (self.rand(m) < p)

        for code, proc, p, site in (
            ("J18.9", "87.44", 0.9, ""),
            ("R07.9", "87.44", 0.8, ""),
            ("R07.9", "89.52", 0.9, ""),
            ("R10.9", "88.76", 0.4, ""),
            ("R10.9", "88.01", 0.25, ""),
            ("R51.9", "87.03", 0.25, ""),
            ("M17.11", "88.33", 0.8, "KNEE"),
            ("M54.50", "88.33", 0.4, "LSPINE"),
            ("Z00.00", "87.44", 0.8, ""),
            ("Z00.00", "88.76", 0.3, ""),
        ):
            s = when(code, p)
            self.proc(owner[s], proc, date[s], vid[s], dx=cond[s], site=site)
        for code, drug, p, days in (
            ("J06.9", "acetaminophen", 0.6, 5),
            ("J18.9", "amoxicillin", 0.8, 7),
            ("K21.9", "omeprazole", 0.7, 28),
            ("K29.70", "omeprazole", 0.5, 14),
            ("M54.50", "acetaminophen", 0.5, 14),
        ):
            s = when(code, p)
            self.rx(owner[s], drug, date[s], days, vid[s])

        # First visit of each person: smoking status and BMI for adults.
        order = np.lexsort((date, owner))
        first_rows = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
        fp, fd, fv = owner[first_rows], date[first_rows], vid[first_rows]
        adult = (self.age[fp] >= 20) & (self.rand(len(fp)) < 0.8)
        smk = np.array([self.v.demo["SMK-CUR"], self.v.demo["SMK-EX"], self.v.demo["SMK-NEV"]])
        self.obs.add(
            person=fp[adult],
            concept=self.v.loinc["72166-2"],
            date=fd[adult],
            visit=fv[adult],
            vconcept=smk[self.smoke[fp[adult]]],
        )
        cur = adult & (self.smoke[fp] == 0) & (self.rand(len(fp)) < 0.4)
        self.dx(fp[cur], self.v.icd["F17.210"], fd[cur], fv[cur])
        bmi = (self.age[fp] >= 20) & (self.rand(len(fp)) < 0.6)
        self.lab(fp[bmi], "bmi", fd[bmi], fv[bmi])

    # ------------------------------------------------------------------ chronic clinics
    def _chronic(self) -> None:
        flags = self.htn | self.dm | self.hl | self.af | self.hf
        p = np.nonzero(flags)[0]
        prevalent = self.rand(len(p)) < 0.7
        onset = np.where(prevalent, self.lo[p] + self.ints(0, 120, len(p)), self.day_in(p))
        rows, date, _ = self.series(onset, 100, 190, 24)
        pp = p[rows]
        vid = self.visit(pp, date, date, 9202)

        def sel(flag: np.ndarray) -> np.ndarray:
            return flag[pp]

        s = sel(self.htn)
        htn_drug = self.choose(
            [self.v.drug["amlodipine"], self.v.drug["losartan"], self.v.drug["lisinopril"]],
            [0.55, 0.3, 0.15],
            self.n,
        )
        self.dx(pp[s], self.v.icd["I10"], date[s], vid[s])
        self.lab(
            pp[s], "sbp", date[s], vid[s], np.round(np.clip(self.rng.normal(136, 14, int(s.sum())), 95, 210))
        )
        self.lab(
            pp[s], "dbp", date[s], vid[s], np.round(np.clip(self.rng.normal(84, 9, int(s.sum())), 50, 125))
        )
        self.rx(pp[s], htn_drug[pp[s]], date[s], 90, vid[s])

        s = sel(self.dm)
        dm_code = self.choose(self.icd("E11.9", "E11.65", "E11.22"), [0.6, 0.25, 0.15], self.n)
        base = np.clip(self.rng.normal(7.6, 1.1, self.n), 6.0, 11.5)
        insulin = (base > 8.8) | (self.rand(self.n) < 0.1)
        ps, ds, vs = pp[s], date[s], vid[s]
        hba1c = np.round(np.clip(base[ps] + self.rng.normal(0, 0.45, len(ps)), 5.6, 13.5), 1)
        self.dx(ps, dm_code[ps], ds, vs)
        self.lab(ps, "hba1c", ds, vs, hba1c)
        self.lab(
            ps, "glucose", ds, vs, np.round(np.clip(18 * hba1c + self.rng.normal(-12, 20, len(ps)), 70, 450))
        )
        met = self.rand(len(ps)) < 0.95
        self.rx(ps[met], "metformin", ds[met], 90, vs[met])
        ins = insulin[ps]
        self.rx(ps[ins], "insulin glargine", ds[ins], 90, vs[ins], qty=3.0)
        ckd = dm_code[ps] == self.v.icd["E11.22"]
        self.lab(ps[ckd], "creat", ds[ckd], vs[ckd], np.round(self.rng.uniform(1.3, 2.8, int(ckd.sum())), 2))

        s = sel(self.hl)
        hl_code = self.choose(self.icd("E78.5", "E78.00"), [0.8, 0.2], self.n)
        statin = self.choose([self.v.drug["atorvastatin"], self.v.drug["rosuvastatin"]], [0.7, 0.3], self.n)
        ps, ds, vs = pp[s], date[s], vid[s]
        self.dx(ps, hl_code[ps], ds, vs)
        lipid = self.rand(len(ps)) < 0.5
        ldl = np.round(np.clip(self.rng.normal(112, 30, int(lipid.sum())), 40, 240))
        self.lab(ps[lipid], "ldl", ds[lipid], vs[lipid], ldl)
        self.lab(ps[lipid], "tchol", ds[lipid], vs[lipid], np.round(ldl + self.rng.normal(70, 15, len(ldl))))
        self.rx(ps, statin[ps], ds, 90, vs)

        s = sel(self.af)
        ps, ds, vs = pp[s], date[s], vid[s]
        self.dx(ps, self.v.icd["I48.91"], ds, vs)
        warf = (self.rand(self.n) < 0.7)[ps]
        self.rx(ps[warf], "warfarin", ds[warf], 90, vs[warf])
        self.lab(
            ps[warf],
            "inr",
            ds[warf],
            vs[warf],
            np.round(np.clip(self.rng.normal(2.4, 0.5, int(warf.sum())), 1.1, 4.5), 1),
        )

        s = sel(self.hf)
        ps, ds, vs = pp[s], date[s], vid[s]
        self.dx(ps, self.v.icd["I50.9"], ds, vs)
        self.rx(ps, "furosemide", ds, 90, vs)
        self.lab(ps, "ntprobnp", ds, vs, np.round(np.exp(self.rng.normal(7.0, 0.8, len(ps)))))

    # ------------------------------------------------------------------ coronary disease
    def _risk(self) -> np.ndarray:
        r = np.where(self.male, 1.7, 0.6) * np.where(self.htn, 1.5, 1.0) * np.where(self.dm, 1.5, 1.0)
        return r * np.where(self.smoke == 0, 1.4, 1.0) * np.where(self.hl, 1.2, 1.0)

    def _coronary(self) -> None:
        base = np.clip(0.0045 * (self.age - 35), 0, 0.25) * self._risk()
        p_mi = np.minimum(0.45 * base * PREVALENCE["mi"], 0.4)
        p_cad = np.minimum(base * PREVALENCE["cad"], 0.6)
        u = self.rand(self.n)
        self._mi(np.nonzero(u < p_mi)[0])
        self._stable_cad(np.nonzero((u >= p_mi) & (u < p_mi + p_cad))[0])

    _CABG_CODES = ("36.10", "36.11", "36.12", "36.13", "36.14", "36.15", "36.16", "36.19")
    _CABG_W = (0.05, 0.1, 0.25, 0.3, 0.1, 0.12, 0.05, 0.03)

    def _angio(self, p: np.ndarray, date: np.ndarray, vid: np.ndarray, dx: np.ndarray) -> np.ndarray:
        code = self.choose(self.proc_ids("88.56", "88.57"), [0.6, 0.4], len(p))
        return self.proc(p, code, date, vid, dx=dx, site="HEART")

    def _pci(self, p: np.ndarray, date: np.ndarray, vid: np.ndarray, dx: np.ndarray) -> None:
        self.proc(p, "00.66", date, vid, dx=dx)
        stent = self.choose(self.proc_ids("36.07", "36.06"), [0.92, 0.08], len(p))
        self.proc(p, stent, date, vid, dx=dx)
        self.rx(p, "heparin", date, 1, vid)

    def _cabg(self, p: np.ndarray, date: np.ndarray, vid: np.ndarray, dx: np.ndarray) -> None:
        code = self.choose(self.proc_ids(*self._CABG_CODES), self._CABG_W, len(p))
        self.proc(p, code, date, vid, dx=dx)
        self.rx(p, "cefazolin", date, 2, vid)
        self.rx(p, "heparin", date, 3, vid)
        self.rx(p, "morphine", date, 3, vid)
        self.lab(p, "hgb", date + 1, vid, np.round(self.rng.uniform(8.5, 11.5, len(p)), 1))
        self.proc(p, "88.72", date + self.ints(2, 4, len(p)), vid, dx=dx)

    def _cardiac_followup(
        self,
        p: np.ndarray,
        first: np.ndarray,
        dx: np.ndarray,
        status: np.ndarray,
        p2y12: np.ndarray,
        mi: bool,
    ) -> None:
        """Cardiology clinic every 3-6 months: CAD codes, antiplatelets, statin, lipids, some echo."""
        rows, date, rank = self.series(first, 90, 180, 16)
        pp, m = p[rows], len(rows)
        vid = self.visit(pp, date, date, 9202)
        self.dx(pp, self.v.icd["I25.10"], date, vid)
        other = dx[rows] != self.v.icd["I25.10"]
        self.dx(pp[other], dx[rows][other], date[other], vid[other])
        st = status[rows] > 0
        self.dx(pp[st], status[rows][st], date[st], vid[st])
        self.rx(pp, "aspirin", date, 90, vid)
        self.rx(pp, "atorvastatin", date, 90, vid)
        dapt = (rank < 4) & (p2y12[rows] > 0)
        self.rx(pp[dapt], p2y12[rows][dapt], date[dapt], 90, vid[dapt])
        lip = self.rand(m) < 0.5
        self.lab(
            pp[lip],
            "ldl",
            date[lip],
            vid[lip],
            np.round(np.clip(self.rng.normal(72, 18, int(lip.sum())), 30, 160)),
        )
        echo = (rank == 0) & (self.rand(m) < (0.5 if mi else 0.3))
        self.proc(pp[echo], "88.72", date[echo], vid[echo], dx=dx[rows][echo])
        if mi:
            self.rx(pp, "metoprolol", date, 90, vid)
            hf = (self.rand(len(p)) < 0.15)[rows]
            self.dx(pp[hf], self.v.icd["I50.9"], date[hf], vid[hf])
            self.rx(pp[hf], "furosemide", date[hf], 90, vid[hf])
            self.lab(
                pp[hf],
                "ntprobnp",
                date[hf],
                vid[hf],
                np.round(np.exp(self.rng.normal(7.3, 0.8, int(hf.sum())))),
            )
            cmr = (rank == 1) & (self.rand(m) < 0.1)
            self.proc(pp[cmr], "88.92", date[cmr], vid[cmr], dx=dx[rows][cmr])
            cct = (rank == 1) & (self.rand(m) < 0.1)
            self.proc(pp[cct], "87.41", date[cct], vid[cct], dx=dx[rows][cct], site="HEART")

    def _stable_cad(self, p: np.ndarray) -> None:
        k = len(p)
        t0 = self.day_in(p, post=20)
        code = self.choose(self.icd("I25.10", "I25.119", "I20.9"), [0.55, 0.3, 0.15], k)
        v0 = self.visit(p, t0, t0, 9202)
        self.dx(p, code, t0, v0)
        self.proc(p, "89.52", t0, v0, dx=code)
        self.labs(p, ("ldl", "tchol", "creat"), t0, v0)
        self.rx(p, "aspirin", t0, 90, v0)
        self.rx(p, "atorvastatin", t0, 90, v0)
        ntg = self.rand(k) < 0.3
        self.rx(p[ntg], "nitroglycerin", t0[ntg], 30, v0[ntg])

        angio = self.rand(k) < 0.85
        # Elective angiography is usually booked one to two weeks after the clinic visit.
        ta = t0 + np.where(self.rand(k) < 0.8, self.ints(7, 14, k), self.ints(15, 60, k))
        adm = ta - (self.rand(k) < 0.5)
        dis = ta + self.ints(1, 2, k)
        r = self.rand(k)
        pci = angio & (r < 0.6)
        cabg = angio & ~pci & (r < 0.83)
        a = np.nonzero(angio)[0]
        va = np.full(k, -1, dtype=np.int64)
        va[a] = self.visit(p[a], adm[a], dis[a], 9201)
        self.dx(p[a], code[a], adm[a], va[a])
        self.lab(p[a], "creat", adm[a], va[a])
        self._angio(p[a], ta[a], va[a], code[a])
        lhc = a[self.rand(len(a)) < 0.7]
        self.proc(p[lhc], "37.22", ta[lhc], va[lhc], dx=code[lhc])
        i = np.nonzero(pci)[0]
        self._pci(p[i], ta[i], va[i], code[i])
        aux = np.where(pci, self.v.proc["00.66"], self.v.proc["88.57"])
        self.note(p[a], dis[a], va[a], 0, code[a], aux[a])

        # CABG: surgical clinic 7-14 days before the operation, then a 1-2 week stay.
        i = np.nonzero(cabg)[0]
        tc = ta[i] + self.ints(17, 42, len(i))
        pre = tc - self.ints(7, 14, len(i))
        vp = self.visit(p[i], pre, pre, 9202)
        self.dx(p[i], code[i], pre, vp)
        self.proc(p[i], "87.44", pre, vp, dx=code[i])
        self.proc(p[i], "89.52", pre, vp, dx=code[i])
        self.labs(p[i], ("hgb", "creat", "glucose"), pre, vp)
        cdis = tc + self.ints(6, 12, len(i))
        vc = self.visit(p[i], tc - 1, cdis, 9201)
        self.dx(p[i], code[i], tc - 1, vc)
        self._cabg(p[i], tc, vc, code[i])
        self.note(p[i], cdis, vc, 0, code[i], self.v.proc["36.1"])

        last = np.where(angio, dis, t0)
        last[i] = cdis
        status = np.zeros(k, dtype=np.int64)
        status[pci] = self.v.icd["Z95.5"]
        status[cabg] = self.v.icd["Z95.1"]
        p2y12 = np.where(
            pci, self.choose([self.v.drug["clopidogrel"], self.v.drug["ticagrelor"]], [0.75, 0.25], k), 0
        )
        ip = np.nonzero(pci)[0]
        self.rx(p[ip], p2y12[ip], dis[ip], 90, va[ip])
        self._cardiac_followup(p, last + self.ints(14, 42, k), code, status, p2y12, mi=False)
        self.die(p, last + self.ints(60, 2000, k), code, 0.03)

    _STEMI = ("I21.01", "I21.02", "I21.09", "I21.11", "I21.19", "I21.21", "I21.29", "I21.3")
    _STEMI_W = (0.05, 0.3, 0.05, 0.25, 0.05, 0.12, 0.03, 0.15)

    def _mi(self, p: np.ndarray) -> None:
        k = len(p)
        t = self.day_in(p)
        stemi = self.rand(k) < 0.4
        code = np.where(stemi, self.choose(self.icd(*self._STEMI), self._STEMI_W, k), self.v.icd["I21.4"])
        r = self.rand(k)
        p_pci = np.where(stemi, 0.78, 0.55)
        pci = r < p_pci
        cabg = ~pci & (r < p_pci + 0.18)
        medical = ~pci & ~cabg
        tc = t + self.ints(5, 14, k)
        dis = np.where(
            cabg, tc + self.ints(6, 11, k), t + np.where(pci, self.ints(3, 7, k), self.ints(4, 10, k))
        )
        vid = self.visit(p, t, dis, 262)
        self.dx(p, code, t, vid)
        cp = self.rand(k) < 0.3
        self.dx(p[cp], self.v.icd["R07.9"], t[cp], vid[cp])
        tni = np.where(
            stemi, np.exp(self.rng.normal(np.log(5.0), 1.0, k)), np.exp(self.rng.normal(np.log(1.2), 0.9, k))
        )
        tni = np.round(np.clip(tni, 0.06, 150), 2)
        self.lab(p, "tni", t, vid, tni)
        self.lab(p, "tni", t + 1, vid, np.round(np.clip(tni * self.rng.uniform(1.5, 4.0, k), 0.06, 300), 2))
        self.labs(p, ("creat", "hgb", "glucose", "ldl", "wbc", "k"), t, vid)
        self.proc(p, "89.52", t, vid, dx=code)

        angio = pci | cabg | (medical & (self.rand(k) < 0.7))
        ad = np.where(stemi, t, t + self.ints(0, 2, k))
        a = np.nonzero(angio)[0]
        self._angio(p[a], ad[a], vid[a], code[a])
        i = np.nonzero(pci)[0]
        self._pci(p[i], ad[i], vid[i], code[i])
        i = np.nonzero(cabg)[0]
        self._cabg(p[i], tc[i], vid[i], code[i])
        echo = self.rand(k) < 0.85
        self.proc(p[echo], "88.72", t[echo] + self.ints(1, 3, int(echo.sum())), vid[echo], dx=code[echo])

        self.rx(p, "heparin", t, 3, vid)
        self.rx(p, "aspirin", t, 90, vid)
        self.rx(p, "atorvastatin", t, 90, vid)
        self.rx(p, "metoprolol", t + 1, 90, vid)
        self.rx(p, "nitroglycerin", t, 1, vid)
        mor = self.rand(k) < 0.2
        self.rx(p[mor], "morphine", t[mor], 1, vid[mor])
        p2y12 = np.where(
            pci | (medical & (self.rand(k) < 0.6)),
            self.choose([self.v.drug["clopidogrel"], self.v.drug["ticagrelor"]], [0.5, 0.5], k),
            0,
        )
        g = np.nonzero(p2y12)[0]
        self.rx(p[g], p2y12[g], t[g], 90, vid[g])
        aux = np.where(pci, self.v.proc["00.66"], np.where(cabg, self.v.proc["36.1"], 0))
        self.note(p, dis, vid, 0, code, aux)

        # Staged PCI of non-culprit vessels, one to six weeks after the primary PCI.
        st = np.nonzero(pci & (self.rand(k) < 0.3))[0]
        ts = dis[st] + self.ints(3, 35, len(st))
        vs = self.visit(p[st], ts, ts + self.ints(1, 2, len(st)), 9201)
        recent = ts - t[st] <= 28
        self.dx(p[st], np.where(recent, code[st], self.v.icd["I25.2"]), ts, vs)
        self.dx(p[st], self.v.icd["I25.10"], ts, vs)
        self._angio(p[st], ts, vs, code[st])
        self._pci(p[st], ts, vs, code[st])

        # In-hospital and later deaths.
        self.die(
            p, t + np.floor(self.rand(k) * (dis - t + 1)).astype(np.int64), code, np.where(stemi, 0.09, 0.05)
        )
        self.die(p, dis + self.ints(30, 365, k), code, 0.06)

        # First clinic visit 1-3 weeks after discharge (still coded as acute MI within 4 weeks).
        f = dis + self.ints(7, 21, k)
        vf = self.visit(p, f, f, 9202)
        self.dx(p, np.where(f - t <= 28, code, self.v.icd["I25.2"]), f, vf)
        self.labs(p, ("ldl", "creat"), f, vf)
        status = np.where(pci, self.v.icd["Z95.5"], np.where(cabg, self.v.icd["Z95.1"], self.v.icd["I25.2"]))
        old_mi = np.full(k, self.v.icd["I25.2"])
        self._cardiac_followup(p, f + self.ints(60, 120, k), old_mi, status, p2y12, mi=True)

    # ------------------------------------------------------------------ stroke
    def _stroke(self) -> None:
        base = np.clip(0.003 * (self.age - 40), 0, 0.15) * np.where(self.male, 1.3, 0.8)
        base = base * np.where(self.htn, 1.5, 1.0) * np.where(self.af, 2.0, 1.0) * PREVALENCE["stroke"]
        p = np.nonzero(self.rand(self.n) < base)[0]
        k = len(p)
        t = self.day_in(p)
        code = self.choose(
            self.icd("I63.9", "I63.511", "I63.512", "I63.411", "I63.412"), [0.35, 0.17, 0.17, 0.15, 0.16], k
        )
        dis = t + self.ints(5, 14, k)
        vid = self.visit(p, t, dis, 262)
        self.dx(p, code, t, vid)
        self.proc(p, "87.03", t, vid, dx=code)
        mri = self.rand(k) < 0.7
        self.proc(p[mri], "88.91", t[mri] + self.ints(0, 1, int(mri.sum())), vid[mri], dx=code[mri])
        self.labs(p, ("glucose", "hgb", "plt", "inr", "creat", "ldl"), t, vid)
        tpa = self.rand(k) < 0.15
        self.proc(p[tpa], "99.10", t[tpa], vid[tpa], dx=code[tpa])
        self.rx(p[tpa], "alteplase", t[tpa], 1, vid[tpa])
        evt = self.rand(k) < 0.12
        self.proc(p[evt], "39.74", t[evt], vid[evt], dx=code[evt])
        self.rx(p[evt], "heparin", t[evt], 1, vid[evt])
        self.rx(p, "aspirin", t + 1, 90, vid)
        clo = self.rand(k) < 0.5
        self.rx(p[clo], "clopidogrel", t[clo] + 1, 21, vid[clo])
        self.rx(p, "atorvastatin", t + 1, 90, vid)
        af = self.af[p]
        self.rx(p[af], "warfarin", t[af] + 2, 90, vid[af])
        echo = self.rand(k) < 0.4
        self.proc(p[echo], "88.72", t[echo] + self.ints(1, 4, int(echo.sum())), vid[echo], dx=code[echo])
        aux = np.where(evt, self.v.proc["39.74"], np.where(tpa, self.v.proc["99.10"], self.v.proc["87.03"]))
        self.note(p, dis, vid, 0, code, aux)
        self.die(p, t + np.floor(self.rand(k) * (dis - t + 1)).astype(np.int64), code, 0.08)
        self.die(p, dis + self.ints(30, 700, k), code, 0.05)

        rows, date, _ = self.series(dis + self.ints(14, 42, k), 90, 180, 10)
        pp = p[rows]
        vf = self.visit(pp, date, date, 9202)
        self.dx(pp, code[rows], date, vf)
        self.rx(pp, "aspirin", date, 90, vf)
        self.rx(pp, "atorvastatin", date, 90, vf)
        lip = self.rand(len(pp)) < 0.4
        self.lab(pp[lip], "ldl", date[lip], vf[lip])

    # ------------------------------------------------------------------ cancers
    _CANCERS: dict[str, CancerSpec] = {
        "colon": CancerSpec(
            ("C18.0", "C18.2", "C18.7", "C18.9"),
            (0.15, 0.25, 0.35, 0.25),
            ("PATH-ADENO", "PATH-SRC"),
            (0.95, 0.05),
            ("45.73", "45.75", "45.76"),
            (0.45, 0.2, 0.35),
            0.85,
            (6, 10),
            ("oxaliplatin", "fluorouracil"),
            14,
            12,
            0.55,
            ("88.01", "87.41"),
            ("cea",),
            0.15,
        ),
        "stomach": CancerSpec(
            ("C16.0", "C16.2", "C16.3", "C16.9"),
            (0.1, 0.35, 0.35, 0.2),
            ("PATH-ADENO", "PATH-SRC"),
            (0.85, 0.15),
            ("43.7", "43.6", "43.99", "43.5"),
            (0.45, 0.3, 0.2, 0.05),
            0.85,
            (7, 12),
            ("oxaliplatin", "capecitabine"),
            21,
            8,
            0.5,
            ("88.01", "87.41"),
            ("cea", "ca199"),
            0.15,
        ),
        "lung": CancerSpec(
            ("C34.11", "C34.12", "C34.31", "C34.32", "C34.90"),
            (0.3, 0.2, 0.2, 0.15, 0.15),
            ("PATH-ADENO", "PATH-SQ", "PATH-SCLC"),
            (0.6, 0.3, 0.1),
            ("32.41", "32.49"),
            (0.7, 0.3),
            0.55,
            (4, 8),
            ("cisplatin", "paclitaxel"),
            21,
            4,
            0.6,
            ("87.41", "88.91"),
            ("cea",),
            0.4,
        ),
        "breast": CancerSpec(
            ("C50.911", "C50.912", "C50.411", "C50.412"),
            (0.3, 0.3, 0.2, 0.2),
            ("PATH-IDC",),
            (1.0,),
            ("85.21", "85.41", "85.43"),
            (0.6, 0.3, 0.1),
            0.95,
            (2, 5),
            ("docetaxel", "cyclophosphamide"),
            21,
            4,
            0.5,
            ("87.41",),
            (),
            0.06,
        ),
    }

    def _cancer_persons(self, kind: str) -> np.ndarray:
        age, male = self.age, self.male
        if kind == "colon":
            p = np.clip(0.0009 * (age - 40), 0, 0.04) * np.where(male, 1.3, 0.8)
        elif kind == "stomach":
            p = np.clip(0.0011 * (age - 35), 0, 0.05) * np.where(male, 1.5, 0.7)
        elif kind == "lung":
            p = np.clip(0.0009 * (age - 45), 0, 0.04) * np.where(
                self.smoke == 0, 3.0, np.where(self.smoke == 1, 1.8, 0.6)
            )
        else:
            p = np.where(~male & (age >= 30) & (age <= 80), 0.045 * np.exp(-(((age - 52) / 14.0) ** 2)), 0.0)
        return np.nonzero(self.rand(self.n) < p * PREVALENCE[kind])[0]

    def _cancer(self, kind: str) -> None:
        spec = self._CANCERS[kind]
        p = self._cancer_persons(kind)
        k = len(p)
        if k == 0:
            return
        t0 = self.day_in(p, pre=30)
        code = self.choose(self.icd(*spec.codes), spec.weights, k)
        hist = self.choose([self.v.demo[h] for h in spec.histology], spec.histology_w, k)

        # Diagnostic work-up: endoscopy or imaging plus biopsy 1-4 weeks before the diagnosis visit.
        td = t0 - self.ints(7, 21, k)
        vd = self.visit(p, td, td, 9202)
        if kind == "colon":
            self.proc(p, "45.23", td, vd, dx=code)
        elif kind == "stomach":
            self.proc(p, "45.16", td, vd, dx=code)
        elif kind == "lung":
            self.proc(p, "87.41", td, vd, dx=code)
            self.proc(p, "33.26", td, vd, dx=code)
        else:
            self.proc(p, "88.73", td, vd, dx=code)
            self.proc(p, "85.11", td, vd, dx=code)
        v0 = self.visit(p, t0, t0, 9202)
        self.dx(p, code, t0, v0)
        self.note(p, t0, v0, 2, code, hist)
        self.obs.add(person=p, concept=self.v.demo["PATH-HIST"], date=t0, visit=v0, vconcept=hist)
        for mk in spec.markers:
            self._marker(p, mk, t0, v0, high=0.5)
        tsg = t0 + self.ints(1, 10, k)
        vsg = self.visit(p, tsg, tsg, 9202)
        self.dx(p, code, tsg, vsg)
        for sp in spec.staging:
            s = self.rand(k) < (0.6 if sp == "88.91" else 1.0)
            self.proc(p[s], sp, tsg[s], vsg[s], dx=code[s])
        self.labs(p, ("wbc", "hgb", "plt", "creat", "alt", "ast"), tsg, vsg)

        surg = self.rand(k) < spec.p_surgery
        i = np.nonzero(surg)[0]
        ts = t0[i] + self.ints(14, 42, len(i))
        sdis = ts + self.ints(spec.los[0], spec.los[1], len(i))
        vs = self.visit(p[i], ts - 1, sdis, 9201)
        self.dx(p[i], code[i], ts - 1, vs)
        op = self.choose(self.proc_ids(*spec.surgery), spec.surgery_w, len(i))
        self.proc(p[i], op, ts, vs, dx=code[i])
        self.rx(p[i], "cefazolin", ts, 1, vs)
        self.rx(p[i], "morphine", ts, 2, vs)
        self.lab(
            p[i],
            "hgb",
            ts + 1,
            vs,
            np.round(np.clip(self.hgb_normal(p[i]) - self.rng.uniform(0.5, 2.5, len(i)), 7, 17), 1),
        )
        tp = ts + self.ints(2, spec.los[0], len(i))
        self.note(p[i], tp, vs, 2, code[i], hist[i])
        size = np.round(np.clip(self.rng.lognormal(np.log(3.0), 0.5, len(i)), 0.3, 15.0), 1)
        self.obs.add(
            person=p[i],
            concept=self.v.demo["PATH-SIZE"],
            date=tp,
            visit=vs,
            vnum=size,
            unit=self.v.unit["cm"],
            vstr=self.ints(0, len(PATH_STAGES) - 1, len(i)),
        )
        self.note(p[i], sdis, vs, 0, code[i], op)

        end_primary = np.where(surg, 0, t0 + 14)
        end_primary[i] = sdis
        chemo = self.rand(k) < spec.p_chemo
        c0 = np.where(surg, end_primary + self.ints(21, 42, k), t0 + self.ints(10, 21, k))
        cp = np.nonzero(chemo)[0]
        cyc = np.repeat(cp, spec.cycles)
        nr = np.tile(np.arange(spec.cycles), len(cp))
        cd = c0[cyc] + nr * spec.cycle_days + self.ints(0, 2, len(cyc))
        pc_ = p[cyc]
        vc = self.visit(pc_, cd, cd, 9202)
        self.dx(pc_, self.v.icd["Z51.11"], cd, vc)
        self.dx(pc_, code[cyc], cd, vc)
        self.proc(pc_, "99.25", cd, vc, dx=code[cyc])
        for drug in spec.regimen:
            d = C.DRUG_BY_NAME[drug]
            if d.route == "PO":
                self.rx(pc_, drug, cd, 14, vc, qty=28.0)
            else:
                self.rx(pc_, drug, cd, 1, vc)
        if kind == "lung":  # carboplatin instead of cisplatin for half of the patients
            carbo = (self.rand(k) < 0.5)[cyc]
            self.rx(pc_[carbo], "carboplatin", cd[carbo], 1, vc[carbo])
        if kind == "breast":
            her2 = (self.rand(k) < 0.25)[cyc]
            self.rx(pc_[her2], "trastuzumab", cd[her2], 1, vc[her2])
        self.lab(pc_, "wbc", cd, vc, np.round(np.clip(self.rng.normal(5.0, 1.8, len(cyc)), 0.8, 14), 1))
        self.lab(
            pc_,
            "hgb",
            cd,
            vc,
            np.round(np.clip(self.hgb_normal(pc_) - self.rng.uniform(0.5, 2.5, len(cyc)), 7, 17), 1),
        )
        self.lab(pc_, "plt", cd, vc, np.round(np.clip(self.rng.normal(190, 60, len(cyc)), 40, 500)))
        for mk in spec.markers:
            third = nr % 3 == 0
            self._marker(pc_[third], mk, cd[third], vc[third], high=0.2)

        # Surveillance every 3-6 months: imaging every other visit, markers, hormone therapy.
        after = np.where(chemo, c0 + spec.cycles * spec.cycle_days, end_primary) + self.ints(60, 120, k)
        rows, date, rank = self.series(after, 90, 180, 12)
        pp = p[rows]
        vf = self.visit(pp, date, date, 9202)
        self.dx(pp, code[rows], date, vf)
        img = rank % 2 == 0
        for sp in spec.staging[:1] if kind != "lung" else ("87.41",):
            self.proc(pp[img], sp, date[img], vf[img], dx=code[rows][img])
        for mk in spec.markers:
            self._marker(pp, mk, date, vf, high=0.1)
        meta = (self.rand(k) < 0.15)[rows] & (rank >= 2)
        self.dx(pp[meta], self.v.icd["C78.7"], date[meta], vf[meta])
        if kind == "breast":
            young = self.age[pp] < 50
            horm = (self.rand(k) < 0.7)[rows]
            self.rx(pp[horm & young], "tamoxifen", date[horm & young], 90, vf[horm & young])
            self.rx(pp[horm & ~young], "letrozole", date[horm & ~young], 90, vf[horm & ~young])
        self.die(p, t0 + self.ints(120, 1400, k), code, spec.p_death)

    def _marker(self, p: np.ndarray, key: str, date: np.ndarray, vid: np.ndarray, high: float) -> None:
        lab = C.LAB_BY_KEY[key]
        k = len(p)
        raised = self.rand(k) < high
        val = np.where(
            raised, lab.high * self.rng.uniform(1.2, 12.0, k), lab.high * self.rng.uniform(0.1, 0.9, k)
        )
        self.lab(p, key, date, vid, np.round(val, 1))

    # ------------------------------------------------------------------ GI bleeding
    def _gi_bleeding(self) -> None:
        base = np.clip(0.0015 * (self.age - 40), 0, 0.06) * np.where(self.male, 1.3, 0.8) * PREVALENCE["gib"]
        p = np.nonzero(self.rand(self.n) < base)[0]
        k = len(p)
        t = self.day_in(p)
        code = self.choose(self.icd("K92.2", "K92.1", "K92.0", "K25.4"), [0.4, 0.3, 0.15, 0.15], k)
        admit = self.rand(k) < 0.75
        dis = np.where(admit, t + self.ints(3, 7, k), t)
        vid = self.visit(p, t, dis, np.where(admit, 262, 9203))
        self.dx(p, code, t, vid)
        anemia = self.rand(k) < 0.5
        self.dx(p[anemia], self.v.icd["D62"], t[anemia], vid[anemia])
        hgb = np.round(np.clip(self.rng.normal(8.2, 1.4, k), 4.5, 11.5), 1)
        self.lab(p, "hgb", t, vid, hgb)
        a = np.nonzero(admit)[0]
        h1 = np.round(np.clip(hgb[a] + self.rng.uniform(0.3, 1.2, len(a)), 5, 13), 1)
        self.lab(p[a], "hgb", t[a] + 1, vid[a], h1)
        self.lab(
            p[a],
            "hgb",
            t[a] + 2,
            vid[a],
            np.round(np.clip(h1 + self.rng.uniform(0.0, 1.0, len(a)), 5, 14), 1),
        )
        self.labs(p, ("bun", "creat", "plt", "inr"), t, vid)
        ed = np.where(admit, t + self.ints(0, 1, k), t)
        endo = self.choose(self.proc_ids("45.13", "44.43"), [0.65, 0.35], k)
        scoped = self.rand(k) < 0.9
        self.proc(p[scoped], endo[scoped], ed[scoped], vid[scoped], dx=code[scoped])
        lower = admit & np.isin(code, self.icd("K92.1", "K92.2")) & (self.rand(k) < 0.2)
        self.proc(p[lower], "45.23", t[lower] + self.ints(1, 3, int(lower.sum())), vid[lower], dx=code[lower])
        tf = self.rand(k) < 0.4
        self.proc(p[tf], "99.04", t[tf], vid[tf], dx=code[tf])
        self.rx(p, "pantoprazole", t, np.maximum(dis - t, 1), vid)
        self.rx(p, "omeprazole", dis, 56, vid)
        self.note(p[a], dis[a], vid[a], 0, code[a], endo[a])
        self.die(p, dis, code, np.where(admit, 0.03, 0.0))

    # ------------------------------------------------------------------ elective/acute surgery
    def _elective_surgery(self) -> None:
        age, n = self.age, self.n
        # Acute appendicitis: ER, CT, laparoscopic appendectomy within a day.
        p = np.nonzero(
            self.rand(n) < np.where((age >= 5) & (age <= 70), 0.012, 0.003) * PREVALENCE["appendix"]
        )[0]
        k = len(p)
        t = self.day_in(p)
        dis = t + self.ints(2, 4, k)
        vid = self.visit(p, t, dis, 262)
        code: int | np.ndarray = self.v.icd["K35.80"]
        self.dx(p, code, t, vid)
        self.proc(p, "88.01", t, vid, dx=code)
        self.lab(p, "wbc", t, vid, np.round(np.clip(self.rng.normal(13.5, 3.0, k), 8.0, 25.0), 1))
        self.lab(p, "crp", t, vid, np.round(np.clip(self.rng.lognormal(np.log(35), 0.8, k), 6.0, 300.0), 1))
        op = self.choose(self.proc_ids("47.01", "47.09"), [0.85, 0.15], k)
        self.proc(p, op, t + self.ints(0, 1, k), vid, dx=code)
        self.rx(p, "ceftriaxone", t, 3, vid)
        self.note(p, dis, vid, 0, code, op)

        # Gallstones: clinic, ultrasound, laparoscopic cholecystectomy weeks later.
        p = np.nonzero(self.rand(n) < np.where(age >= 30, 0.02, 0.0) * PREVALENCE["gallstone"])[0]
        k = len(p)
        t = self.day_in(p, post=30)
        code = self.v.icd["K80.20"]
        v0 = self.visit(p, t, t, 9202)
        self.dx(p, code, t, v0)
        self.proc(p, "88.76", t, v0, dx=code)
        ts = t + self.ints(14, 60, k)
        dis = ts + self.ints(1, 3, k)
        vs = self.visit(p, ts, dis, 9201)
        self.dx(p, code, ts, vs)
        self.proc(p, "51.23", ts, vs, dx=code)
        self.rx(p, "cefazolin", ts, 1, vs)
        self.note(p, dis, vs, 0, code, self.v.proc["51.23"])

        # Osteoarthritis of knee or hip: x-ray, joint replacement 1-4 months later.
        p = np.nonzero(self.rand(n) < np.where(age >= 55, 0.025, 0.0) * PREVALENCE["arthroplasty"])[0]
        k = len(p)
        knee = self.rand(k) < 0.7
        code = np.where(knee, self.v.icd["M17.11"], self.v.icd["M16.11"])
        site = np.where(knee, SITE["KNEE"], SITE["HIP"]).astype(np.uint8)
        t = self.day_in(p, post=60)
        v0 = self.visit(p, t, t, 9202)
        self.dx(p, code, t, v0)
        self.proc(p, self.v.proc["88.33"], t, v0, dx=code, site=site)
        ts = t + self.ints(30, 120, k)
        dis = ts + self.ints(5, 10, k)
        vs = self.visit(p, ts - 1, dis, 9201)
        self.dx(p, code, ts - 1, vs)
        op = np.where(knee, self.v.proc["81.54"], self.v.proc["81.51"])
        self.proc(p, op, ts, vs, dx=code)
        self.proc(p, self.v.proc["88.33"], ts + 1, vs, dx=code, site=site)
        self.rx(p, "cefazolin", ts, 1, vs)
        self.rx(p, "acetaminophen", ts, 14, vs)
        self.note(p, dis, vs, 0, code, op)

    def _old_age(self) -> None:
        """Deaths of the very old from common causes, some time after their first visit."""
        p = np.nonzero((self.age >= 75) & (self.rand(self.n) < 0.02 + 0.004 * (self.age - 75)))[0]
        cause = self.choose(self.icd("J18.9", "I50.9", "J44.9"), [0.5, 0.35, 0.15], len(p))
        self.die(p, self.first_visit[p] + self.ints(30, 1500, len(p)), cause, 1.0)


#: pT/pN stages written into the pathology tumour-size observation (value_as_string).
PATH_STAGES = ("pT1 pN0", "pT2 pN0", "pT2 pN1", "pT3 pN0", "pT3 pN1", "pT4 pN2")
