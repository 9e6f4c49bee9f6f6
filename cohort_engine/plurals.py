"""English plurals of lexicon names, both ways: the parser (``nlq.lexicon``) adds the plural of each name
of several words to its phrases, and it and the resolver (``schema_catalog.resolve``) read a plural
mention back to its singular in their indexes of the lexicon's names written compactly.

Why one module: the two stages must read 'PCIs', 'lung needle biopsies' and 'echoes' alike, or a
mention the parser found would not resolve.
"""

from __future__ import annotations

import re


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


def plural_of(name: str) -> str | None:
    """The English plural of a name of several words ('lung needle biopsies', 'chest x-rays', 'knee
    replacements'), found as one phrase as the singular is; None for one word (the tokenizer's own
    lemma-free matching leaves those to ``nlq.lexicon.lookup``) or a name that is no noun phrase."""
    if " " not in name or not re.fullmatch(r"[a-z][a-z0-9 -]*[a-z]", name):
        return None
    if re.search(r"(?:s|x|ch|sh)$", name):
        return None if name.endswith("s") else name + "es"
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    return name + "s"
