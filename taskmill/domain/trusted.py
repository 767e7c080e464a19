"""Building pydantic models from values that were already validated, at the cost of a dict.

`model_construct` skips validation but still walks every field in Python (~40 us for a task
record); rows read back from our own view and events rebuilt from validated specs need none of
that. Given exactly the model's fields, this sets them directly; otherwise it falls back.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


_FIELD_COUNTS: dict[type[BaseModel], int] = {}


def construct_trusted(cls: type[M], values: dict[str, Any]) -> M:
    count = _FIELD_COUNTS.get(cls)
    if count is None:  # `model_fields` is a slow property in pydantic 2.11+: read it once
        count = _FIELD_COUNTS[cls] = len(cls.model_fields)
    if len(values) != count:
        return cls.model_construct(**values)
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", set(values))
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model
