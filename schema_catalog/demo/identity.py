"""Fake identities (names, addresses, phone numbers) for the ``demo_identity`` table.

Why: de-identification and DICOM tests need realistic identifying values to find and remove.
Names are common Korean family and given names (age-appropriate generations), addresses use
real city and road names of a fictional regional network around Daegu with random numbers,
phone numbers are 010 mobile numbers.  None of it belongs to anyone: combinations are random.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

#: (hangul, romanized, share in percent) of the commonest Korean family names.
FAMILY: tuple[tuple[str, str, float], ...] = (
    ("김", "Kim", 21.5),
    ("이", "Lee", 14.7),
    ("박", "Park", 8.4),
    ("최", "Choi", 4.7),
    ("정", "Jung", 4.3),
    ("강", "Kang", 2.3),
    ("조", "Cho", 2.1),
    ("윤", "Yoon", 2.1),
    ("장", "Jang", 2.0),
    ("임", "Lim", 1.7),
    ("한", "Han", 1.5),
    ("오", "Oh", 1.5),
    ("서", "Seo", 1.5),
    ("신", "Shin", 1.4),
    ("권", "Kwon", 1.4),
    ("황", "Hwang", 1.4),
    ("안", "Ahn", 1.3),
    ("송", "Song", 1.3),
    ("류", "Ryu", 1.2),
    ("전", "Jeon", 1.1),
    ("홍", "Hong", 1.1),
    ("고", "Ko", 0.9),
    ("문", "Moon", 0.9),
    ("양", "Yang", 0.9),
    ("손", "Son", 0.9),
    ("배", "Bae", 0.8),
    ("백", "Baek", 0.8),
    ("허", "Heo", 0.7),
    ("유", "Yoo", 0.7),
    ("남", "Nam", 0.6),
)

#: Given names by (sex, generation): hangul and romanization.
GIVEN: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("M", "young"): (
        ("민준", "Min-jun"),
        ("서준", "Seo-jun"),
        ("도윤", "Do-yun"),
        ("예준", "Ye-jun"),
        ("시우", "Si-u"),
        ("하준", "Ha-jun"),
        ("지호", "Ji-ho"),
        ("주원", "Ju-won"),
        ("지훈", "Ji-hun"),
        ("현우", "Hyeon-u"),
        ("준서", "Jun-seo"),
        ("건우", "Geon-u"),
    ),
    ("M", "old"): (
        ("영수", "Young-su"),
        ("영호", "Young-ho"),
        ("영철", "Young-cheol"),
        ("정호", "Jeong-ho"),
        ("성호", "Seong-ho"),
        ("상철", "Sang-cheol"),
        ("성민", "Seong-min"),
        ("동현", "Dong-hyeon"),
        ("재현", "Jae-hyeon"),
        ("광수", "Gwang-su"),
        ("종수", "Jong-su"),
        ("병철", "Byeong-cheol"),
        ("진호", "Jin-ho"),
        ("승현", "Seung-hyeon"),
    ),
    ("F", "young"): (
        ("서연", "Seo-yeon"),
        ("서윤", "Seo-yun"),
        ("지우", "Ji-u"),
        ("하은", "Ha-eun"),
        ("민서", "Min-seo"),
        ("지민", "Ji-min"),
        ("수빈", "Su-bin"),
        ("지유", "Ji-yu"),
        ("채원", "Chae-won"),
        ("윤서", "Yun-seo"),
        ("예은", "Ye-eun"),
        ("수아", "Su-a"),
    ),
    ("F", "old"): (
        ("영희", "Young-hee"),
        ("미숙", "Mi-suk"),
        ("정숙", "Jeong-suk"),
        ("순자", "Sun-ja"),
        ("영숙", "Young-suk"),
        ("은지", "Eun-ji"),
        ("혜진", "Hye-jin"),
        ("지현", "Ji-hyeon"),
        ("미경", "Mi-gyeong"),
        ("경희", "Gyeong-hee"),
        ("숙자", "Suk-ja"),
        ("현주", "Hyeon-ju"),
        ("은영", "Eun-young"),
        ("정희", "Jeong-hee"),
    ),
}

REGIONS: tuple[str, ...] = (
    "대구광역시 중구",
    "대구광역시 수성구",
    "대구광역시 달서구",
    "대구광역시 북구",
    "대구광역시 동구",
    "경상북도 경산시",
    "경상북도 구미시",
    "경상북도 포항시 남구",
    "경상북도 안동시",
    "경상북도 경주시",
    "경상북도 칠곡군",
)
ROADS: tuple[str, ...] = (
    "중앙대로",
    "달구벌대로",
    "국채보상로",
    "동대구로",
    "신천대로",
    "대학로",
    "시청로",
    "역전로",
    "문화로",
    "공원로",
    "평화로",
    "희망로",
)

IDENTITY_DDL = """CREATE TABLE IF NOT EXISTS demo_identity (
  person_id BIGINT NOT NULL,
  family_name VARCHAR NOT NULL,
  given_name VARCHAR NOT NULL,
  name_hangul VARCHAR NOT NULL,
  address VARCHAR,
  phone VARCHAR
);
COMMENT ON TABLE demo_identity IS
  'Demo only, outside OMOP, IDENTIFYING: fake patient names, address, phone '
  '(de-identification and DICOM test material).'
"""

IDENTITY_INSERT = """INSERT INTO demo_identity
SELECT person_id, family_name, given_name, family_hangul || given_hangul,
       region || ' ' || road || ' ' || CAST(bldg AS VARCHAR)
         || CASE WHEN apt_dong > 0
                 THEN ', ' || CAST(apt_dong AS VARCHAR) || '동 ' || CAST(apt_ho AS VARCHAR) || '호'
                 ELSE '' END,
       '010-' || CAST(phone1 AS VARCHAR) || '-' || lpad(CAST(phone2 AS VARCHAR), 4, '0')
FROM _identity_stage
ORDER BY person_id"""


def _dict(idx: np.ndarray, values: list[str]) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32)), pa.array(values, pa.string()))


def identity_stage(
    rng: np.random.Generator, person_id: np.ndarray, male: np.ndarray, age: np.ndarray
) -> pa.Table:
    """Random name/address/phone parts per person (strings are joined in SQL on insert)."""
    n = len(person_id)
    share = np.array([f[2] for f in FAMILY])
    fam = rng.choice(len(FAMILY), n, p=share / share.sum())
    groups = [("M", "young"), ("M", "old"), ("F", "young"), ("F", "old")]
    flat = [g for key in groups for g in GIVEN[key]]
    sizes = np.array([len(GIVEN[key]) for key in groups])
    offset = np.r_[0, np.cumsum(sizes)[:-1]]
    group = np.where(male, 0, 2) + (age >= 40)
    given = offset[group] + np.floor(rng.random(n) * sizes[group]).astype(np.int64)
    apt = rng.random(n) < 0.6
    return pa.table(
        {
            "person_id": pa.array(person_id),
            "family_name": _dict(fam, [f[1] for f in FAMILY]),
            "family_hangul": _dict(fam, [f[0] for f in FAMILY]),
            "given_name": _dict(given, [g[1] for g in flat]),
            "given_hangul": _dict(given, [g[0] for g in flat]),
            "region": _dict(rng.integers(0, len(REGIONS), n), list(REGIONS)),
            "road": _dict(rng.integers(0, len(ROADS), n), list(ROADS)),
            "bldg": pa.array(rng.integers(1, 999, n)),
            "apt_dong": pa.array(np.where(apt, rng.integers(101, 115, n), 0)),
            "apt_ho": pa.array(rng.integers(1, 25, n) * 100 + rng.integers(1, 8, n)),
            "phone1": pa.array(rng.integers(2000, 9999, n)),
            "phone2": pa.array(rng.integers(0, 9999, n)),
        }
    )
