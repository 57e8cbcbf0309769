"""model.record: the frozen value type every report class is built on."""

from __future__ import annotations

import pickle

import pytest

from dumptriage.model.dump import Frame, Module
from dumptriage.model.record import Record, fields, replace


class Point(Record):
    x: int
    y: int = 0
    label: str | None = None

    @property
    def total(self) -> int:
        return self.x + self.y


def test_fields_defaults_and_positional_or_keyword_construction() -> None:
    assert fields(Point) == ("x", "y", "label")
    assert Point(1) == Point(x=1, y=0, label=None)
    assert Point(1, 2, label="a").total == 3
    assert repr(Point(1, 2)) == "Point(x=1, y=2, label=None)"


def test_frozen_equal_hashable_and_replace() -> None:
    p = Point(1, 2)
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del p.y
    assert p == Point(1, 2) and p != Point(2, 1) and hash(p) == hash(Point(1, 2))
    assert p.__eq__((1, 2, None)) is NotImplemented  # never equal to a plain tuple
    moved = replace(p, y=7)
    assert moved == Point(1, 7) and p.y == 2


def test_bad_construction_is_refused() -> None:
    with pytest.raises(TypeError, match="missing field 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected field 'z'"):
        Point(1, z=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="repeated field 'x'"):
        Point(1, x=2)  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 3 fields"):
        Point(1, 2, "a", 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="has no field 'z'"):
        replace(Point(1), z=1)
    with pytest.raises(TypeError, match="without a default follows"):
        class Bad(Record):
            a: int = 1
            b: int  # type: ignore[misc]


def test_subclass_fields_follow_the_base_fields() -> None:
    class Labelled(Point):
        colour: str = "red"

    assert fields(Labelled) == ("x", "y", "label", "colour")
    assert Labelled(1).colour == "red" and Labelled(1) != Point(1)


def test_report_records_pickle_and_keep_their_values() -> None:
    # Batch workers send reports between processes: records must pickle.
    module = Module("nt", 0x1000, 0x2000, None, None, None, module_class="inbox")
    frame = Frame(0x1010, 0x7000, "nt", 0x10, "nt+0x10", "context")
    for value in (module, frame):
        assert pickle.loads(pickle.dumps(value)) == value
    assert module.contains(0x1FFF) and not module.contains(0x3000)
