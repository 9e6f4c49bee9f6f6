"""spaCy without other packages' pipeline factories.

Why: every ``spacy.blank()`` — the parser's English and Korean tokenizers (``nlq.nlp``) — first imports
every ``spacy_factories`` entry point installed in the environment, whatever the pipeline uses.
presidio-analyzer (the release stage's free-text scrubber) registers one, and importing it compiles its
~170 recognizer patterns: 0.45–0.6 s of a ``cohort ask`` that needs none of them. The parser's
pipelines are blank tokenizers with no component, so no installed factory is ever wanted there; the
scrubber imports presidio itself when it runs.

Call :func:`skip_plugin_factories` where a process is about to parse (``cohort ask``, the API's
warm-up); it imports spaCy, which that process needs anyway.
"""

from __future__ import annotations


def skip_plugin_factories() -> bool:
    """Stop spaCy loading other packages' factories on ``spacy.blank()``; False when this spaCy keeps
    them elsewhere (then nothing changes: slower, not wrong)."""
    from spacy import util

    registry = getattr(util.registry, "_entry_point_factories", None)
    if registry is None or not hasattr(registry, "entry_points"):
        return False
    registry.entry_points = False
    return True
