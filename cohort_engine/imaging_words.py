"""The words that name an imaging study in a procedure's name, per DICOM modality and body part.

Why one table: the parser reads 'the angiogram' as the coronary arteriography procedure named before it
(``nlq.assemble``), and on a mart without a DICOM index an imaging criterion becomes the procedures whose
names say its modality and body part (``schema_catalog.imaging_procedures``); both must agree on what a
name says.
"""

from __future__ import annotations

#: DICOM modality → words of a procedure's name that say it.
MODALITY_WORDS: dict[str, str] = {
    "CR": r"x-ray|xray|radiograph|radiography",
    "DX": r"x-ray|xray|radiograph|radiography",
    "CT": r"computed tomography|\bct\b|cat scan",
    "MR": r"magnetic resonance|\bmri\b",
    "US": r"ultrason|sonograph|echocardiogra",
    "MG": r"mammogra",
    "XA": r"angiogra|arteriogra",
    "PT": r"positron|\bpet\b",
    "NM": r"scintigra|nuclear medicine",
}
#: DICOM BodyPartExamined → words of a procedure's name that say it.
BODY_PART_WORDS: dict[str, str] = {
    "CHEST": r"chest|thora|lung",
    "HEAD": r"head|brain|skull|cran",
    "ABDOMEN": r"abdom",
    "PELVIS": r"pelvi",
    "HEART": r"heart|cardiac|coronary|echocardio",
    "BREAST": r"breast|mammo",
    "KNEE": r"knee",
    "HIP": r"\bhip",
    "SPINE": r"spine|spinal|vertebra",
    "LSPINE": r"lumbar",
    "CSPINE": r"cervical spine",
    "TSPINE": r"thoracic spine",
    "SSPINE": r"sacr",
    "NECK": r"neck",
    "LIVER": r"liver|hepat",
    "KIDNEY": r"kidney|renal",
    "CLAVICLE": r"clavic",
    "HUMERUS": r"humer",
    "WRIST": r"wrist",
    "ANKLE": r"ankle",
    "SHOULDER": r"shoulder",
    "ELBOW": r"elbow",
    "FEMUR": r"femur|femoral",
}
