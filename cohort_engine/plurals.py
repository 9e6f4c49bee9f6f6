"""English plurals of lexicon names, shared by the parser (``nlq.lexicon``) and the resolver
(``schema_catalog.resolve``), which each keep an index of the lexicon's names written compactly.

Why one module: the two stages must read 'PCIs', 'lung needle biopsies' and 'echoes' alike, or a
mention the parser found would not resolve.
"""

from __future__ import annotations


def singulars(key: str) -> list[str]:
    """The singular forms an English plural ``key`` may stand for, most likely first ('biopsies' →
    'biopsy', 'biopsie'; 'echoes' → 'echoe', 'echo'); none for a word not ending in 's' or not ASCII."""
    if not key.endswith("s") or not key.isascii():
        return []
    out = [key[:-3] + "y"] if key.endswith("ies") else []
    out.append(key[:-1])
    if key.endswith("es"):
        out.append(key[:-2])
    return out
