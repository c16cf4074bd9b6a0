"""Typed, validated parameters for tasks and architecture options."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from longdep_bench.system.errors import BenchError

_TYPES = (int, float, str, bool)


@dataclass(frozen=True)
class Param:
    """One named parameter with a type, a default and the range of values it accepts."""

    name: str
    type: type[Any]
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    above: float | None = None  # an exclusive lower bound: values must be greater
    runtime: bool = False  # how, not what (an implementation choice): not part of a run's id, like the device
    since: str | None = None  # the release that added it, if after the first: left out of run ids at its default

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise TypeError(f"Param {self.name!r}: type must be one of int, float, str, bool")
        self.validate(self.default)

    def accepted(self) -> str:
        """Describe the accepted values in a few words, for error messages and listings."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        kind = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}[self.type]
        low = f"({self.above:g}" if self.above is not None else f"[{self.min:g}" if self.min is not None else None
        if low is not None and self.max is not None:
            return f"{kind} in {low}, {self.max:g}]"
        if self.above is not None:
            return f"{kind} > {self.above:g}"
        if self.min is not None:
            return f"{kind} >= {self.min:g}"
        if self.max is not None:
            return f"{kind} <= {self.max:g}"
        return kind

    def parse(self, text: str) -> Any:
        """Convert a command-line string to a validated value."""
        try:
            if self.type is bool:
                lowered = text.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                value: Any = lowered in ("true", "1", "yes")
            elif self.type is int:
                value = int(text)
            else:
                value = self.type(text)
        except (ValueError, OverflowError):
            raise BenchError(f"parameter {self.name}={text!r:.40}: expected {self.accepted()}") from None
        return self.validate(value)

    def validate(self, value: Any) -> Any:
        """Check a value's type and range; return it (ints are accepted where floats are; a float must
        be finite: NaN and infinities are refused, whatever the range)."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                raise BenchError(f"parameter {self.name}={value!r:.40}: expected {self.accepted()}") from None
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)) or (
                self.type is float and not math.isfinite(value)):
            raise BenchError(f"parameter {self.name}={value!r:.40}: expected {self.accepted()}")
        if self.choices and value not in self.choices:
            raise BenchError(f"parameter {self.name}={value!r}: expected {self.accepted()}")
        too_low = (self.min is not None and value < self.min) or (self.above is not None and value <= self.above)
        too_high = self.max is not None and value > self.max
        if too_low or too_high:
            raise BenchError(f"parameter {self.name}={value!r}: expected {self.accepted()}")
        return value


def suggest(name: str, known: Sequence[str]) -> str:
    """A ' (did you mean X?)' suffix naming the closest known name, or ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def resolve_params(
    params: Sequence[Param], given: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Merge given values (strings are parsed) with defaults; reject unknown names."""
    by_name = {p.name: p for p in params}
    resolved = {p.name: p.default for p in params}
    for name, value in given.items():
        if name not in by_name:
            known = ", ".join(by_name) or "none"
            raise BenchError(
                f"{owner} has no parameter {name!r}{suggest(name, list(by_name))}; known: {known}"
            )
        param = by_name[name]
        from_text = isinstance(value, str) and param.type is not str
        try:
            resolved[name] = param.parse(value) if from_text else param.validate(value)
        except BenchError as exc:
            raise BenchError(f"{owner}: {exc}") from None
    return resolved


def with_defaults(params: Sequence[Param], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value: the given ones, the others at their defaults (records leave out
    parameters added later at their default: see :func:`recorded`)."""
    return {**{p.name: p.default for p in params}, **given}


def recorded(params: Sequence[Param], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values as run configurations and records hold them: a parameter added after the first
    release (``since``) is left out at its default, so that runs recorded before it existed keep
    their ids and share rows with runs that leave it at its default."""
    late = {p.name: p.default for p in params if p.since}
    return {k: v for k, v in values.items() if not (k in late and v == late[k])}


def parse_assignments(items: Sequence[str]) -> dict[str, str]:
    """Parse NAME=VALUE strings into a dict (values stay strings); a name given twice with two values is
    an error (one of them would be dropped)."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BenchError(f"expected NAME=VALUE, got {item!r}")
        name, value = name.strip(), value.strip()
        if result.get(name, value) != value:
            raise BenchError(f"{name} is given twice, as {result[name]!r} and {value!r}: give it once")
        result[name] = value
    return result
