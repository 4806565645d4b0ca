"""The base of every record: a pydantic model that one stage writes as JSON and the next reads back.

A record's producer builds it, `to_json` writes it, and its consumer gets it back with `from_json` and
reads attributes. A field's name is spelled once, in its record; a file that does not match its record
(a missing or unknown field, a value of the wrong type) fails on reading with one line naming the
field and the file, not with a KeyError three stages later.

Floats that are not finite are written as null (standard JSON) and read back as NaN where the field is
a `Float`; an `Optional` field's null stays None ("does not apply").
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, ValidationError

R = TypeVar("R", bound="Record")


class RecordError(ValueError):
    """A JSON file that does not match the record it should hold."""


def _number(v: Any) -> float:
    """A `Float` field's value. null is NaN. An int stays an int, so that a value is written back as it
    came (a log row's step as 10, not 10.0: the files written before these were pydantic models hold
    such ints, and a record must write the same bytes). Other numbers (numpy's too) become floats."""
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    return int(v) if isinstance(v, numbers.Integral) else float(v)


def _json_number(v: Any) -> Any:
    """A `Float` in JSON: NaN and inf as null (standard JSON has neither), an int as it is."""
    if v is None or isinstance(v, numbers.Integral):  # None: assigned after construction, unvalidated
        return None if v is None else int(v)
    v = float(v)
    return v if math.isfinite(v) else None


# A float field of a record. Not plain `float`: pydantic's float turns an int into a float and writes
# NaN as NaN (not JSON), where a record keeps the int and writes null, and reads null back as NaN.
Float = Annotated[float, PlainValidator(_number), PlainSerializer(_json_number, when_used="json")]


def finite_or_none(v: Optional[float]) -> Optional[float]:
    return v if v is not None and math.isfinite(v) else None


def _location(loc: tuple) -> str:
    """A pydantic error location as a path: ('trajectory', 0, 'w1') -> 'trajectory[0].w1'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _one_line(e: ValidationError, where: str, name: str) -> str:
    """Every mismatch of a file with record `name`, in one line that names the fields and the file."""
    unknown = [_location(x["loc"]) for x in e.errors() if x["type"] == "extra_forbidden"]
    missing = [_location(x["loc"]) for x in e.errors() if x["type"] == "missing"]
    other = [f"{_location(x['loc']) or '(the whole record)'}: {x['msg']}" for x in e.errors()
             if x["type"] not in ("extra_forbidden", "missing")]
    parts = ([f"unknown field(s) {unknown} for {name}"] if unknown else []) \
        + ([f"{name} lacks field(s) {missing}"] if missing else []) + other
    return f"{where}: " + "; ".join(parts)


class Record(BaseModel):
    """Base of every record: JSON in and out, strict about field names.

    extra="forbid": an unknown field is an error, on reading and on building alike. Assignment is not
    validated: producers fill a record in step by step (pipeline/evaluation/evaluate.py)."""

    model_config = ConfigDict(extra="forbid")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Fields by position too, in their declared order: the records were dataclasses, and their
        producers and tests build them so."""
        names = list(type(self).model_fields)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} fields, {len(args)} given by position")
        for name, v in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got two values for field {name!r}")
            kwargs[name] = v
        super().__init__(**kwargs)

    def to_json(self) -> dict:
        """A JSON-ready dict in field order: records nested, NaN/inf as None, tuples as lists."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls: type[R], d: dict, source: str = "") -> R:
        try:
            return cls.model_validate(d)
        except ValidationError as e:
            raise RecordError(_one_line(e, source or cls.__name__, cls.__name__)) from None

    def write(self, path: Path) -> None:
        from pipeline.io import write_json

        write_json(Path(path), self.to_json())

    @classmethod
    def read(cls: type[R], path: Path) -> R:
        from pipeline.io import read_json

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing (run `dvc repro` for the stage that writes it)")
        return cls.from_json(read_json(path), str(path))
