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
from collections.abc import Callable
from typing import Any, Self, Union, get_args, get_origin

from voicewire.quoting import excerpt

_OMIT_NONE = "voicewire.omit_none"


class ProtocolError(ValueError):
    """A message does not fit the protocol; the base of the errors below.

    `message_type` is the message's `type` when it could be read, so a receiver can tell e.g. invalid settings
    from an invalid update without parsing the text again.
    """

    message_type: str | None = None


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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        plan = _PLANS.get(type(self)) or _plan(type(self))
        for name, omit_none in plan.written:
            value = getattr(self, name)
            if value is None and omit_none:
                continue
            out[name] = to_plain(value)
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
        plan = _PLANS.get(cls) or _plan(cls)
        kwargs: dict[str, Any] = {}
        for name, convert, required, where in plan.fields:
            if name in data:
                kwargs[name] = convert(data[name], where)
            elif required:
                raise MissingFieldError(cls.__name__, name)
        if len(kwargs) == len(data):
            return cls(**kwargs)
        extra = {k: v for k, v in data.items() if k not in plan.declared}
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"{cls.__name__}: not valid JSON ({exc})") from exc
        return cls.from_dict(data)

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


Converter = Callable[[Any, str], Any]


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How to decode and encode one class, worked out once: this runs on every message."""

    fields: tuple[tuple[str, Converter, bool, str], ...]
    declared: frozenset[str]
    #: `(name, omitted while None)` of each declared field, in order.
    written: tuple[tuple[str, bool], ...]


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type[Model]) -> _Plan:
    hints = typing.get_type_hints(cls)
    fields = tuple(
        (
            f.name,
            _converter(hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            f"{cls.__name__}.{f.name}",
        )
        for f in dataclasses.fields(cls)
        if f.name != "extra"
    )
    written = tuple(
        (f.name, bool(f.metadata.get(_OMIT_NONE))) for f in dataclasses.fields(cls) if f.name != "extra"
    )
    plan = _Plan(fields, frozenset(name for name, *_ in fields), written)
    _PLANS[cls] = plan
    return plan


def _converter(hint: Any) -> Converter:
    """A function that coerces a decoded JSON value to `hint`, without silent corruption."""
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(hint) if a is not type(None)]
        inner = _converter(args[0]) if len(args) == 1 else _as_is

        def optional(value: Any, where: str) -> Any:
            return None if value is None else inner(value, where)

        return optional
    if isinstance(hint, type) and issubclass(hint, Model):
        model: type[Model] = hint

        def nested(value: Any, where: str) -> Any:
            return value if isinstance(value, model) else model.from_dict(value)

        return nested
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        convert_item = _converter(item)

        def items(value: Any, where: str) -> Any:
            if not isinstance(value, list):
                raise InvalidFieldError(f"{where} must be a list, got {type(value).__name__}")
            return [convert_item(v, f"{where}[{i}]") for i, v in enumerate(value)]

        return items
    if origin is dict:
        return _to_object
    return _SCALARS.get(hint, _as_is)


def _as_is(value: Any, where: str) -> Any:
    return value


def _to_text(value: Any, where: str) -> str:
    if type(value) is str:
        return value
    if value is None:
        raise InvalidFieldError(f"{where} must be text, got null")
    return json.dumps(value)


def _to_float(value: Any, where: str) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFieldError(f"{where} must be a number, got {excerpt(value)}")
    return float(value)


def _to_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidFieldError(f"{where} must be an integer, got {excerpt(value)}")
    return value


def _to_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidFieldError(f"{where} must be true or false, got {excerpt(value)}")
    return value


def _to_object(value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise InvalidFieldError(f"{where} must be an object, got {type(value).__name__}")
    return value


_SCALARS: dict[Any, Converter] = {str: _to_text, float: _to_float, int: _to_int, bool: _to_bool}
