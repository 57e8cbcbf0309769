"""Frozen records: value types declared like frozen dataclasses, at no import cost.

Why not ``dataclasses``: on this project's machines (CPython 3.11 without PGO) importing
``dataclasses`` costs 12-17 ms and every ``@dataclass(frozen=True)`` another 1.3-1.5 ms
(it compiles six generated methods), so the ~40 classes on the ``analyze`` path cost more
than the analysis itself (bench/results.md, "start-up"). A ``Record`` subclass reads its
fields from its annotations once, at class creation, without compiling anything.

What a record offers: keyword or positional construction with defaults, immutability,
``==``/``hash`` over the fields in order, a dataclass-style ``repr``, pickling, and
``replace(record, **changes)``. mypy sees them as frozen dataclasses
(``dataclass_transform``). Mutable defaults are not supported: use a tuple or None.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy: always_true (pyproject.toml); avoids importing typing
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from typing_extensions import dataclass_transform

    R = TypeVar("R", bound="Record")
else:
    def dataclass_transform(**_: object) -> object:
        return lambda cls: cls

_MISSING = object()


@dataclass_transform(frozen_default=True)
class Record:
    """Base of the frozen value types. Subclasses declare annotated fields."""

    __slots__ = ("__dict__",)
    _fields: tuple[str, ...] = ()
    _defaults: dict[str, object] = {}  # noqa: RUF012 - a per-class table, never mutated
    _field_set: frozenset[str] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The class's own annotations (strings: `from __future__ import annotations`);
        # inspect.get_annotations would import inspect, the cost this module avoids.
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        own = [name for name, kind in annotations.items()
               if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]
        fields = tuple(f for f in cls._fields if f not in own) + tuple(own)
        defaults = dict(cls._defaults)
        for name in own:
            value = cls.__dict__.get(name, _MISSING)
            if value is not _MISSING:
                defaults[name] = value
        first_default = min((fields.index(d) for d in defaults), default=len(fields))
        if any(f not in defaults for f in fields[first_default:]):
            raise TypeError(f"{cls.__name__}: a field without a default follows one with")
        cls._fields, cls._defaults = fields, defaults
        cls._field_set = frozenset(fields)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Hot: a dump builds thousands of records (sections, modules, frames), so the common
        # case (every field given, by keyword or by position) costs one dict build.
        fields = self._fields
        if args:
            if len(args) > len(fields):
                raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, "
                                f"{len(args)} given")
            values = dict(zip(fields, args, strict=False))
            for name in kwargs:
                if name in values:
                    raise TypeError(f"{type(self).__name__}: repeated field {name!r}")
            values.update(kwargs)
        else:
            values = kwargs
        if len(values) != len(fields) or not values.keys() <= self._field_set:
            values = self._complete(values)
        object.__setattr__(self, "__dict__", values)

    def _complete(self, values: dict[str, Any]) -> dict[str, Any]:
        """Defaults for the fields not given; an error for a field that does not exist."""
        for name in values:
            if name not in self._field_set:
                raise TypeError(f"{type(self).__name__}: unexpected field {name!r}")
        for name in self._fields:
            if name not in values:
                default = self._defaults.get(name, _MISSING)
                if default is _MISSING:
                    raise TypeError(f"{type(self).__name__}: missing field {name!r}")
                values[name] = default
        return values

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: cannot delete {name!r}")

    def _values(self) -> tuple[object, ...]:
        return tuple(self.__dict__[f] for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((self.__class__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={self.__dict__[f]!r}" for f in self._fields)
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, self._values())


def replace(record: R, **changes: Any) -> R:
    """A copy of ``record`` with some fields changed (like ``dataclasses.replace``)."""
    values = dict(record.__dict__)
    for name in changes:
        if name not in values:
            raise TypeError(f"{type(record).__name__} has no field {name!r}")
    values.update(changes)
    return type(record)(**values)


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The field names, in declaration order (bases first)."""
    return record._fields
