"""The guard's caps on expressions that expand a small query into a huge value (rule ``expansion_limit``).

Why in the guard and not only in the database: DuckDB checks for an interrupt between chunks of rows,
not inside one scalar function call, so ``range(1e8)`` (an 800 MB list built in one call) or
``repeat('x', 5e8)`` (a 500 MB string) runs on for many seconds past a time limit and past the memory
limit (string and list heaps are not fully accounted). Their size is known from the query text alone
when their arguments are constants, so the guard refuses them before they run:

* ``range`` / ``generate_series`` (in FROM, as a list, under ``unnest``): constant arguments only, at
  most :data:`MAX_SERIES_LENGTH` elements;
* ``repeat`` / ``space``: a constant count (or ``LEAST(expr, constant)``) of at most
  :data:`MAX_REPEAT_COUNT`, and at most :data:`MAX_STRING_CHARS` characters where the repeated string's
  length is known;
* ``lpad`` / ``rpad``: a constant width (or ``LEAST(expr, constant)``) of at most
  :data:`MAX_STRING_CHARS`;
* ``format``: a literal format string whose widths and precisions are at most
  :data:`MAX_STRING_CHARS` and not taken from arguments (``{:{}}``);
* all of these together, per query: at most :data:`MAX_QUERY_CHARS` characters of padding and
  repetition.

Messages name the function and the cap, never the literal values of the query.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable

from sqlglot import exp

from cohort_engine.sql_guard.errors import GuardError, Rule

#: Elements of one ``range`` / ``generate_series`` (rows in FROM or under unnest, items of a list).
MAX_SERIES_LENGTH = 1_000_000
#: Times one ``repeat`` / ``space`` may repeat its string.
MAX_REPEAT_COUNT = 1_000
#: Characters one ``repeat`` (of a string of known length), ``lpad``/``rpad`` or ``format`` width may make.
MAX_STRING_CHARS = 10_000
#: Characters all padding, repetition and format widths of one query may make together.
MAX_QUERY_CHARS = 100_000

_SERIES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, n)
    for n in ("GenerateSeries", "ExplodingGenerateSeries", "GenerateDateArray", "GenerateTimestampArray")
    if isinstance(getattr(exp, n, None), type)
)
_NUMERIC_OPS: dict[type[exp.Expr], Callable[[float, float], float]] = {
    exp.Add: operator.add,
    exp.Sub: operator.sub,
    exp.Mul: operator.mul,
    exp.Div: operator.truediv,
    exp.IntDiv: operator.floordiv,
    exp.Mod: math.fmod,
}
_UNIT_SECONDS: dict[str, float] = {
    "MICROSECOND": 1e-6,
    "MILLISECOND": 1e-3,
    "SECOND": 1,
    "MINUTE": 60,
    "HOUR": 3600,
    "DAY": 86_400,
    "WEEK": 7 * 86_400,
    "MONTH": 28 * 86_400,  # the shortest month: the largest possible count
    "QUARTER": 89 * 86_400,
    "YEAR": 365 * 86_400,
}
# a replacement field of a fmt-style format string, and the numbers (width, precision) of its spec
_FIELD = re.compile(r"\{([^{}]*)\}")
_NUMBER = re.compile(r"\d+")


def check_expansion(tree: exp.Expr) -> None:
    """Raise ``GuardError(expansion_limit)`` for any expansion above its cap (see module docstring)."""
    total = 0
    for node in tree.walk():
        if isinstance(node, _SERIES):
            _check_series(node)
        elif isinstance(node, exp.Repeat):
            total += _repeat_chars(node)
        elif isinstance(node, exp.Space):
            total += _count(node.this, "space", "count", MAX_STRING_CHARS)
        elif isinstance(node, exp.Pad):
            name = "lpad" if node.args.get("is_left") else "rpad"
            total += _count(node.expression, name, "width", MAX_STRING_CHARS)
        elif isinstance(node, exp.Format):
            total += _format_chars(node)
        if total > MAX_QUERY_CHARS:
            raise _refuse(
                "padding",
                f"padding, repeat and format widths of one query may make at most {MAX_QUERY_CHARS:,} "
                "characters together",
            )


def _refuse(name: str, message: str) -> GuardError:
    return GuardError(Rule.EXPANSION_LIMIT, f"{message}; ask for smaller values", name)


def constant(node: exp.Expr | None) -> float | None:
    """The value of a constant numeric expression (literals, arithmetic, casts), else None."""
    if node is None:
        return None
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return None
        try:
            return float(node.this)
        except ValueError:
            return None
    if isinstance(node, exp.Neg):
        v = constant(node.this)
        return None if v is None else -v
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return constant(node.this) if node.to.is_type(*exp.DataType.NUMERIC_TYPES) else None
    if isinstance(node, exp.Pow):
        base, power = constant(node.this), constant(node.expression)
        if base is None or power is None:
            return None
        try:
            return float(base**power)
        except (OverflowError, ZeroDivisionError):
            return math.inf
        except TypeError:  # a complex result
            return None
    op = _NUMERIC_OPS.get(type(node))
    if op is not None and isinstance(node, exp.Binary):
        a, b = constant(node.left), constant(node.right)
        if a is None or b is None:
            return None
        try:
            return float(op(a, b))
        except (ZeroDivisionError, OverflowError, ValueError):
            return math.inf
    return None


def _upper_bound(node: exp.Expr | None) -> float | None:
    """A constant, or ``LEAST(…)`` with at least one constant argument: an upper bound, else None."""
    if isinstance(node, exp.Paren):
        return _upper_bound(node.this)
    if isinstance(node, exp.Least):
        bounds = [b for b in (_upper_bound(a) for a in [node.this, *node.expressions]) if b is not None]
        return min(bounds) if bounds else None
    return constant(node)


def _count(node: exp.Expr | None, name: str, what: str, cap: int) -> int:
    bound = _upper_bound(node)
    if bound is None:
        raise _refuse(
            name,
            f"{name}() needs a constant {what} (a number, or LEAST(expression, number)) of at most {cap:,}",
        )
    if not bound <= cap:  # also NaN
        raise _refuse(name, f"{name}() {what} above the limit of {cap:,}")
    return max(0, int(bound))


def _max_chars(node: exp.Expr | None) -> int | None:
    """Most characters a string expression can have, where the query text alone says so."""
    if isinstance(node, exp.Paren):
        return _max_chars(node.this)
    if isinstance(node, exp.Literal) and node.is_string:
        return len(node.this)
    if isinstance(node, exp.Pad):
        bound = _upper_bound(node.expression)
        return None if bound is None else max(0, int(min(bound, MAX_STRING_CHARS + 1)))
    if isinstance(node, exp.Repeat):
        inner, times = _max_chars(node.this), _upper_bound(node.args.get("times"))
        return None if inner is None or times is None else inner * max(0, int(min(times, 1e9)))
    if isinstance(node, (exp.Concat, exp.DPipe)):
        parts = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
        lengths = [_max_chars(p) for p in parts]
        return None if any(n is None for n in lengths) else sum(n or 0 for n in lengths)
    return None


def _repeat_chars(node: exp.Repeat) -> int:
    count = _count(node.args.get("times"), "repeat", "count", MAX_REPEAT_COUNT)
    length = _max_chars(node.this)
    if length is None:
        if any(isinstance(n, (exp.Repeat, exp.Pad, exp.Space, exp.Format)) for n in node.this.walk()):
            raise _refuse("repeat", "repeat() of a string built by repeat, lpad, rpad or format")
        return count
    if length * count > MAX_STRING_CHARS:
        raise _refuse("repeat", f"repeat() would make more than {MAX_STRING_CHARS:,} characters")
    return length * count


def _format_chars(node: exp.Format) -> int:
    pattern = node.this
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise _refuse("format", "format() needs a literal format string")
    total = 0
    text = str(pattern.this).replace("{{", "").replace("}}", "")
    if "{" in _FIELD.sub("", text):  # a field inside a field: a width taken from an argument
        raise _refuse("format", "format() widths must be written in the format string, not passed in")
    for spec in _FIELD.findall(text):
        _, _, fmt = spec.partition(":")
        for number in _NUMBER.findall(fmt):
            if len(number) > 6 or int(number) > MAX_STRING_CHARS:
                raise _refuse(
                    "format", f"format() width or precision above the limit of {MAX_STRING_CHARS:,}"
                )
            total += int(number)
    return total


def _check_series(node: exp.Expr) -> None:
    name = "range" if node.args.get("is_end_exclusive") else "generate_series"
    start, end, step = node.args.get("start"), node.args.get("end"), node.args.get("step")
    length = _numeric_length(start, end, step)
    if length is None:
        length = _temporal_length(start, end, step)
    if length is not None and node.args.get("is_end_exclusive"):
        length -= 1
    if length is None:
        raise _refuse(
            name,
            f"{name}() needs constant arguments (numbers, or date/timestamp literals with a constant "
            f"INTERVAL step) making at most {MAX_SERIES_LENGTH:,} values",
        )
    if not length <= MAX_SERIES_LENGTH:
        raise _refuse(name, f"{name}() would make more than {MAX_SERIES_LENGTH:,} values")


def _numeric_length(start: exp.Expr | None, end: exp.Expr | None, step: exp.Expr | None) -> float | None:
    a, b = constant(start), constant(end)
    s = constant(step) if step is not None else 1.0
    if a is None or b is None or s is None:
        return None
    if s == 0 or math.isnan(a) or math.isnan(b) or math.isnan(s):
        return 0.0 if a == b else math.inf
    return max(0.0, (b - a) / s) + 1


def _temporal(node: exp.Expr | None) -> dt.datetime | None:
    if not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string):
        return None
    if not node.to.is_type(*exp.DataType.TEMPORAL_TYPES):
        return None
    try:
        return dt.datetime.fromisoformat(str(node.this.this).strip())
    except ValueError:
        return None


def _temporal_length(start: exp.Expr | None, end: exp.Expr | None, step: exp.Expr | None) -> float | None:
    a, b = _temporal(start), _temporal(end)
    if a is None or b is None or not isinstance(step, exp.Interval):
        return None
    text = str(step.this.this).strip() if isinstance(step.this, exp.Literal) else ""
    if step.unit is None:  # INTERVAL '1 day'
        text, _, unit_text = text.partition(" ")
    else:
        unit_text = step.unit.name
    amount = constant(step.this) if not isinstance(step.this, exp.Literal) else _number(text)
    unit = unit_text.strip().upper().removesuffix("S")
    seconds = _UNIT_SECONDS.get(unit)
    if amount is None or seconds is None:
        return None
    span = abs((b.replace(tzinfo=None) - a.replace(tzinfo=None)).total_seconds())
    if amount == 0:
        return 0.0 if span == 0 else math.inf
    return span / (abs(amount) * seconds) + 1


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
