"""Turns one simulated chunk into Arrow tables shaped exactly like the catalog's DDL.

Why a separate step: the pathways in :mod:`schema_catalog.demo.simulate` schedule events without
looking at the data window or at deaths.  Here every visit starting outside
``[2019-01-01, min(2025-06-30, death)]`` is dropped together with the events recorded in it (and
any event outside its visit), visit and drug end dates are clipped, global gap-free ids are
assigned, observation periods are derived from what remains, and every column is converted to the
Arrow type of its DDL type.  Radiology notes and ``image_occurrence`` series are derived from the
surviving imaging procedures, so they can never point at a dropped row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cohort_engine.schema_catalog.demo import concepts as C
from cohort_engine.schema_catalog.demo.simulate import (
    END,
    IMAGING,
    NEVER,
    PATH_STAGES,
    SITE,
    SITES,
    START,
    Sim,
)
from cohort_engine.schema_catalog.demo.vocabulary import Vocab
from cohort_engine.schema_catalog.tables import TABLES_BY_NAME


@dataclass
class ChunkResult:
    """Arrow tables of one chunk, keyed by OMOP table name, plus the note staging table."""

    tables: dict[str, pa.Table]
    note_stage: pa.Table


def _ts(days: np.ndarray, secs: np.ndarray) -> np.ndarray:
    return (days.astype(np.int64) * 86_400 + secs.astype(np.int64)) * 1_000_000


def _date(a: np.ndarray) -> pa.Array:
    return pa.array(a.astype("datetime64[D]"))


def _tsa(a: np.ndarray) -> pa.Array:
    return pa.array(a.astype("datetime64[us]"))


def _opt(a: np.ndarray, null: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(a, typ, mask=null)


def _dict(idx: np.ndarray, values: Sequence[str] | pa.Array) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values, pa.string()))


class ConceptCodes:
    """concept id -> concept_code, vectorised (source value columns)."""

    def __init__(self, vocab: Vocab) -> None:
        ids = vocab.concept.column("concept_id").to_numpy()
        order = np.argsort(ids)
        self.ids = ids[order]
        self.codes = vocab.concept.column("concept_code").take(pa.array(order))

    def __call__(self, concept_ids: np.ndarray) -> pa.Array:
        return _dict(np.searchsorted(self.ids, concept_ids), self.codes)


def finalize(
    sim: Sim, vocab: Vocab, codes: ConceptCodes, offsets: dict[str, int], pid0: int, seed: int
) -> ChunkResult:
    """Drop what falls outside the window or after death, assign global ids, build Arrow tables.

    ``offsets`` holds the last id used per table and is advanced in place; ``pid0`` is the number
    of persons in earlier chunks."""
    rng = sim.rng
    n = sim.n
    pid = pid0 + 1 + np.arange(n, dtype=np.int64)

    # Death: the earliest candidate per person, if inside the data window.
    dth = sim.deaths.arrays()
    death = np.full(n, NEVER, dtype=np.int64)
    cause = np.zeros(n, dtype=np.int64)
    if len(dth["person"]):
        order = np.lexsort((dth["date"], dth["person"]))
        first = order[np.r_[True, dth["person"][order][1:] != dth["person"][order][:-1]]]
        ok = dth["date"][first] <= END
        death[dth["person"][first][ok]] = dth["date"][first][ok]
        cause[dth["person"][first][ok]] = dth["cause"][first][ok]
    limit = np.minimum(END, death)

    # Visits.
    vis = sim.visits.arrays()
    vp = vis["person"]
    vkeep = (vis["start"] >= START) & (vis["start"] <= limit[vp])
    vend_all = np.minimum(vis["end"], limit[vp])
    vmap = np.full(len(vp), -1, dtype=np.int64)
    vmap[vkeep] = offsets["visit_occurrence"] + 1 + np.arange(int(vkeep.sum()))
    offsets["visit_occurrence"] += int(vkeep.sum())

    def keep_events(person: np.ndarray, date: np.ndarray, visit: np.ndarray) -> np.ndarray:
        k = (date >= START) & (date <= limit[person])
        has = visit >= 0
        k &= ~has | vkeep[np.where(has, visit, 0)]
        k &= ~has | (
            (date >= vis["start"][np.where(has, visit, 0)]) & (date <= vend_all[np.where(has, visit, 0)])
        )
        return k

    tables: dict[str, pa.Table] = {}
    obs_start = np.full(n, NEVER, dtype=np.int64)
    obs_end = np.full(n, -1, dtype=np.int64)

    # ---- visit_occurrence
    vi = np.nonzero(vkeep)[0]
    vpp, vc, vs, ve = vp[vi], vis["concept"][vi], vis["start"][vi], vend_all[vi]
    np.minimum.at(obs_start, vpp, vs)
    np.maximum.at(obs_end, vpp, ve)
    m = len(vi)
    op = vc == 9202
    er = vc == 9203
    s_sec = np.where(
        op,
        rng.integers(8 * 3600 + 1800, 17 * 3600, m),
        np.where((vc == 9201), rng.integers(9 * 3600, 18 * 3600, m), rng.integers(0, 86_400, m)),
    )
    e_sec = np.where(
        op | er,
        np.minimum(s_sec + rng.integers(600, 6 * 3600, m), 86_399),
        rng.integers(10 * 3600, 15 * 3600, m),
    )
    e_sec = np.where((ve == vs) & (e_sec < s_sec), np.minimum(s_sec + 3600, 86_399), e_sec)
    # Preceding visit of the same person (by start date, then id).
    order = np.lexsort((vi, vs, vpp))
    prev = np.full(m, -1, dtype=np.int64)
    same = np.r_[False, vpp[order][1:] == vpp[order][:-1]]
    prev[order[same]] = vmap[vi][order[np.nonzero(same)[0] - 1]]
    src = {9201: 0, 9202: 1, 9203: 2, 262: 3}
    src_idx = np.select([vc == c for c in src], list(src.values()), 1)
    tables["visit_occurrence"] = {
        "visit_occurrence_id": pa.array(vmap[vi]),
        "person_id": pa.array(pid[vpp]),
        "visit_concept_id": pa.array(vc, pa.int32()),
        "visit_start_date": _date(vs),
        "visit_start_datetime": _tsa(_ts(vs, s_sec)),
        "visit_end_date": _date(ve),
        "visit_end_datetime": _tsa(_ts(ve, e_sec)),
        "visit_type_concept_id": pa.array(np.full(m, C.EHR_TYPE, np.int32)),
        "visit_source_value": _dict(src_idx, ["IP", "OP", "ER", "ERIP"]),
        "visit_source_concept_id": pa.array(vc, pa.int32()),
        "preceding_visit_occurrence_id": _opt(prev, prev < 0, pa.int64()),
    }

    def event_ids(table: str, k: int) -> np.ndarray:
        ids = offsets[table] + 1 + np.arange(k, dtype=np.int64)
        offsets[table] += k
        return ids

    def secs(k: int) -> np.ndarray:
        return rng.integers(8 * 3600, 20 * 3600, k)

    # ---- condition_occurrence
    a = sim.conds.arrays()
    ki = np.nonzero(keep_events(a["person"], a["date"], a["visit"]))[0]
    p_, d_, c_ = a["person"][ki], a["date"][ki], a["concept"][ki]
    k = len(ki)
    tables["condition_occurrence"] = {
        "condition_occurrence_id": pa.array(event_ids("condition_occurrence", k)),
        "person_id": pa.array(pid[p_]),
        "condition_concept_id": pa.array(c_, pa.int32()),
        "condition_start_date": _date(d_),
        "condition_start_datetime": _tsa(_ts(d_, secs(k))),
        "condition_type_concept_id": pa.array(np.full(k, C.EHR_TYPE, np.int32)),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki]]),
        "condition_source_value": codes(c_),
        "condition_source_concept_id": pa.array(c_, pa.int32()),
    }

    # ---- procedure_occurrence (+ image_occurrence, radiology notes)
    a = sim.procs.arrays()
    pk = keep_events(a["person"], a["date"], a["visit"])
    ki = np.nonzero(pk)[0]
    p_, d_, c_ = a["person"][ki], a["date"][ki], a["concept"][ki]
    k = len(ki)
    proc_id = event_ids("procedure_occurrence", k)
    proc_sec = secs(k)
    tables["procedure_occurrence"] = {
        "procedure_occurrence_id": pa.array(proc_id),
        "person_id": pa.array(pid[p_]),
        "procedure_concept_id": pa.array(c_, pa.int32()),
        "procedure_date": _date(d_),
        "procedure_datetime": _tsa(_ts(d_, proc_sec)),
        "procedure_type_concept_id": pa.array(np.full(k, C.EHR_TYPE, np.int32)),
        "quantity": pa.array(np.ones(k, np.int32)),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki]]),
        "procedure_source_value": codes(c_),
        "procedure_source_concept_id": pa.array(c_, pa.int32()),
    }
    img_concepts = np.array([vocab.proc[c] for c in IMAGING])
    img_mod = np.array([IMAGING[c][0] for c in IMAGING])
    img_site = np.array([SITE[IMAGING[c][1]] for c in IMAGING])
    is_img = np.isin(c_, img_concepts)
    ii = np.nonzero(is_img)[0]
    sorter = np.argsort(img_concepts)
    which = sorter[np.searchsorted(img_concepts, c_[ii], sorter=sorter)]
    modality = img_mod[which]
    site = np.where(a["site"][ki][ii] > 0, a["site"][ki][ii], img_site[which])
    lo_hi = {"CT": (1, 3), "MR": (3, 5), "XA": (2, 4), "US": (1, 1), "DX": (1, 2), "CR": (1, 1)}
    lo_ = np.array([lo_hi[x][0] for x in modality], dtype=np.int64)
    hi_ = np.array([lo_hi[x][1] for x in modality], dtype=np.int64)
    nser = rng.integers(lo_, hi_ + 1) if len(ii) else np.empty(0, np.int64)
    rep = np.repeat(np.arange(len(ii)), nser)
    ser_no = np.arange(len(rep)) - np.repeat(np.cumsum(nser) - nser, nser) + 1
    k_img = len(rep)
    study_num = pa.array(proc_id[ii][rep]).cast(pa.string())
    root = f"{DICOM_ROOT}{seed}."
    study_uid = pc.binary_join_element_wise(root + "1", study_num, ".")
    series_uid = pc.binary_join_element_wise(root + "2", study_num, pa.array(ser_no).cast(pa.string()), ".")
    tables["image_occurrence"] = {
        "image_occurrence_id": pa.array(event_ids("image_occurrence", k_img)),
        "person_id": pa.array(pid[p_[ii][rep]]),
        "procedure_occurrence_id": pa.array(proc_id[ii][rep]),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki][ii][rep]]),
        "wadors_uri": pc.binary_join_element_wise(
            "https://pacs.demo.invalid/dicom-web/studies/", study_uid, "/series/", series_uid, ""
        ),
        "local_path": pc.binary_join_element_wise("dicom/", study_uid, "/", series_uid, ""),
        "image_occurrence_date": _date(d_[ii][rep]),
        "image_study_uid": study_uid,
        "image_series_uid": series_uid,
        "modality_source_value": pa.array(modality[rep], pa.string()),
        "anatomic_site_source_value": _dict(site[rep].astype(np.int64), list(SITES)),
    }

    # ---- drug_exposure
    a = sim.drugs.arrays()
    ki = np.nonzero(keep_events(a["person"], a["start"], a["visit"]))[0]
    p_, d_, c_ = a["person"][ki], a["start"][ki], a["concept"][ki]
    days = a["days"][ki].astype(np.int64)
    de = np.minimum(d_ + days - 1, limit[p_])
    np.maximum.at(obs_end, p_, de)
    k = len(ki)
    route_of = {vocab.drug[d.name]: d.route for d in C.DRUGS}
    routes = sorted(set(route_of.values()))
    dr_ids = np.array(sorted(route_of))
    dr_route = np.array([routes.index(route_of[i]) for i in dr_ids])
    tables["drug_exposure"] = {
        "drug_exposure_id": pa.array(event_ids("drug_exposure", k)),
        "person_id": pa.array(pid[p_]),
        "drug_concept_id": pa.array(c_, pa.int32()),
        "drug_exposure_start_date": _date(d_),
        "drug_exposure_start_datetime": _tsa(_ts(d_, secs(k))),
        "drug_exposure_end_date": _date(de),
        "drug_type_concept_id": pa.array(np.full(k, C.EHR_TYPE, np.int32)),
        "quantity": pa.array(a["qty"][ki]),
        "days_supply": pa.array(days.astype(np.int32)),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki]]),
        "drug_source_value": codes(c_),
        "drug_source_concept_id": pa.array(c_, pa.int32()),
        "route_source_value": _dict(dr_route[np.searchsorted(dr_ids, c_)], routes),
    }

    # ---- measurement
    a = sim.meas.arrays()
    ki = np.nonzero(keep_events(a["person"], a["date"], a["visit"]))[0]
    p_, d_, li = a["person"][ki], a["date"][ki], a["lab"][ki].astype(np.int64)
    k = len(ki)
    lab_ids = np.array([vocab.lab[lab.key] for lab in C.LABS], dtype=np.int64)
    unit_ids = np.array([vocab.unit[lab.unit] for lab in C.LABS], dtype=np.int64)
    lows = np.array([lab.low for lab in C.LABS])
    highs = np.array([lab.high for lab in C.LABS])
    tables["measurement"] = {
        "measurement_id": pa.array(event_ids("measurement", k)),
        "person_id": pa.array(pid[p_]),
        "measurement_concept_id": pa.array(lab_ids[li], pa.int32()),
        "measurement_date": _date(d_),
        "measurement_datetime": _tsa(_ts(d_, secs(k))),
        "measurement_type_concept_id": pa.array(np.full(k, C.EHR_TYPE, np.int32)),
        "value_as_number": pa.array(a["value"][ki]),
        "unit_concept_id": pa.array(unit_ids[li], pa.int32()),
        "range_low": pa.array(lows[li]),
        "range_high": pa.array(highs[li]),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki]]),
        "measurement_source_value": _dict(li, [lab.loinc for lab in C.LABS]),
        "measurement_source_concept_id": pa.array(lab_ids[li], pa.int32()),
        "unit_source_value": _dict(li, [lab.unit for lab in C.LABS]),
        "unit_source_concept_id": pa.array(unit_ids[li], pa.int32()),
    }

    # ---- observation
    a = sim.obs.arrays()
    ki = np.nonzero(keep_events(a["person"], a["date"], a["visit"]))[0]
    p_, d_, c_ = a["person"][ki], a["date"][ki], a["concept"][ki]
    k = len(ki)
    vcon, unit, vnum, vstr = a["vconcept"][ki], a["unit"][ki], a["vnum"][ki], a["vstr"][ki].astype(np.int64)
    tables["observation"] = {
        "observation_id": pa.array(event_ids("observation", k)),
        "person_id": pa.array(pid[p_]),
        "observation_concept_id": pa.array(c_, pa.int32()),
        "observation_date": _date(d_),
        "observation_datetime": _tsa(_ts(d_, secs(k))),
        "observation_type_concept_id": pa.array(np.full(k, C.EHR_TYPE, np.int32)),
        "value_as_number": pa.array(vnum, pa.float64(), mask=np.isnan(vnum)),
        "value_as_string": pa.DictionaryArray.from_arrays(
            pa.array(np.maximum(vstr, 0).astype(np.int32), mask=vstr < 0), pa.array(PATH_STAGES)
        ),
        "value_as_concept_id": _opt(vcon, vcon == 0, pa.int32()),
        "unit_concept_id": _opt(unit, unit == 0, pa.int32()),
        "visit_occurrence_id": pa.array(vmap[a["visit"][ki]]),
        "observation_source_value": codes(c_),
        "observation_source_concept_id": pa.array(c_, pa.int32()),
        "unit_source_value": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(k, np.int32), mask=unit == 0), pa.array(["cm"])
        ),
        "value_source_value": _opt_codes(codes, vcon),
    }

    # ---- notes: discharge/pathology from the pathways, radiology for every imaging study.
    a = sim.notes.arrays()
    ki = np.nonzero(keep_events(a["person"], a["date"], a["visit"]))[0]
    pr = sim.procs.arrays()
    rad = np.nonzero(pk)[0][ii]
    # one radiology report per imaging study; aux = the clinical diagnosis for the indication.
    n_person = np.concatenate([a["person"][ki], pr["person"][rad]])
    n_date = np.concatenate([a["date"][ki], pr["date"][rad]])
    n_visit = np.concatenate([a["visit"][ki], pr["visit"][rad]])
    n_kind = np.concatenate([a["kind"][ki], np.ones(len(rad), np.uint8)])
    n_concept = np.concatenate([a["concept"][ki].astype(np.int64), pr["concept"][rad].astype(np.int64)])
    n_aux = np.concatenate([a["aux"][ki].astype(np.int64), pr["dx"][rad].astype(np.int64)])
    n_site = np.concatenate([np.zeros(len(ki), np.int64), site.astype(np.int64)])
    k = len(n_person)
    order = np.lexsort((n_kind, n_date, n_person))
    n_person, n_date, n_visit, n_kind = n_person[order], n_date[order], n_visit[order], n_kind[order]
    n_concept, n_aux, n_site = n_concept[order], n_aux[order], n_site[order]
    vloc = n_visit
    note_stage = pa.table(
        {
            "note_id": pa.array(event_ids("note", k)),
            "person_id": pa.array(pid[n_person]),
            "note_date": _date(n_date),
            "note_datetime": _tsa(_ts(n_date, rng.integers(9 * 3600, 22 * 3600, k))),
            "visit_occurrence_id": pa.array(vmap[vloc]),
            "visit_start": _date(vis["start"][vloc]),
            "visit_end": _date(vend_all[vloc]),
            "kind": pa.array(n_kind.astype(np.int8)),
            "korean": pa.array(rng.random(k) < 0.5),
            "mention": pa.array(rng.choice(3, k, p=[0.6, 0.3, 0.1]).astype(np.int8)),
            "variant": pa.array(rng.integers(0, 3, k).astype(np.int8)),
            "concept_id": pa.array(n_concept, pa.int32()),
            "aux_concept_id": _opt(n_aux, n_aux == 0, pa.int32()),
            "site": _dict(n_site, list(SITES)).cast(pa.string()),
        }
    )

    # ---- death, observation_period, person
    dead = np.nonzero(death < NEVER)[0]
    np.maximum.at(obs_end, dead, death[dead])
    tables["death"] = {
        "person_id": pa.array(pid[dead]),
        "death_date": _date(death[dead]),
        "death_datetime": _tsa(_ts(death[dead], rng.integers(0, 86_400, len(dead)))),
        "death_type_concept_id": pa.array(np.full(len(dead), C.EHR_TYPE, np.int32)),
        "cause_concept_id": pa.array(cause[dead], pa.int32()),
        "cause_source_value": codes(cause[dead]),
        "cause_source_concept_id": pa.array(cause[dead], pa.int32()),
    }
    if (obs_start == NEVER).any():
        raise AssertionError("a demo person has no visit inside the data window")
    tables["observation_period"] = {
        "observation_period_id": pa.array(event_ids("observation_period", n)),
        "person_id": pa.array(pid),
        "observation_period_start_date": _date(obs_start),
        "observation_period_end_date": _date(obs_end),
        "period_type_concept_id": pa.array(np.full(n, C.EHR_TYPE, np.int32)),
    }
    birth = sim.birth
    bdate = birth.astype("datetime64[D]")
    year = bdate.astype("datetime64[Y]").astype(np.int64) + 1970
    month = bdate.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (bdate - bdate.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    gender = np.where(sim.male, 8507, 8532)
    mrn = (MRN_MULTIPLIER * pid + (seed * 7_919 + 12_345_678)) % 100_000_000
    tables["person"] = {
        "person_id": pa.array(pid),
        "gender_concept_id": pa.array(gender, pa.int32()),
        "year_of_birth": pa.array(year, pa.int32()),
        "month_of_birth": pa.array(month, pa.int32()),
        "day_of_birth": pa.array(dom, pa.int32()),
        "birth_datetime": _tsa(_ts(birth, rng.integers(0, 86_400, n))),
        "race_concept_id": pa.array(np.zeros(n, np.int32)),
        "ethnicity_concept_id": pa.array(np.zeros(n, np.int32)),
        "person_source_value": pc.binary_join_element_wise(
            "H", pc.utf8_lpad(pa.array(mrn).cast(pa.string()), 8, "0"), ""
        ),
        "gender_source_value": _dict(sim.male.astype(np.int64), ["F", "M"]),
        "gender_source_concept_id": pa.array(gender, pa.int32()),
    }
    return ChunkResult({name: _to_table(name, cols) for name, cols in tables.items()}, note_stage)


def _opt_codes(codes: ConceptCodes, vcon: np.ndarray) -> pa.Array:
    arr = codes(np.where(vcon == 0, 0, vcon))
    return pa.DictionaryArray.from_arrays(
        pa.array(arr.indices.to_numpy(zero_copy_only=False), pa.int32(), mask=vcon == 0), arr.dictionary
    )


#: Fixed demo DICOM UID root; UIDs are root + seed + '.1.<procedure id>' (study) / '.2.<id>.<n>' (series).
DICOM_ROOT = "1.2.826.0.1.3680043.10.543."
#: MRN = (a * person_id + b) mod 10^8 with a coprime to 10: a bijection, so MRNs never collide.
MRN_MULTIPLIER = 73_856_093

_ARROW_TYPES = {
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
}


def _to_table(name: str, cols: dict[str, pa.Array]) -> pa.Table:
    """Columns in DDL order; columns the simulator does not fill are typed NULLs."""
    table = TABLES_BY_NAME[name]
    n = len(next(iter(cols.values())))
    unknown = set(cols) - {c.name for c in table.columns}
    if unknown:
        raise KeyError(f"{name}: not in the catalog: {sorted(unknown)}")
    arrays, fields = [], []
    for c in table.columns:
        typ = _ARROW_TYPES[c.type]
        arr = cols.get(c.name)
        if arr is None:
            arr = pa.nulls(n, typ)
        elif pa.types.is_dictionary(arr.type):
            pass  # DuckDB reads dictionary-encoded strings directly
        elif arr.type != typ:
            arr = arr.cast(typ)
        arrays.append(arr)
        fields.append(pa.field(c.name, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
