"""Low-level DICOM helpers for the de-identification hot path: raw values in, raw values out.

Why: pydicom's generic path (``DataElement`` construction with validation, per-element write
buffers) costs ~8 µs per element, which alone exceeds the budget of 500 files/s per core.  Values we
set are ASCII (UIDs, dates, pseudonyms, dummies), so they can be stored as pre-encoded
``RawDataElement``s; unchanged elements stay raw and are copied byte for byte; only elements whose
text really changes go through pydicom's encoder.

:func:`write_dataset_file` writes the same bytes as ``Dataset.save_as(enforce_file_format=True)``
(the tests compare the two) but copies raw elements directly; it falls back to pydicom whenever the
output encoding differs from the one the dataset was read with.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import UID

__all__ = ["dataset_encoding", "raw_ascii_element", "simple_codec", "write_dataset_file"]

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OW", "OV", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
_SEQ_DELIM = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
#: File meta elements without which pydicom's writer would have to add or reject something.
_META_REQUIRED = (0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012)
#: Single-byte or UTF-8 codecs whose bytes can be decoded/searched without ISO 2022 escapes.
_SIMPLE_CODECS = frozenset({"iso8859", "latin_1", "utf_8", "utf8", "ascii", "us_ascii"})


def simple_codec(codecs: tuple[str, ...]) -> str | None:
    """The one Python codec for raw text when the character set needs no escape handling."""
    if len(codecs) != 1:
        return None
    c = codecs[0].replace("-", "_").lower()
    if c in _SIMPLE_CODECS or c.startswith("iso8859"):
        return (
            "utf_8" if c in ("utf_8", "utf8") else ("ascii" if c in ("iso8859", "ascii", "us_ascii") else c)
        )
    return None


def dataset_encoding(ds: Dataset) -> tuple[bool, bool] | None:
    """``(is_implicit_VR, is_little_endian)`` the dataset was read with, or ``None`` (built in memory)."""
    enc = getattr(ds, "original_encoding", (None, None))
    if enc is None or None in enc:
        return None
    return bool(enc[0]), bool(enc[1])


def raw_ascii_element(tag: int, vr: str, text: str, enc: tuple[bool, bool]) -> RawDataElement:
    """A pre-encoded element for an ASCII value (padded to even length as DICOM requires)."""
    b = text.encode("ascii")
    if len(b) & 1:
        b += b"\x00" if vr == "UI" else b" "
    return RawDataElement(BaseTag(tag), vr, len(b), b, 0, enc[0], enc[1], True, False)


def raw_bytes_element(tag: int, vr: str, value: bytes, enc: tuple[bool, bool]) -> RawDataElement:
    """A pre-encoded element from already-encoded value bytes (even length)."""
    return RawDataElement(BaseTag(tag), vr, len(value), value, 0, enc[0], enc[1], True, False)


def encode_element_value(elem: DataElement, enc: tuple[bool, bool], encodings: Any = None) -> bytes:
    """The value bytes pydicom would write for ``elem`` (used to pre-encode constant sequences)."""
    fp = DicomBytesIO()
    fp.is_implicit_VR, fp.is_little_endian = enc
    write_data_element(fp, elem, encodings)
    data = fp.getvalue()
    header = 12 if not enc[0] and elem.VR in _LONG_VRS else 8  # tag + (VR + reserved) + length
    return data[header:]


def _target_encoding(ds: Dataset) -> tuple[bool, bool] | None:
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if not tsyntax:
        return None
    uid = UID(tsyntax)
    if not uid.is_transfer_syntax or uid.is_deflated:
        return None
    return bool(uid.is_implicit_VR), bool(uid.is_little_endian)


def _write_fast(fp: DicomBytesIO, ds: Dataset, enc: tuple[bool, bool], min_length_group: int = 6) -> None:
    implicit, little = enc
    endian = "<" if little else ">"
    short_hdr = struct.Struct(endian + "HH2sH")
    long_hdr = struct.Struct(endian + "HH2sHL")
    implicit_hdr = struct.Struct(endian + "HHL")
    delim = _SEQ_DELIM if little else b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"
    charset = ds.get("SpecificCharacterSet", "ISO_IR 6")
    write = fp.write
    for tag in sorted(ds.keys()):
        t = int(tag)
        if t & 0xFFFF == 0 and t >> 16 > min_length_group:  # retired group lengths (PS3.5 7.2)
            continue
        elem = ds.get_item(tag)
        if (
            not isinstance(elem, RawDataElement)
            or elem.is_little_endian != little
            or elem.is_implicit_VR != implicit
            or (not implicit and not elem.VR)
        ):
            write_data_element(fp, ds[tag] if elem.is_raw else elem, charset)
            continue
        value = elem.value
        undefined = elem.length == 0xFFFFFFFF
        n = 0xFFFFFFFF if undefined else len(value)
        if implicit:
            write(implicit_hdr.pack(t >> 16, t & 0xFFFF, n))
        elif elem.VR in _LONG_VRS:
            write(long_hdr.pack(t >> 16, t & 0xFFFF, elem.VR.encode("ascii"), 0, n))
        else:
            if n > 0xFFFF:  # cannot happen for a value read with a 16-bit length; let pydicom decide
                write_data_element(fp, ds[tag], charset)
                continue
            write(short_hdr.pack(t >> 16, t & 0xFFFF, elem.VR.encode("ascii"), n))
        write(value)
        if undefined:
            write(delim)


def write_dataset_file(ds: Dataset, dst: Path) -> None:
    """Write ``ds`` in the DICOM File Format (preamble, meta, dataset) to ``dst``."""
    target = _target_encoding(ds)
    original = getattr(ds, "original_encoding", (None, None))
    same_charset = getattr(ds, "original_character_set", None) == getattr(ds, "_character_set", None)
    if target is None or tuple(original) != target or not same_charset or not target[1]:  # big endian: rare
        ds.save_as(dst, enforce_file_format=True)
        return
    fp = DicomBytesIO()
    fp.write(ds.preamble if ds.preamble is not None else b"\x00" * 128)
    fp.write(b"DICM")
    fp.is_implicit_VR, fp.is_little_endian = False, True
    meta = ds.file_meta
    if all(t in meta for t in _META_REQUIRED):
        body = DicomBytesIO()
        body.is_implicit_VR, body.is_little_endian = False, True
        _write_fast(body, meta, (False, True), min_length_group=1)  # group 2 length recomputed below
        value = body.getvalue()
        fp.write(struct.pack("<HH2sHL", 2, 0, b"UL", 4, len(value)))
        fp.write(value)
    else:  # let pydicom add what is missing
        write_file_meta_info(fp, meta, enforce_standard=True)
    fp.is_implicit_VR, fp.is_little_endian = target
    _write_fast(fp, ds, target)
    Path(dst).write_bytes(fp.getvalue())
