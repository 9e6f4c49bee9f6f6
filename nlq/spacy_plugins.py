"""spaCy without its command line and without other packages' pipeline factories.

Why: the parser takes its tokenizer rules and lexicon matchers from spaCy (``nlq.spacy_rules``, only
when their cache file is missing), and spaCy's stop-word list; a plain ``import spacy`` and the
first ``spacy.blank()`` load far more:

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
warm-up), before anything imports spaCy. It imports nothing: it puts a finder on ``sys.meta_path``
that makes the process's first ``import spacy``, whoever makes it, the light one (and then removes
itself), so a parse that needs no spaCy pays nothing. Neither changes what spaCy computes
(tests/test_cli_startup.py).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable, Sequence
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


def _exec_light(loader: importlib.abc.Loader, module: types.ModuleType) -> None:
    """Run ``spacy/__init__`` with :data:`DEFERRED` stood in for."""
    stand_ins = {name: _Deferred(name) for name in DEFERRED}
    stand_ins["spacy.cli.info"].info = _info
    placed = [name for name in DEFERRED if name not in sys.modules]
    for name in placed:
        sys.modules[name] = stand_ins[name]
    try:
        loader.exec_module(module)
    finally:
        for name in placed:
            if sys.modules.get(name) is stand_ins[name]:
                del sys.modules[name]
    namespace = vars(module)
    if "cli" not in namespace and "__getattr__" not in namespace:
        namespace["__getattr__"] = _spacy_getattr  # PEP 562: a module's own attribute fallback


def import_spacy() -> types.ModuleType:
    """The ``spacy`` package, imported (if no one has yet) without ``spacy.cli``; other packages'
    factories are switched off here when :func:`skip_plugin_factories` asked for it."""
    if "spacy" not in sys.modules:
        _install_finder()
        import spacy  # noqa: F401 - through the finder
    if _SKIP_REQUESTED:
        _apply_skip()
    return sys.modules["spacy"]


def _spacy_getattr(name: str) -> Any:
    """``spacy.cli`` without an ``import spacy.cli`` first (presidio calls ``spacy.cli.download``), as
    a plain ``import spacy`` provides it."""
    if name == "cli":
        return importlib.import_module("spacy.cli")
    raise AttributeError(f"module 'spacy' has no attribute {name!r}")


_SKIP_REQUESTED = False


def _apply_skip() -> bool:
    from spacy import util

    registry = getattr(util.registry, "_entry_point_factories", None)
    if registry is None or not hasattr(registry, "entry_points"):
        return False
    registry.entry_points = False
    return True


class _LightSpacyFinder(importlib.abc.MetaPathFinder):
    """Sees the first ``import spacy`` of the process, whoever makes it (``from spacy.lang.en…``
    imports the package first), and has it run through :func:`_exec_light`."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "spacy":
            return None
        _uninstall_finder()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _LightLoader(spec.loader)
        return spec


class _LightLoader(importlib.abc.Loader):
    """spaCy's own loader, with :func:`_exec_light` around its ``exec_module``."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        _exec_light(self.loader, module)
        if _SKIP_REQUESTED:
            _apply_skip()


_FINDER = _LightSpacyFinder()


def _install_finder() -> None:
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def _uninstall_finder() -> None:
    with contextlib.suppress(ValueError):
        sys.meta_path.remove(_FINDER)


def skip_plugin_factories() -> bool:
    """Make this process's spaCy, whenever it is imported, come without its command line and stop it
    loading other packages' factories on ``spacy.blank()``. Imports nothing itself: a parse that
    finds its tokenizer rules in their cache file (``nlq.tokenizer_cache``) never imports spaCy.
    Where spaCy is in already, its factories are switched off now; False when this spaCy keeps them
    elsewhere (then nothing changes: slower, not wrong)."""
    global _SKIP_REQUESTED
    _SKIP_REQUESTED = True
    if "spacy" in sys.modules:
        return _apply_skip()
    _install_finder()
    return True
