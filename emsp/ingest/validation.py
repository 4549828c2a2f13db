"""Validating pushed and pulled objects with the `ocpi` models, and merging PATCH bodies."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from emsp.errors import describe_validation_errors
from ocpi.errors import InvalidParameters

M = TypeVar("M", bound=BaseModel)


def validation_message(exc: ValidationError) -> str:
    """A short `status_message`: where and what, never the input echoed back."""
    return describe_validation_errors(list(exc.errors(include_input=False)))


def validate(model: type[M], data: Any) -> M:
    """`data` as `model`, or `InvalidParameters` (2001) saying what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameters(validation_message(exc)) from None


def validate_patch(model: type[M], data: Any) -> M:
    """A PATCH body: like `validate`, and `last_updated` is required (8.2.2.3, 9.2.2.3)."""
    if not isinstance(data, dict):
        raise InvalidParameters("A PATCH body must be a JSON object")
    value = validate(model, data)
    if getattr(value, "last_updated", None) is None:
        raise InvalidParameters("last_updated is required in a PATCH")
    return value


def patch_changes(patch: BaseModel) -> dict[str, Any]:
    """The fields a PATCH body set, as JSON (an explicit null included: it clears an optional field)."""
    return patch.model_dump(mode="json", exclude_unset=True)


def merge_patch(stored: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`stored` with the top-level fields of `changes` replaced (a nested object or list given in a PATCH
    is complete and replaces the stored one); a null removes the field."""
    merged = dict(stored)
    for name, value in changes.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged
