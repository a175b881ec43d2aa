"""The JSON mapping shared by every protocol class.

deepgram-sdk 3.11 built its classes on dataclasses_json, which drops unknown keys, turns a dict into its
Python repr when the field says `str`, and raises a bare `KeyError` for a missing field. This module keeps
the same surface (`to_json`, `from_json`, `to_dict`, `from_dict`, `str(obj)` as indented JSON,
`obj["key"]`) without those faults:

* keys a class does not declare are kept in `extra` and written back out, so `greeting` or
  `think.provider.url` survive a dict → object → JSON round trip;
* a JSON object or array given for a text field becomes JSON text, never a repr;
* a missing required field raises `MissingFieldError`, which names the class and the field.

Fields whose metadata is `OMIT_NONE` are left out of the JSON when they are None, exactly where the seed
SDK left them out; every other field is always written, `null` included.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, ClassVar, Self, Union, get_args, get_origin

_OMIT_NONE = "voicewire.omit_none"


class ProtocolError(ValueError):
    """A message does not fit the protocol; the base of the errors below."""


class MissingFieldError(ProtocolError, KeyError):
    """A required field is missing. A `KeyError` too, as the seed SDK raised one."""

    def __init__(self, cls_name: str, field_name: str) -> None:
        super().__init__(f"{cls_name} is missing the required field {field_name!r}")
        self.cls_name = cls_name
        self.field_name = field_name

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidFieldError(ProtocolError):
    """A field has a value of the wrong shape (e.g. a number where an object is required)."""


#: Metadata of a field that the seed SDK leaves out of the JSON while it is None.
OMIT_NONE = types.MappingProxyType({_OMIT_NONE: True})


def to_plain(value: Any) -> Any:
    """Turn models, tuples and nested containers into JSON-ready values."""
    if isinstance(value, Model):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


@dataclasses.dataclass
class Model:
    """Base of every message and option class: a dataclass with a lossless JSON mapping.

    `extra` holds the keys the class does not declare; it is keyword-only so that positional construction
    matches the seed SDK.
    """

    extra: dict[str, Any] = dataclasses.field(default_factory=dict, kw_only=True, repr=False)

    _hints: ClassVar[dict[type, dict[str, Any]]] = {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get(_OMIT_NONE):
                continue
            out[f.name] = to_plain(value)
        for key, value in self.extra.items():
            out.setdefault(key, to_plain(value))
        return out

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        return self.to_json(indent=4)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        if not isinstance(data, dict):
            raise InvalidFieldError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
        hints = cls._type_hints()
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise MissingFieldError(cls.__name__, f.name)
                continue
            kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{cls.__name__}.{f.name}")
        declared = {f.name for f in dataclasses.fields(cls)}
        extra = {k: v for k, v in data.items() if k not in declared or k == "extra"}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"{cls.__name__}: not valid JSON ({exc})") from exc
        return cls.from_dict(data)

    @classmethod
    def _type_hints(cls) -> dict[str, Any]:
        hints = Model._hints.get(cls)
        if hints is None:
            hints = typing.get_type_hints(cls)
            Model._hints[cls] = hints
        return hints

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def eval(self, key: str) -> str:
        """The value at a dot path (`"agent.think.model"`, list indexes as numbers) as text, or ""."""
        node: Any = self.to_dict()
        for part in key.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return ""
        return str(node)


def _convert(hint: Any, value: Any, where: str) -> Any:
    """Coerce a decoded JSON value to the declared type of a field, without silent corruption."""
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0] if len(args) == 1 else Any, value, where)
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint.from_dict(value) if not isinstance(value, Model) else value
    if hint is str:
        if isinstance(value, dict | list):
            return json.dumps(value)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFieldError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidFieldError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidFieldError(f"{where} must be true or false, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidFieldError(f"{where} must be a list, got {type(value).__name__}")
        (item,) = get_args(hint) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict and not isinstance(value, dict):
        raise InvalidFieldError(f"{where} must be an object, got {type(value).__name__}")
    return value
