"""Turn pydantic validation errors into ``Problem`` records a person can act on.

Each pydantic error has a ``loc`` through the models (with union tags and validator
names mixed in); ``problems_from_error`` follows it through the parsed YAML to the key
or value at fault, takes its line and column, and rewrites the message: what is wrong,
what was expected, and a hint (did-you-mean for unknown keys and values). It works for
any pydantic model read from YAML, so importers of other formats reuse it.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ValidationError

from meshkit.contracts.problem import Problem, display_path
from meshkit.contracts.yamlpos import Path, YamlDocument

_WHAT = {
    "string_type": "text",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "decimal_type": "a number",
    "decimal_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
    "datetime_type": "a timestamp",
    "datetime_parsing": "a timestamp",
    "datetime_from_date_parsing": "a timestamp",
    "none_required": "nothing (null)",
}
_PATTERNS = {
    r"^[a-z][a-z0-9_]*$": "lowercase letters, digits and _, starting with a letter",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "letters, digits and _, not starting with a digit",
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$": (
        "a field name, or a dotted path like address.city"
    ),
    r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$": "<domain>.<product>, e.g. orders.order",
    r"^[a-z0-9][a-z0-9_.-]*$": "lowercase letters, digits, _ . and -",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an e-mail address",
}
_SEMVER_HINT = "a semantic version MAJOR.MINOR.PATCH, e.g. 1.2.0"
_QUOTED = re.compile(r"'([^']*)'")


def describe(value: Any) -> str:
    """How a YAML value reads to a person: ``the number 1.0``, ``a list``..."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def did_you_mean(word: Any, options: typing.Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest option, or None."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _follow(loc: tuple[Any, ...], data: Any, *, missing: bool) -> Path:
    """The data path ``loc`` points at (with the absent key last when ``missing``)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:  # noqa: SIM114
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1 and isinstance(node, dict):
            path.append(str(part))
        # otherwise: a union tag or a validator name in the loc, not part of the data
    return tuple(path)


def _data_at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data


def _model_of(annotation: Any, node: Any) -> Any:
    """Unwrap Annotated / Optional / discriminated unions to the model matching ``node``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in {typing.Union, types.UnionType}:
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if len(members) == 1:
                annotation = members[0]
                continue
            kind = node.get("kind") if isinstance(node, dict) else None
            for m in models:
                field = m.model_fields.get("kind")
                if field is not None and kind in typing.get_args(field.annotation):
                    return m
            return models[0] if len(models) == 1 else None
        return annotation


def _field_by_key(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info
    return None


def model_at(root: type[BaseModel], data: Any, path: Path) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``path`` of ``data`` (None if unsure)."""
    annotation = annotation_at(root, data, path)
    if annotation is None:
        return None
    model = _model_of(annotation, _data_at(data, path))
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def kinds_at(root: type[BaseModel], data: Any, path: Path) -> list[str]:
    """The ``kind`` values accepted by the union at ``path`` (empty when it is not one)."""
    annotation = annotation_at(root, data, path)
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    kinds: list[str] = []
    for member in typing.get_args(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            info = member.model_fields.get("kind")
            if info is not None:
                kinds.extend(str(a) for a in typing.get_args(info.annotation))
    return kinds


def annotation_at(root: type[BaseModel], data: Any, path: Path) -> Any:
    """The type annotation that validates the value at ``path`` of ``data`` (None if unsure)."""
    annotation: Any = root
    node = data
    for part in path:
        model = _model_of(annotation, node)
        if isinstance(model, type) and issubclass(model, BaseModel) and isinstance(part, str):
            info = _field_by_key(model, part)
            if info is None:
                return None
            annotation = info.annotation
        else:
            origin = typing.get_origin(model)
            args = typing.get_args(model)
            if origin in {tuple, list} and args:
                annotation = args[0]
            elif origin is dict and len(args) == 2:
                annotation = args[1]
            else:
                return None
        node = node[part]
    return annotation


def keys_of(model: type[BaseModel]) -> list[str]:
    """The YAML keys a model accepts."""
    return [info.alias or name for name, info in model.model_fields.items()]


def problems_from_error(
    exc: ValidationError, doc: YamlDocument, file: str, root: type[BaseModel]
) -> list[Problem]:
    """Every error of ``exc`` as a located ``Problem`` (sorted, union alternatives merged)."""
    found: list[Problem] = []
    for error in exc.errors(include_url=False):
        problem = _translate(error, doc, file, root)
        if problem is not None:
            found.append(problem)
    return _merge_alternatives(found)


def _translate(error: Any, doc: YamlDocument, file: str, root: type[BaseModel]) -> Problem | None:
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    path = _follow(tuple(error["loc"]), doc.data, missing=kind == "missing")
    value = error.get("input")
    message: str
    expected: str | None = None
    hint: str | None = None
    if kind == "missing":
        parent = path[:-1]
        model = model_at(root, doc.data, parent)
        info = _field_by_key(model, str(path[-1])) if model else None
        message = f"missing key {path[-1]!r}"
        if info is not None and info.description:
            text = info.description.replace("`", "")
            expected = text[:1].lower() + text[1:].rstrip(".")
        line, column = doc.position(parent)
    elif kind == "extra_forbidden":
        key = str(path[-1])
        if _split_flow_decimal(doc.data, path):
            return None  # reported once, on the type
        model = model_at(root, doc.data, path[:-1])
        allowed = keys_of(model) if model else []
        message = f"unknown key {key!r}"
        expected = ("one of " + ", ".join(allowed)) if allowed else None
        hint = did_you_mean(key, allowed)
        line, column = doc.position(path, key=True)
    else:
        line, column = doc.position(path)
        message, expected, hint = _message(kind, ctx, value, error["msg"], path)
        if kind == "union_tag_not_found":
            expected = "one of " + ", ".join(kinds_at(root, doc.data, path))
    return Problem(file, line, column, display_path(path), message, expected, hint)


def _message(
    kind: str, ctx: dict[str, Any], value: Any, msg: str, path: Path
) -> tuple[str, str | None, str | None]:
    if kind in {"contract", "field_type", "duration"}:
        text = ctx.get("message", msg)
        hint = ctx.get("hint")
        if (
            kind == "field_type"
            and isinstance(value, str)
            and re.fullmatch(r"decimal\(\s*\d+", value)
        ):
            hint = 'inside {...} quote the type, e.g. type: "decimal(12,2)"'
        return text, ctx.get("expected"), hint
    if kind in {"union_tag_invalid", "union_tag_not_found"}:
        tags = _QUOTED.findall(str(ctx.get("expected_tags", "")))
        expected = "one of " + ", ".join(tags)
        if kind == "union_tag_not_found":
            return "missing key 'kind'", expected, None
        tag = ctx.get("tag")
        return f"unknown kind {tag!r}", expected, did_you_mean(tag, tags)
    if kind == "literal_error":
        options = _QUOTED.findall(str(ctx.get("expected", "")))
        return (
            f"invalid value {value!r}",
            "one of " + ", ".join(options),
            did_you_mean(value, options),
        )
    if kind in _WHAT:
        hint = None
        if kind == "string_type" and path[-1:] == ("version",):
            hint = "write all three parts, e.g. version: 1.0.0"
        elif kind == "string_type" and isinstance(value, int | float | bool):
            hint = f'quote the value to make it text, e.g. "{_yaml_scalar(value)}"'
        if kind.startswith("date") and isinstance(value, str):
            hint = "write dates as YYYY-MM-DD"
        return f"wrong type: {describe(value)}", _WHAT[kind], hint
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if "(0|[1-9]" in pattern:
            hint = "leave out the 'v'" if str(value).startswith(("v", "V")) else None
            return f"{value!r} is not a semantic version", _SEMVER_HINT, hint
        return (
            f"invalid value {value!r}",
            _PATTERNS.get(pattern, f"text matching {pattern}"),
            None,
        )
    if kind in {"too_short", "string_too_short"}:
        n = ctx.get("min_length", 1)
        what = "character" if kind == "string_too_short" else "item"
        return f"needs at least {n} {what}{'s' if n != 1 else ''}", None, None
    if kind in {"too_long", "string_too_long"}:
        n = ctx.get("max_length")
        what = "character" if kind == "string_too_long" else "item"
        return f"allows at most {n} {what}{'s' if n != 1 else ''}", None, None
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()), None)
        return f"{value!r} is out of range", f"a value {bounds[kind]} {limit}", None
    if kind == "value_error":
        return msg.removeprefix("Value error, "), None, None
    return msg[:1].lower() + msg[1:], None, None


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _split_flow_decimal(data: Any, path: Path) -> bool:
    """True for the stray key ``2)`` that ``{type: decimal(12,2)}`` leaves in a flow mapping."""
    key = path[-1]
    if not isinstance(key, str) or not re.fullmatch(r"\s*\d+\s*\)", key):
        return False
    parent = _data_at(data, path[:-1])
    return isinstance(parent, dict) and str(parent.get("type", "")).startswith("decimal(")


def _merge_alternatives(found: list[Problem]) -> list[Problem]:
    """One problem per location: a value failing every member of a union gets one message."""
    groups: dict[tuple[int, int, str], list[Problem]] = defaultdict(list)
    for p in found:
        groups[(p.line, p.column, p.path)].append(p)
    merged: list[Problem] = []
    for (line, column, path), items in groups.items():
        typed = [p for p in items if p.message.startswith("wrong type: ")]
        if len(typed) > 1:
            whats = list(dict.fromkeys(p.expected for p in typed if p.expected))
            merged.append(
                Problem(items[0].file, line, column, path, typed[0].message, " or ".join(whats))
            )
            merged.extend(p for p in items if p not in typed)
        else:
            merged.extend(dict.fromkeys(items))
    merged.sort(key=lambda p: (p.line, p.column, p.path))
    return merged
