"""Strict readers of parsed JSON: an object's fields by name, typed values, errors that name the path (pure).

Each reader takes the parsed value and its path (``outcome.row.values``) and returns a typed value or
raises ``InputError`` naming the path; ``JsonObject.done`` refuses fields nobody read, so a misspelt
field never silently falls back to its default. One explicit reader per type keeps mypy strict
without casts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar

from provisioning.errors import InputError

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
Read = Callable[[object, str], T]


def invalid(path: str, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


class JsonObject:
    """A JSON object being read: fields by name, errors naming their path, unknown fields refused."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise invalid(path, "expected an object")
        self._data: Mapping[object, object] = data
        self._path = path
        self._read: set[object] = set()

    def required(self, key: str, read: Read[T]) -> T:
        self._read.add(key)
        if key not in self._data:
            raise invalid(self._at(key), "missing required field")
        return read(self._data[key], self._at(key))

    def optional(self, key: str, read: Read[T], default: T) -> T:
        self._read.add(key)
        if key not in self._data:
            return default
        return read(self._data[key], self._at(key))

    def done(self, value: T) -> T:
        """*value*, once every field was read: a misspelt ``forcedRemoval`` must not silently become False."""
        for key in self._data:
            if key not in self._read:
                raise invalid(self._at(key), "unknown field")
        return value

    def _at(self, key: object) -> str:
        return f"{self._path}.{key}"


def read_str(data: object, path: str) -> str:
    if not isinstance(data, str):
        raise invalid(path, "expected a string")
    return data


def read_bool(data: object, path: str) -> bool:
    if not isinstance(data, bool):
        raise invalid(path, "expected a boolean")
    return data


def read_int(data: object, path: str) -> int:
    if not isinstance(data, int) or isinstance(data, bool):
        raise invalid(path, "expected an integer")
    return data


def nullable(read: Read[T]) -> Read[T | None]:
    return lambda data, path: None if data is None else read(data, path)


def enum_of(cls: type[E]) -> Read[E]:
    def read(data: object, path: str) -> E:
        text = read_str(data, path)
        try:
            return cls(text)
        except ValueError as exc:
            expected = ", ".join(member.value for member in cls)
            raise invalid(path, f"unknown value {text!r}, expected one of: {expected}") from exc

    return read


def read_list(data: object, path: str) -> list[tuple[object, str]]:
    """The items of a JSON array, each with its own path."""
    if not isinstance(data, list):
        raise invalid(path, "expected a list")
    return [(item, f"{path}[{index}]") for index, item in enumerate(data)]


def tuple_of(read: Read[T]) -> Read[tuple[T, ...]]:
    return lambda data, path: tuple(read(item, item_path) for item, item_path in read_list(data, path))
