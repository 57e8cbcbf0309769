"""The rule files' small declarative match language: one condition on one fact.

A condition is a table with ``fact`` and exactly one operator:

* ``equals`` / ``not_equals``: any value; ``in`` / ``not_in``: a list of values;
* ``ge`` / ``gt`` / ``le`` / ``lt``: numbers;
* ``version_ge`` / ``version_lt``: versions compared with ``packaging.version``;
* ``matches``: a regular expression searched in a string, or in any element of a list;
* ``contains`` / ``lacks``: a value that a list holds, or does not hold;
* ``any_of`` / ``none_of``: a list of values of which a list holds at least one, or none;
* ``has_key`` / ``lacks_key``: a key of a map (``host.events``, ``modules.versions``);
* ``version_of``: ``{module = "netkvm.sys", lt = "100.85.104.20800"}`` on ``modules.versions``
  (``lt``/``ge`` compare the file version's four numbers; ``build_lt``/``build_ge`` its
  last number alone: virtio-win's build, ISO 0.1.<build/100>); ``module`` may be a list,
  and then one loaded module of the list that satisfies the bounds is enough;
* ``exists``: true when the fact is known (the one operator that is decided when it is not).

``evaluate`` answers True, False, or None when the fact is unknown.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

OPERATORS = ("equals", "not_equals", "in", "not_in", "ge", "gt", "le", "lt", "version_ge",
             "version_lt", "matches", "contains", "lacks", "any_of", "none_of", "has_key",
             "lacks_key", "version_of", "exists")


def operator_of(condition: dict[str, Any]) -> str:
    """The condition's one operator (KeyError/ValueError when it has none or several)."""
    found = [key for key in condition if key in OPERATORS]
    if len(found) != 1:
        raise ValueError(f"a condition needs exactly one operator, found {found or 'none'}")
    return found[0]


def evaluate(condition: dict[str, Any], value: Any) -> bool | None:
    """``value`` is the fact's value, or None when the fact is unknown."""
    op = operator_of(condition)
    if op == "exists":
        return (value is not None) == bool(condition["exists"])
    if value is None:
        return None
    return bool(_OPS[op](value, condition[op]))


def describe(condition: dict[str, Any]) -> str:
    """The condition in words: ``host.hyperv.relaxed equals false``."""
    op = operator_of(condition)
    wanted = condition[op]
    hexadecimal = str(condition["fact"]).startswith("bugcheck.")
    text = str(wanted).lower() if isinstance(wanted, bool) else _show(wanted, hexadecimal)
    return f"{condition['fact']} {op.replace('_', ' ')} {text}"


def _show(value: Any, hexadecimal: bool) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and hexadecimal:
        return f"{value:#x}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v, hexadecimal) for v in value) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_show(v, hexadecimal)}" for k, v in value.items())
    return str(value)


def _version(text: Any) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(str(text))
    except InvalidVersion:
        # Distribution suffixes ("2.5.0 (Debian 1:2.5+dfsg-5ubuntu10)", "8.2.2-1ubuntu1"):
        # the leading dotted numbers are the upstream version.
        found = re.match(r"\d+(\.\d+)*", str(text))
        return Version(found.group(0)) if found else Version("0")


def _file_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:4])


def _version_of(versions: Any, spec: dict[str, Any]) -> bool:
    names = spec["module"] if isinstance(spec["module"], list) else [spec["module"]]
    return any(_one_version_of(versions, str(name), spec) for name in names)


def _one_version_of(versions: Any, module: str, spec: dict[str, Any]) -> bool:
    have = versions.get(module.lower()) if isinstance(versions, dict) else None
    if have is None:
        return False
    mine = _file_version(have)
    if not mine:
        return False
    results = []
    if "lt" in spec:
        results.append(mine < _file_version(spec["lt"]))
    if "ge" in spec:
        results.append(mine >= _file_version(spec["ge"]))
    if "build_lt" in spec:
        results.append(mine[-1] < int(spec["build_lt"]))
    if "build_ge" in spec:
        results.append(mine[-1] >= int(spec["build_ge"]))
    return all(results)


def _matches(value: Any, pattern: str) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(re.search(pattern, str(item), re.IGNORECASE) for item in items)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set | dict) else [value]


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, w: v == w,
    "not_equals": lambda v, w: v != w,
    "in": lambda v, w: v in w,
    "not_in": lambda v, w: v not in w,
    "ge": lambda v, w: v >= w,
    "gt": lambda v, w: v > w,
    "le": lambda v, w: v <= w,
    "lt": lambda v, w: v < w,
    "version_ge": lambda v, w: _version(v) >= _version(w),
    "version_lt": lambda v, w: _version(v) < _version(w),
    "matches": _matches,
    "contains": lambda v, w: w in _as_list(v),
    "lacks": lambda v, w: w not in _as_list(v),
    "any_of": lambda v, w: any(x in _as_list(v) for x in w),
    "none_of": lambda v, w: not any(x in _as_list(v) for x in w),
    "has_key": lambda v, w: isinstance(v, dict) and w in v,
    "lacks_key": lambda v, w: isinstance(v, dict) and w not in v,
    "version_of": _version_of,
}
