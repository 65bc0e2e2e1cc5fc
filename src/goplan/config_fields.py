"""How a setting is declared and checked (goplan/config.py declares them).

`setting(default, doc, *rules)` is a dataclass field carrying its one-line doc and the rules its value
must obey. A rule is a function of the value that returns what the value must be ("must be positive")
when the value breaks it, else None. Errors are one line: "batch_size must be positive, got 0".
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable

from goplan.errors import ConfigError

Rule = Callable[[Any], "str | None"]
TYPES = {"int": int, "float": float, "bool": bool, "str": str}  # field annotations (strings: postponed)


def setting(default: Any, doc: str, *rules: Rule) -> Any:
    """A dataclass field with a default, a one-line doc and the rules its value must obey."""
    return dataclasses.field(default=default, metadata={"doc": doc, "rules": rules})


def doc_of(f: dataclasses.Field) -> str:
    return f.metadata.get("doc", "")


def positive(value) -> str | None:
    return None if value > 0 else "must be positive"


def non_negative(value) -> str | None:
    return None if value >= 0 else "must be >= 0"


def at_least(low: int) -> Rule:
    return lambda value: None if value >= low else f"must be >= {low}"


def interval(low: float, high: float, shown: str) -> Rule:
    """Within `shown`, an interval such as "[0, 1)"; its brackets say which ends belong to it."""
    def rule(value) -> str | None:
        above = value >= low if shown[0] == "[" else value > low
        below = value <= high if shown[-1] == "]" else value < high
        return None if above and below else f"must be in {shown}"
    return rule


def one_of(*choices: str) -> Rule:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def either(first: str, second: str) -> Rule:
    return lambda value: None if value in (first, second) else f"must be '{first}' or '{second}'"


def check_field(f: dataclasses.Field, value: Any, types: bool = True, rules: bool = True) -> Any:
    """The value, made the field's type (an integral number where a float is wanted becomes a float),
    after its type (`types`) and its rules (`rules`) were checked; ConfigError otherwise."""
    kind = TYPES.get(str(f.type), object)
    if types:
        if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        elif kind is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"{f.name} must be of type {kind.__name__}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name} must be a finite number, got {value}")
    if rules:
        for rule in f.metadata.get("rules", ()):
            broken = rule(value)
            if broken:
                raise ConfigError(f"{f.name} {broken}, got {value!r}")
    return value


def parse_text(name: str, type_name: str, raw: str) -> Any:
    """The value of `name=raw` typed by the field's annotation ("int", "float", "bool" or "str")."""
    try:
        if type_name == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_name == "int":
            value = float(raw)
            if not math.isfinite(value) or value != int(value):
                raise ValueError(raw)
            return int(value)
        if type_name == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
    except (ValueError, OverflowError):
        raise ConfigError(f"setting {name}={raw!r} is not a valid {type_name}") from None
    return raw
