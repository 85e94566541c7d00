"""The one `Registry` type, used for datasets, models, methods, metrics and label spaces.

A registry maps a name to an object (a spec, a factory, a class). Registering a name twice
raises `DuplicateNameError`; looking up an unknown name raises `UnknownNameError` listing
the closest registered names, so a typo is fixed from the message alone.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import DuplicateNameError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of `T`, e.g. ``DATASETS: Registry[DatasetSpec]``.

    >>> MODELS = Registry("model")
    >>> @MODELS.register("tiny")
    ... def tiny(): ...
    >>> MODELS.get("tiny") is tiny
    True
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> Callable[[T], T] | T:
        """Register `obj` under `name`; without `obj`, return a decorator."""
        if obj is not None:
            self._add(name, obj)
            return obj

        def decorator(item: T) -> T:
            self._add(name, item)
            return item

        return decorator

    def _add(self, name: str, obj: T) -> None:
        if not name or name != name.strip():
            raise ValueError(
                f"invalid {self.kind} name {name!r}: use a non-empty name without spaces"
            )
        if name in self._items:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is already registered; pick another name or "
                f"unregister the existing one first"
            )
        self._items[name] = obj

    def unregister(self, name: str) -> T:
        return self._items.pop(self._check(name))

    def get(self, name: str) -> T:
        return self._items[self._check(name)]

    def _check(self, name: str) -> str:
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}"
            )
        return name

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} items)"
