"""Clinical mentions → concept ids, in the mart's own vocabulary, with a record of how each was found.

Order of evidence, strongest first:
1. the bilingual lexicon (``data/lexicon.json``): mention → standard codes and names, looked up in
   this mart's ``concept`` table (so "MI" works on ICD-10-CM and on SNOMED marts alike);
   "a surgery for X" uses the lexicon's ``treated_by`` link from a condition to its procedures;
2. an exact name or synonym (any language) in the mart's vocabulary, ignoring case and spaces;
3. fuzzy matching (rapidfuzz) over names and synonyms of the domain: a clear winner resolves,
   close calls come back as candidates for the user to choose from.

Nothing is guessed silently: every resolution lists its concepts and the method that found them.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from typing import Literal, Protocol

import duckdb
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from cohort_engine.plurals import singulars
from cohort_engine.schema_catalog.domains import (
    ANSWER_DOMAIN_IDS,
    DOMAIN_TABLES,
    LANGUAGE_KOREAN,
    answers_key,
)
from cohort_engine.schema_catalog.messages import note
from cohort_engine.spec import CohortSpec, ConceptSet, Domain

Method = Literal["lexicon", "indication", "exact", "synonym", "contains", "fuzzy", "explicit"]

FUZZY_ACCEPT = 92.0
FUZZY_CANDIDATE = 75.0
CONTAINS_MAX = 60  # a mention in more concept names than this is not offered them as choices
CONTAINS_SHOWN = 8  # the choices offered for a term that is part of several concept names
#: Words for kinds of events, never a concept's name on their own: 'admission' is in the name of 42 coma
#: scale codes ('… at hospital admission') and must not become them.
#: Generic words a writer's phrasing can leave behind ('a partial or total …', 'that admission's start
#: date', '병력이 있는 상태에서'): the concepts whose names hold them, or come near them, are no reading of
#: them, so they are never resolved by name (the question is asked back instead).
GENERIC_WORDS = frozenset(
    {
        "partial",
        "total",
        "age",
        "ages",
        "arrival",
        "presentation",
        # an organ or region alone names no diagnosis ('catheter ablation of the heart'): asked back
        "heart",
        "lung",
        "lungs",
        "liver",
        "kidney",
        "kidneys",
        "brain",
        "chest",
        "head",
        "neck",
        "abdomen",
        "knee",
        "hip",
        "spine",
        "breast",
        "colon",
        "stomach",
        "심장",
        "폐",
        "간",
        "신장",
        "뇌",
        "흉부",
        "복부",
        "replacement",
        "removal",
        "repair",
        "insertion",
        "limit",
        "limited",
        "restricted",
        "only",
        "date",
        "dates",
        "state",
        "status",
        "part",
        "blood",
        "record",
        "records",
        "level",
        "levels",
        "value",
        "type",
        "day",
        "time",
        "side",
        "site",
        "case",
        "cases",
        "상태",
        "관련",
        "부분",
        "기록",
        "결과",
        "수치",
        "경우",
        "정도",
    }
)

EVENT_WORDS = frozenset(
    {
        "admission",
        "admissions",
        "admitted",
        "visit",
        "visits",
        "encounter",
        "surgery",
        "operation",
        "procedure",
        "diagnosis",
        "test",
        "tests",
        "result",
        "results",
        "exam",
        "examination",
        "imaging",
        "scan",
        "drug",
        "medication",
        "prescription",
        "discharge",
        "follow-up",
        "history",
        "infusion",
        "infusions",
        "placement",
    }
)


class ConceptMatch(BaseModel):
    concept_id: int
    concept_name: str
    vocabulary_id: str
    concept_code: str
    method: Method
    score: float = 100.0
    concept_name_ko: str | None = None

    def label(self, lang: str = "en") -> str:
        name = self.concept_name_ko if lang == "ko" and self.concept_name_ko else self.concept_name
        return f"{name} ({self.vocabulary_id} {self.concept_code})"


class TermResolution(BaseModel):
    """What one mention resolved to (or the candidates, when it did not resolve)."""

    term: str
    domain: Domain
    status: Literal["resolved", "ambiguous", "unresolved"]
    matches: list[ConceptMatch] = Field(default_factory=list)
    candidates: list[ConceptMatch] = Field(default_factory=list)
    note: str | None = None

    @property
    def concept_ids(self) -> list[int]:
        return [m.concept_id for m in self.matches]


class SpecResolution(BaseModel):
    """Resolutions for every concept set of a spec, keyed 'index' or by criterion label."""

    by_key: dict[str, list[TermResolution]]

    def concept_ids(self) -> dict[str, list[int]]:
        return {k: sorted({cid for r in rs for cid in r.concept_ids}) for k, rs in self.by_key.items()}

    def problems(self) -> list[TermResolution]:
        return [r for rs in self.by_key.values() for r in rs if r.status != "resolved"]


class LexiconEntry(BaseModel):
    key: str
    domain: Domain
    en: list[str] = Field(default_factory=list)
    ko: list[str] = Field(default_factory=list)
    codes: dict[str, list[str]] = Field(default_factory=dict)
    names: list[str] = Field(default_factory=list)
    treated_by: list[str] = Field(default_factory=list)
    answer_of: str | None = None  # a coded answer of that entry's observation ('current smoker')


def normalise(text: str) -> str:
    """Lower case, no spaces or punctuation: '관상 동맥 질환' == '관상동맥질환', 'HbA1c' == 'hba1c'."""
    return re.sub(r"[\s\-_.,'’()]+", "", text).lower()


@lru_cache(maxsize=1)
def lexicon() -> dict[str, LexiconEntry]:
    raw = json.loads(resources.files("cohort_engine").joinpath("data/lexicon.json").read_text("utf-8"))
    return {e["key"]: LexiconEntry(**e) for e in raw["entries"]}


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for entry in lexicon().values():
        for alias in [*entry.en, *entry.ko]:
            index.setdefault(normalise(alias), []).append(entry.key)
    return index


_VOCABULARIES: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, Vocabulary] = weakref.WeakKeyDictionary()


def lexicon_entries(term: str) -> list[LexiconEntry]:
    """Entries for a mention; an English plural ('strokes', 'PCIs', 'lung needle biopsies') finds its
    singular."""
    key = normalise(term)
    index = _alias_index()
    keys = index.get(key) or next((index[s] for s in singulars(key) if s in index), [])
    return [lexicon()[k] for k in keys]


class NameIndex(Protocol):
    """Normalised concept names and synonyms kept outside the mart's connection: the rows
    ``(concept_id, src)`` whose key is one of ``keys`` (``schema_catalog.name_keys_cache`` reads one
    from its file, so a one-shot process neither builds the TEMP table nor copies the file into it)."""

    def lookup(self, keys: list[str]) -> list[tuple[int, str]]: ...


class Vocabulary:
    """Read access to one mart's vocabulary tables, with per-domain name lists for fuzzy matching.

    Marts are opened read-only, so a lookup's answer cannot change while the connection lives: answers
    are remembered per connection (``Vocabulary.of``), which makes a question's second mention of "MI",
    or the next question about it, cost a dictionary lookup instead of a scan of the concept table.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._names: dict[Domain, list[tuple[str, int]]] = {}
        self._name_keys: str | None = None
        self.name_index: NameIndex | None = None
        self._answers: dict[str, list[tuple]] = {}
        tables = {
            r[0].lower() for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        self.has_synonyms = "concept_synonym" in tables
        self.has_relationships = "concept_relationship" in tables

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> Vocabulary:
        """The one Vocabulary of this connection (created on first use, dropped with the connection)."""
        vocab = _VOCABULARIES.get(con)
        if vocab is None:
            vocab = _VOCABULARIES[con] = cls(con)
        return vocab

    def fetch(self, sql: str, params: list) -> list[tuple]:
        """Rows of a vocabulary query, remembered for the life of this read-only connection."""
        key = sql + "\x00" + json.dumps(params, default=str)
        if key not in self._answers:
            self._answers[key] = self.con.execute(sql, params).fetchall()
        return self._answers[key]

    def _rows(self, sql: str, params: list) -> list[ConceptMatch]:
        return [
            ConceptMatch(
                concept_id=r[0], concept_name=r[1], vocabulary_id=r[2], concept_code=r[3], method=r[4]
            )
            for r in self.fetch(sql, params)
        ]

    def by_codes(
        self, codes: dict[str, list[str]], domain_ids: tuple[str, ...], method: Method
    ) -> list[ConceptMatch]:
        """Concepts with these codes. A non-standard code (an ICD-10-CM code in a SNOMED mart) is replaced
        by the standard concepts it 'Maps to', because events are recorded with standard concepts."""
        out: list[ConceptMatch] = []
        for vocab, code_list in codes.items():
            out += self.range_members(vocab, code_list, domain_ids, method)
            wanted = sorted({c for code in code_list for c in (code, code.replace(".", ""))})
            rows = self.fetch(
                "SELECT concept_id, concept_name, vocabulary_id, concept_code, "
                "coalesce(standard_concept, '') FROM concept "
                "WHERE vocabulary_id = ? AND concept_code IN (SELECT unnest(?)) "
                "AND domain_id IN (SELECT unnest(?)) ORDER BY concept_id",
                [vocab, wanted, list(domain_ids)],
            )
            for cid, name, vid, code, std in rows:
                if std in ("S", "C"):
                    out.append(
                        ConceptMatch(
                            concept_id=cid,
                            concept_name=name,
                            vocabulary_id=vid,
                            concept_code=code,
                            method=method,
                        )
                    )
                    continue
                mapped = self.maps_to(cid, domain_ids, method)
                out += mapped or [
                    ConceptMatch(
                        concept_id=cid, concept_name=name, vocabulary_id=vid, concept_code=code, method=method
                    )
                ]
        return _dedupe(out)

    def range_members(
        self, vocab: str, codes: Iterable[str], domain_ids: tuple[str, ...], method: Method
    ) -> list[ConceptMatch]:
        """The three-character codes inside a block ('C00-C96') whose block concept has no descendants in
        this mart's ``concept_ancestor`` (marts built from the ICD-10-CM code list carry the codes'
        hierarchy but not the blocks'): 'any cancer' must still reach every C code. Empty when the block
        has descendants (they are then found through it) or is no block."""
        out: list[ConceptMatch] = []
        for code in codes:
            m = re.fullmatch(r"([A-Z]\d\d)-([A-Z]\d\d)", code)
            if m is None:
                continue
            below = self.fetch(
                "SELECT count(*) FROM concept_ancestor AS a "
                "JOIN concept AS c ON c.concept_id = a.ancestor_concept_id "
                "WHERE c.vocabulary_id = ? AND c.concept_code = ? "
                "AND a.descendant_concept_id <> a.ancestor_concept_id",
                [vocab, code],
            )
            if below and below[0][0]:
                continue
            out += self._rows(
                "SELECT concept_id, concept_name, vocabulary_id, concept_code, ? FROM concept "
                "WHERE vocabulary_id = ? AND length(concept_code) = 3 AND concept_code BETWEEN ? AND ? "
                "AND domain_id IN (SELECT unnest(?)) AND coalesce(standard_concept, '') IN ('S', 'C') "
                "ORDER BY concept_code",
                [method, vocab, m.group(1), m.group(2), list(domain_ids)],
            )
        return out

    def by_written_code(self, term: str, domain_ids: tuple[str, ...]) -> list[ConceptMatch]:
        """Concepts whose code is written as ``term`` ('I21.4', 'I63', '39.74', 'K25.4'), in any of the
        mart's vocabularies: people quote codes. Only code-shaped terms (a letter or digits, then digits,
        with an optional dot part; or a LOINC code, '8480-6'), so no word is ever read as a code."""
        code = term.strip().upper()
        # ('F32.A': ICD-10-CM codes may end in letters after the dot)
        icd = re.fullmatch(r"[A-Z]?\d{2,3}(?:\.[0-9A-Z]{1,4})?[A-Z]?", code) and re.search(r"\d", code)
        if not icd and not re.fullmatch(r"\d{3,5}-\d", code):
            return []
        by_vocab: dict[str, list[str]] = {}
        for (vid,) in self.fetch(
            "SELECT DISTINCT vocabulary_id FROM concept WHERE concept_code IN (?, ?) "
            "AND domain_id IN (SELECT unnest(?))",
            [code, code.replace(".", ""), list(domain_ids)],
        ):
            by_vocab.setdefault(str(vid), []).append(code)
        return self.by_codes(by_vocab, domain_ids, "exact") if by_vocab else []

    def maps_to(self, concept_id: int, domain_ids: tuple[str, ...], method: Method) -> list[ConceptMatch]:
        if not self.has_relationships:
            return []
        return self._rows(
            "SELECT c.concept_id, c.concept_name, c.vocabulary_id, c.concept_code, ? FROM "
            "concept_relationship r "
            "JOIN concept c ON c.concept_id = r.concept_id_2 WHERE r.concept_id_1 = ? AND "
            "r.relationship_id = 'Maps to' "
            "AND coalesce(r.invalid_reason, '') = '' AND c.domain_id IN (SELECT unnest(?)) "
            "AND coalesce(c.standard_concept, '') IN ('S', 'C') ORDER BY c.concept_id",
            [method, concept_id, list(domain_ids)],
        )

    #: Per-connection TEMP table of normalised names and synonyms (:meth:`name_keys`).
    NAME_KEYS = "cohort_engine_name_keys"
    _NORM_SQL = "lower(regexp_replace({col}, '[\\s\\-_.,''’()]+', '', 'g'))"

    def name_keys(self) -> str | None:
        """The TEMP table ``(k, concept_id, src)`` of every standard concept's normalised name (``src``
        'n') and synonym ('s'), built on first use; None where the connection cannot make one.

        Why: normalising a name is a regular expression over every row of ``concept`` (≈ 3.5 µs a row:
        0.35 s on 100k concepts, ~20 s on a full Athena vocabulary), and each mention paid it again.
        Built once per connection, every later lookup is a hash join (milliseconds); the API's pooled
        connections pay it once for the life of the server. TEMP tables live in the connection's
        memory only, so the read-only mart is untouched and the guard (catalogued tables only) never
        lets user SQL see it.
        """
        if self._name_keys is None:
            norm = self._NORM_SQL
            syn = (
                f"UNION ALL SELECT {norm.format(col='s.concept_synonym_name')}, s.concept_id, 's' "
                "FROM concept_synonym AS s"
                if self.has_synonyms
                else ""
            )
            try:
                self.con.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {self.NAME_KEYS} AS "
                    f"SELECT {norm.format(col='concept_name')} AS k, concept_id, 'n' AS src FROM concept "
                    f"WHERE coalesce(standard_concept, '') IN ('S', 'C') {syn}"
                )
                self._name_keys = self.NAME_KEYS
            except duckdb.Error:
                self._name_keys = ""
        return self._name_keys or None

    def _rows_by_keys(self, keys: list[str], domain_ids: tuple[str, ...]) -> list[tuple] | None:
        """(concept_id, name, vocabulary, code, src) of the standard concepts whose normalised name
        ('n') or synonym ('s') is one of ``keys``, names first; None without a name index."""
        if self.name_index is not None:
            src_of: dict[int, str] = {}
            for cid, src in self.name_index.lookup(keys):
                src_of[cid] = min(src, src_of.get(cid, src))
            if not src_of:
                return []
            found = self.fetch(
                "SELECT concept_id, concept_name, vocabulary_id, concept_code FROM concept "
                "WHERE concept_id IN (SELECT unnest(?)) AND domain_id IN (SELECT unnest(?)) "
                "AND coalesce(standard_concept, '') IN ('S', 'C')",
                [sorted(src_of), list(domain_ids)],
            )
            return sorted(((*row, src_of[row[0]]) for row in found), key=lambda r: (r[4], r[0]))
        table = self.name_keys()
        if table is None:
            return None
        return self.fetch(
            "SELECT c.concept_id, c.concept_name, c.vocabulary_id, c.concept_code, min(n.src) "
            f"FROM {table} AS n JOIN concept AS c ON c.concept_id = n.concept_id "
            "WHERE n.k IN (SELECT unnest(?)) AND c.domain_id IN (SELECT unnest(?)) "
            "AND coalesce(c.standard_concept, '') IN ('S', 'C') "
            "GROUP BY 1, 2, 3, 4 ORDER BY min(n.src), 1",
            [keys, list(domain_ids)],
        )

    def by_names(
        self, names: Iterable[str], domain_ids: tuple[str, ...], method: Method
    ) -> list[ConceptMatch]:
        keys = sorted({normalise(n) for n in names})
        if not keys:
            return []
        rows = self._rows_by_keys(keys, domain_ids)
        syn_method: Method = "synonym" if method == "exact" else method
        if rows is not None:
            return _dedupe(
                [
                    ConceptMatch(
                        concept_id=cid,
                        concept_name=name,
                        vocabulary_id=vid,
                        concept_code=code,
                        method=method if src == "n" else syn_method,
                    )
                    for cid, name, vid, code, src in rows
                ]
            )
        norm = self._NORM_SQL
        found = self._rows(
            "SELECT concept_id, concept_name, vocabulary_id, concept_code, ? FROM concept "
            f"WHERE {norm.format(col='concept_name')} IN (SELECT unnest(?)) "
            "AND domain_id IN (SELECT unnest(?)) AND coalesce(standard_concept, '') IN ('S', 'C') "
            "ORDER BY concept_id",
            [method, keys, list(domain_ids)],
        )
        if self.has_synonyms:
            found += self._rows(
                "SELECT c.concept_id, c.concept_name, c.vocabulary_id, c.concept_code, ? FROM concept c "
                "WHERE c.concept_id IN (SELECT s.concept_id FROM concept_synonym s "
                f"WHERE {norm.format(col='s.concept_synonym_name')} IN (SELECT unnest(?))) "
                "AND c.domain_id IN (SELECT unnest(?)) AND coalesce(c.standard_concept, '') IN ('S', 'C') "
                "ORDER BY c.concept_id",
                [syn_method, keys, list(domain_ids)],
            )
        return _dedupe(found)

    def containing(self, term: str, domain_ids: tuple[str, ...]) -> list[ConceptMatch]:
        """Standard concepts whose name or synonym contains the term as whole words (Hangul: as a
        substring)."""
        words = [w for w in re.split(r"[\s\-]+", term.lower()) if w]
        if not words or (not re.search(r"[\uac00-\ud7a3]", term) and max(len(w) for w in words) < 4):
            return []
        pattern = (
            "(^|[^a-z0-9])" + r"[\s\-]+".join(re.escape(w) for w in words) + "([^a-z0-9]|$)"
            if re.fullmatch(r"[a-z0-9\s\-']+", term.lower())
            else re.escape(term.lower())
        )
        sql = (
            "SELECT concept_id, concept_name, vocabulary_id, concept_code, ? FROM concept "
            "WHERE regexp_matches(lower(concept_name), ?) AND domain_id IN (SELECT unnest(?)) "
            "AND coalesce(standard_concept, '') = 'S' ORDER BY concept_id"
        )
        found = self._rows(sql, ["contains", pattern, list(domain_ids)])
        if self.has_synonyms:
            found += self._rows(
                "SELECT c.concept_id, c.concept_name, c.vocabulary_id, c.concept_code, ? FROM concept c "
                "WHERE c.concept_id IN (SELECT s.concept_id FROM concept_synonym s "
                "WHERE regexp_matches(lower(s.concept_synonym_name), ?)) "
                "AND c.domain_id IN (SELECT unnest(?)) AND coalesce(c.standard_concept, '') = 'S' "
                "ORDER BY c.concept_id",
                ["contains", pattern, list(domain_ids)],
            )
        # 'loss of consciousness' is not 'Concussion with *no* loss of consciousness'
        negated = re.compile(rf"\b(?:no|not|without|non)[\s-]+{re.escape(term.lower())}")
        return _dedupe([m for m in found if not negated.search(m.concept_name.lower())])

    def names(self, domain: Domain) -> list[tuple[str, int]]:
        if domain not in self._names:
            domain_ids = list(DOMAIN_TABLES[domain].omop_domain_ids)
            rows = self.con.execute(
                "SELECT concept_name, concept_id FROM concept WHERE domain_id IN (SELECT unnest(?)) "
                "AND coalesce(standard_concept, '') IN ('S', 'C')",
                [domain_ids],
            ).fetchall()
            if self.has_synonyms:
                rows += self.con.execute(
                    "SELECT s.concept_synonym_name, s.concept_id FROM concept_synonym s JOIN concept c "
                    "ON c.concept_id = s.concept_id WHERE c.domain_id IN (SELECT unnest(?)) "
                    "AND coalesce(c.standard_concept, '') IN ('S', 'C')",
                    [domain_ids],
                ).fetchall()
            self._names[domain] = rows
        return self._names[domain]

    def concept(self, concept_id: int, method: Method, score: float = 100.0) -> ConceptMatch:
        r = self.con.execute(
            "SELECT concept_id, concept_name, vocabulary_id, concept_code FROM concept WHERE concept_id = ?",
            [concept_id],
        ).fetchall()
        if not r:
            raise KeyError(concept_id)
        cid, name, vocab, code = r[0]
        return ConceptMatch(
            concept_id=cid,
            concept_name=name,
            vocabulary_id=vocab,
            concept_code=code,
            method=method,
            score=score,
        )


def _dedupe(matches: list[ConceptMatch]) -> list[ConceptMatch]:
    seen: set[int] = set()
    out = []
    for m in matches:
        if m.concept_id not in seen:
            seen.add(m.concept_id)
            out.append(m)
    return out


def _from_entry(
    vocab: Vocabulary, entry: LexiconEntry, domain_ids: tuple[str, ...], method: Method
) -> list[ConceptMatch]:
    return _dedupe(
        vocab.by_codes(entry.codes, domain_ids, method) + vocab.by_names(entry.names, domain_ids, method)
    )


def resolve_term(
    vocab: Vocabulary, term: str, domain: Domain, lang: str = "en", *, answer: bool = False
) -> TermResolution:
    """Resolve one mention; notes are written in ``lang`` (the user's language). ``answer``: a coded
    answer of ``domain``'s events ('Current smoker'), looked up among answer concepts, by the lexicon
    and by exact name only (a near name of an answer is another answer)."""
    domain_ids = ANSWER_DOMAIN_IDS if answer else DOMAIN_TABLES[domain].omop_domain_ids
    if not domain_ids:
        return TermResolution(
            term=term,
            domain=domain,
            status="unresolved",
            note=note("no_concepts", lang, domain),
        )
    entries = lexicon_entries(term)
    same_domain = [e for e in entries if e.domain == domain]
    if same_domain:
        matches = _dedupe([m for e in same_domain for m in _from_entry(vocab, e, domain_ids, "lexicon")])
        if matches:
            return TermResolution(term=term, domain=domain, status="resolved", matches=matches)
        # The mart lacks the lexicon's codes and standard names: its own names or synonyms may still
        # carry one of the entry's other spellings (a local Korean synonym, an abbreviation).
        spellings = [a for e in same_domain for a in (*e.en, *e.ko) if normalise(a) != normalise(term)]
        matches = vocab.by_names(spellings, domain_ids, "synonym") if spellings else []
        if matches:
            return TermResolution(
                term=term,
                domain=domain,
                status="resolved",
                matches=matches,
                note=note("other_spelling", lang, domain, term=term),
            )
    if answer:
        exact = vocab.by_names([term], domain_ids, "exact")
        if exact:
            return TermResolution(term=term, domain=domain, status="resolved", matches=exact)
        return TermResolution(
            term=term, domain=domain, status="unresolved", note=note("unresolved", lang, domain, term=term)
        )
    # "A surgery for MI": the procedures (or drugs) the lexicon lists as treating that condition.
    treatments = [lexicon()[k] for e in entries for k in e.treated_by if lexicon()[k].domain == domain]
    if treatments:
        found = [(t, _from_entry(vocab, t, domain_ids, "indication")) for t in treatments]
        matches = _dedupe([m for _, ms in found for m in ms])
        if matches:
            used = [t for t, ms in found if ms]
            treatment_names = ", ".join(
                sorted({t.key.upper() if len(t.key) <= 4 else t.key.replace("_", " ") for t in used})
            )
            return TermResolution(
                term=term,
                domain=domain,
                status="resolved",
                matches=matches,
                note=note("indication", lang, domain, term=term, names=treatment_names),
            )
    exact = vocab.by_names([term], domain_ids, "exact")
    if exact:
        return TermResolution(term=term, domain=domain, status="resolved", matches=exact)
    if term.strip().lower() in GENERIC_WORDS:
        return TermResolution(
            term=term, domain=domain, status="unresolved", note=note("unresolved", lang, domain, term=term)
        )
    coded = vocab.by_written_code(term, domain_ids)
    if coded:  # 'I21.4', '39.74', 'E11': a code as written, in whichever vocabulary of the mart has it
        return TermResolution(term=term, domain=domain, status="resolved", matches=coded)
    # 'allergic rhinitis' in a mart that only has 'Perennial …' and 'Seasonal allergic rhinitis': the
    # concepts whose names hold the term as whole words are what it may mean, and they are offered. They
    # were once taken all together; on the blind split that answered 1 question of 5 right and 4 with
    # the wrong patients (writers meant a parent concept and its descendants, or one of the names), so
    # the choice is the user's.
    contained = [] if term.strip().lower() in EVENT_WORDS else vocab.containing(term, domain_ids)
    if 2 <= len(contained) <= CONTAINS_MAX:
        return TermResolution(
            term=term,
            domain=domain,
            status="ambiguous",
            candidates=contained[:CONTAINS_SHOWN],
            note=note("contains", lang, domain, term=term, count=len(contained)),
        )
    names = vocab.names(domain)
    if names:
        choices = [n for n, _ in names]
        hits = process.extract(term, choices, scorer=fuzz.WRatio, processor=_fold, limit=5)
        scored = [(score, names[i][1]) for _, score, i in hits if score >= FUZZY_CANDIDATE]
        best: dict[int, float] = {}
        for score, cid in scored:
            best[cid] = max(best.get(cid, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        if ranked:
            top_id, top = ranked[0]
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if top >= FUZZY_ACCEPT and top - runner_up >= 3:
                return TermResolution(
                    term=term, domain=domain, status="resolved", matches=[vocab.concept(top_id, "fuzzy", top)]
                )
            return TermResolution(
                term=term,
                domain=domain,
                status="ambiguous",
                candidates=[vocab.concept(cid, "fuzzy", s) for cid, s in ranked[:5]],
                note=note("ambiguous", lang, domain, term=term),
            )
    return TermResolution(
        term=term,
        domain=domain,
        status="unresolved",
        note=note("unresolved", lang, domain, term=term),
    )


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def concept_set_terms(cs: ConceptSet) -> list[str]:
    return list(dict.fromkeys(cs.terms))


def resolve_spec(
    vocab: Vocabulary, spec: CohortSpec, overrides: dict[str, list[int]] | None = None
) -> SpecResolution:
    """Resolve every term of every concept set. ``overrides`` pins a mention to given concept ids."""
    overrides = {normalise(k): v for k, v in (overrides or {}).items()}
    by_key: dict[str, list[TermResolution]] = {}
    for key, f in [("index", spec.index), *((c.label, c) for c in spec.criteria)]:
        out = []
        for term in concept_set_terms(f.concepts):
            if normalise(term) in overrides:
                out.append(
                    TermResolution(
                        term=term,
                        domain=f.domain,
                        status="resolved",
                        matches=[vocab.concept(cid, "explicit") for cid in overrides[normalise(term)]],
                        note=note("chosen", spec.language),
                    )
                )
            else:
                out.append(resolve_term(vocab, term, f.domain, spec.language))
        by_key[key] = _range_gaps_left_out(out, spec.language)
        if f.value_concepts is not None:
            by_key[answers_key(key)] = [
                resolve_term(vocab, term, f.domain, spec.language, answer=True)
                for term in concept_set_terms(f.value_concepts)
            ]
    if spec.language == "ko":
        _add_korean_names(
            vocab, [m for rs in by_key.values() for r in rs for m in (*r.matches, *r.candidates)]
        )
    return SpecResolution(by_key=by_key)


_CODE_STEP = re.compile(r"(?P<stem>[A-Z]?\d{2}\.?\d*?)(?P<last>\d)")


def _range_gaps_left_out(out: list[TermResolution], lang: str) -> list[TermResolution]:
    """'43.5~43.9', '88.55-88.57': a written range is spelled out code by code, and a mart's vocabulary
    need not hold every code in it (no 43.8 here). When the codes of one concept set form such a run
    (one stem, last digits consecutive) and some of them resolved, the missing ones are left out with a
    note on the first that resolved, rather than asked back; a code written alone is still asked back."""
    steps = [(r, _CODE_STEP.fullmatch(r.term.strip())) for r in out]
    if len(out) < 3 or not all(m for _, m in steps):
        return out
    stems = {m["stem"] for _, m in steps if m}
    lasts = [int(m["last"]) for _, m in steps if m]
    if len(stems) != 1 or lasts != list(range(lasts[0], lasts[0] + len(lasts))):
        return out
    missing = [r for r in out if r.status == "unresolved"]
    kept = [r for r in out if r.status != "unresolved"]
    if not missing or not any(r.status == "resolved" for r in kept):
        return out
    first = next(r for r in kept if r.status == "resolved")
    gap = note(
        "range_gap", lang, missing=", ".join(r.term for r in missing), first=out[0].term, last=out[-1].term
    )
    return [r.model_copy(update={"note": gap}) if r is first else r for r in kept]


def _add_korean_names(vocab: Vocabulary, matches: list[ConceptMatch]) -> None:
    """Fill ``concept_name_ko`` from the mart's Korean synonyms, so a Korean read-back reads Korean."""
    if not matches or not vocab.has_synonyms:
        return
    ids = sorted({m.concept_id for m in matches})
    rows = vocab.con.execute(
        # The longest Korean synonym is the most specific
        # (비약물용출 관상동맥 스텐트 삽입 vs 관상동맥 스텐트 삽입).
        "SELECT concept_id, ARG_MAX(concept_synonym_name, LENGTH(concept_synonym_name)) FROM concept_synonym "
        f"WHERE language_concept_id = {LANGUAGE_KOREAN} AND concept_id IN (SELECT unnest(?)) GROUP BY "
        "concept_id",
        [ids],
    ).fetchall()
    names = dict(rows)
    for m in matches:
        m.concept_name_ko = names.get(m.concept_id)
