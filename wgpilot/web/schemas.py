"""Declarative request/response schemas. One declaration both validates what arrives
(type, range, unknown fields, each failure naming the field) and renders the
OpenAPI 3.1 / JSON Schema document, so the two can never drift apart.

Only the shapes of JSON are checked here; meaning (is this CIDR free, does that
network exist) is the services' job, and they name fields the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wgpilot.domain.errors import FieldError, ValidationError
from wgpilot.domain.validate import ascii_int

INT64_MAX = 2**63 - 1

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "number": (int, float),
    "array": list,
    "object": dict,
}


@dataclass(frozen=True)
class F:
    """One field of an object schema."""

    type: str
    required: bool = False
    nullable: bool = False
    description: str = ""
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    items: F | None = None
    max_items: int | None = None
    ref: str | None = None  # a named schema (responses)
    format: str | None = None
    write_only: bool = False
    default: Any = None  # what the server takes when the field is left out (documentation only)

    def json_schema(self) -> dict[str, Any]:
        if self.ref is not None:
            s: dict[str, Any] = {"$ref": f"#/components/schemas/{self.ref}"}
            return {"anyOf": [s, {"type": "null"}]} if self.nullable else s
        s = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.description:
            s["description"] = self.description
        if self.enum is not None:
            s["enum"] = [*self.enum, None] if self.nullable else list(self.enum)
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        elif self.type == "integer":
            s["maximum"] = INT64_MAX
        if self.type == "integer" and self.minimum is None:
            s["minimum"] = -INT64_MAX
        if self.min_length is not None:
            s["minLength"] = self.min_length
        if self.max_length is not None:
            s["maxLength"] = self.max_length
        if self.items is not None:
            s["items"] = self.items.json_schema()
        if self.max_items is not None:
            s["maxItems"] = self.max_items
        if self.format:
            s["format"] = self.format
        if self.write_only:
            s["writeOnly"] = True
        if self.default is not None:
            s["default"] = self.default
        return s

    def check(self, value: Any, path: str, errors: list[FieldError]) -> None:
        if value is None:
            if not self.nullable:
                errors.append(FieldError(path, "must not be null"))
            return
        expected = _JSON_TYPES[self.type]
        if isinstance(value, bool) and self.type in ("integer", "number"):
            errors.append(FieldError(path, f"must be {'an' if self.type == 'integer' else 'a'} {self.type}"))
            return
        if not isinstance(value, expected):  # type: ignore[arg-type]
            article = "an" if self.type[0] in "aeiou" else "a"
            errors.append(FieldError(path, f"must be {article} {self.type}"))
            return
        if self.type in ("integer", "number"):
            low = self.minimum if self.minimum is not None else -INT64_MAX
            high = self.maximum if self.maximum is not None else INT64_MAX
            if not low <= value <= high:
                errors.append(FieldError(path, f"must be between {low} and {high}"))
        if self.type == "string":
            if not value.isascii() and not _is_utf8(value):
                # JSON's \ud800 escapes decode to text no file, key or log line can hold.
                errors.append(FieldError(path, "must be text (it holds an unpaired UTF-16 surrogate)"))
                return
            if self.max_length is not None and len(value) > self.max_length:
                errors.append(FieldError(path, f"must be at most {self.max_length} characters"))
            if self.min_length is not None and len(value) < self.min_length:
                errors.append(FieldError(path, f"must be at least {self.min_length} characters"))
            if self.enum is not None and value not in self.enum:
                errors.append(FieldError(path, f"must be one of {', '.join(self.enum)}"))
        if self.type == "array":
            if self.max_items is not None and len(value) > self.max_items:
                errors.append(FieldError(path, f"must have at most {self.max_items} items"))
                return
            if self.items is not None:
                for i, item in enumerate(value):
                    self.items.check(item, f"{path}[{i}]", errors)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def string(**kw: Any) -> F:
    kw.setdefault("max_length", 256)
    return F("string", **kw)


def integer(**kw: Any) -> F:
    return F("integer", **kw)


def boolean(**kw: Any) -> F:
    return F("boolean", **kw)


def strings(**kw: Any) -> F:
    kw.setdefault("max_items", 64)
    return F("array", items=F("string", max_length=256), **kw)


def obj(ref: str, **kw: Any) -> F:
    return F("object", ref=ref, **kw)


def array_of(ref: str, **kw: Any) -> F:
    return F("array", items=F("object", ref=ref), **kw)


@dataclass(frozen=True)
class Schema:
    """A named JSON object schema. ``parse`` is strict: unknown fields are errors."""

    name: str
    fields: Mapping[str, F]
    description: str = ""
    additional: bool = False  # free-form objects (e.g. audit detail)

    def parse(self, data: Any, *, partial: bool = False) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValidationError.field("body", "must be a JSON object", code="INVALID_BODY")
        errors: list[FieldError] = []
        for key in data:
            if key not in self.fields and not self.additional:
                errors.append(FieldError(str(key)[:64], "unknown field"))
        for key, spec in self.fields.items():
            if key in data:
                spec.check(data[key], key, errors)
            elif spec.required and not partial:
                errors.append(FieldError(key, "is required"))
        if errors:
            raise ValidationError.many(errors)
        return {k: v for k, v in data.items() if k in self.fields}

    def json_schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "type": "object",
            "properties": {k: v.json_schema() for k, v in self.fields.items()},
            "additionalProperties": self.additional,
        }
        required = [k for k, v in self.fields.items() if v.required]
        if required:
            s["required"] = required
        if self.description:
            s["description"] = self.description
        return s


@dataclass(frozen=True)
class Query:
    """Query-string parameters: strings from the URL, coerced and range-checked."""

    fields: Mapping[str, F] = field(default_factory=dict)

    def parse(self, params: Mapping[str, str]) -> dict[str, Any]:
        errors: list[FieldError] = []
        out: dict[str, Any] = {}
        for key in params:
            if key not in self.fields:
                errors.append(FieldError(str(key)[:64], "unknown query parameter"))
        for key, spec in self.fields.items():
            raw = params.get(key)
            if raw is None:
                if spec.required:
                    errors.append(FieldError(key, "is required"))
                continue
            value: Any = raw
            if spec.type == "integer":
                number = ascii_int(raw.strip(), signed=True, max_digits=19)
                if number is None:
                    errors.append(FieldError(key, "must be an integer (digits 0-9)"))
                    continue
                value = number
            elif spec.type == "boolean":
                if raw not in ("true", "false"):
                    errors.append(FieldError(key, "must be true or false"))
                    continue
                value = raw == "true"
            before = len(errors)
            spec.check(value, key, errors)
            if len(errors) == before:
                out[key] = value
        if errors:
            raise ValidationError.many(errors)
        return out

    def parameters(self) -> list[dict[str, Any]]:
        return [
            {
                "name": k,
                "in": "query",
                "required": v.required,
                "schema": v.json_schema(),
                **({"description": v.description} if v.description else {}),
            }
            for k, v in self.fields.items()
        ]


PAGE = {
    "limit": integer(minimum=1, maximum=1000, description="page size (default 50)"),
    "offset": integer(minimum=0, maximum=2**31 - 1, description="items to skip"),
}
