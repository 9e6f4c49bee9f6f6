"""spaCy without its command line and without other packages' pipeline factories.

Why: the parser uses spaCy for two blank tokenizers and a ``PhraseMatcher`` (``nlq.nlp``), yet a
plain ``import spacy`` and the first ``spacy.blank()`` load far more, on every ``cohort ask``:

* ``spacy/__init__`` imports ``spacy.cli.info`` only to offer ``spacy.info()``; that imports the whole
  ``spacy.cli`` package (every subcommand, ``requests``, ``weasel``, ``typer``): ~0.15–0.25 s, a third of
  spaCy's import, for a command line the parser never runs. :func:`import_spacy` imports spaCy with
  those two modules deferred: stand-ins that import the real module on first use, removed from
  ``sys.modules`` as soon as ``spacy`` is in, so a later ``import spacy.cli``, ``spacy.cli.download``
  (presidio's model download) or ``spacy.info()`` imports the real package then.
* every ``spacy.blank()`` first imports every ``spacy_factories`` entry point installed in the
  environment, whatever the pipeline uses. presidio-analyzer (the release stage's free-text scrubber)
  registers one, and importing it compiles its ~170 recognizer patterns: 0.45–0.6 s that no question
  needs. The parser's pipelines are blank tokenizers with no component, so no installed factory is
  ever wanted there; the scrubber imports presidio itself when it runs.

Call :func:`skip_plugin_factories` where a process is about to parse (``cohort ask``, the API's
warm-up), before anything imports spaCy; it imports spaCy (through :func:`import_spacy`), which that
process needs anyway. Neither changes what spaCy computes: the tokenizers and matchers are built by
the same code from the same rules (tests/test_cli_startup.py).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

#: The spaCy modules :func:`import_spacy` defers: the package ``spacy/__init__`` reaches through, and
#: the module it takes ``info`` from.
DEFERRED = ("spacy.cli", "spacy.cli.info")


class _Deferred(types.ModuleType):
    """Stands in for a spaCy module while ``spacy/__init__`` runs; any attribute asked of it later
    imports the real module (after taking itself out of ``sys.modules``) and answers from it."""

    info: Callable[..., Any]  # set on the stand-in for ``spacy.cli.info`` only

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # the import system's probes (__path__ …) must not load the module
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _info(*args: Any, **kwargs: Any) -> Any:
    """``spacy.info``, importing spaCy's command line only when someone calls it."""
    from spacy.cli.info import info

    return info(*args, **kwargs)


def import_spacy() -> types.ModuleType:
    """The ``spacy`` package, imported (if no one has yet) without ``spacy.cli``."""
    if "spacy" not in sys.modules:
        stand_ins = {name: _Deferred(name) for name in DEFERRED}
        stand_ins["spacy.cli.info"].info = _info
        placed = [name for name in DEFERRED if name not in sys.modules]
        for name in placed:
            sys.modules[name] = stand_ins[name]
        try:
            import spacy
        finally:
            for name in placed:
                if sys.modules.get(name) is stand_ins[name]:
                    del sys.modules[name]
        namespace = vars(spacy)
        if "cli" not in namespace and "__getattr__" not in namespace:
            namespace["__getattr__"] = _spacy_getattr  # PEP 562: a module's own attribute fallback
    return sys.modules["spacy"]


def _spacy_getattr(name: str) -> Any:
    """``spacy.cli`` without an ``import spacy.cli`` first (presidio calls ``spacy.cli.download``), as
    a plain ``import spacy`` provides it."""
    if name == "cli":
        return importlib.import_module("spacy.cli")
    raise AttributeError(f"module 'spacy' has no attribute {name!r}")


def skip_plugin_factories() -> bool:
    """Import spaCy (:func:`import_spacy`) and stop it loading other packages' factories on
    ``spacy.blank()``; False when this spaCy keeps them elsewhere (then nothing changes: slower, not
    wrong)."""
    import_spacy()
    from spacy import util

    registry = getattr(util.registry, "_entry_point_factories", None)
    if registry is None or not hasattr(registry, "entry_points"):
        return False
    registry.entry_points = False
    return True
