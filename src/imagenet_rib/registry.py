"""The one `Registry` type: datasets, models, methods, suites, label spaces, layouts, ...

A registry maps a name to an object (a spec, a factory, a class). Registering a name twice
raises `DuplicateNameError`; looking up an unknown name raises `UnknownNameError` listing
the closest registered names, so a typo is fixed from the message alone.

A registry may name its built-in modules (``builtins``, imported by name so that the modules
that register entries and the module that owns the registry never import each other) and the
entry-point group of its plugins (``plugins``), or take a `loader` function. Either runs once,
on the first lookup or the first registration from outside it: built-ins first, then the
plugins (`plugins.load_plugins`), so a plugin reusing a built-in name gets
`DuplicateNameError`, whatever was imported first.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
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

    def __init__(
        self,
        kind: str,
        loader: Callable[[], None] | None = None,
        *,
        builtins: Sequence[str] = (),
        plugins: str | None = None,
    ) -> None:
        if loader is not None and (builtins or plugins):
            raise ValueError("give a registry either a loader or builtins/plugins, not both")
        self.kind = kind
        self._items: dict[str, T] = {}
        self._builtins = tuple(builtins)
        self._plugins = plugins
        self._loader = loader
        pending = loader is not None or bool(builtins) or plugins is not None
        self._state = "pending" if pending else "loaded"

    def _load_all(self) -> None:
        if self._loader is not None:
            self._loader()
            return
        for module in self._builtins:
            importlib.import_module(module)  # registers its entries
        if self._plugins is not None:
            from .plugins import load_plugins

            load_plugins(self._plugins)

    def load(self) -> None:
        """Run the loader once; a call made while it runs (a built-in module registering
        itself, a plugin looking up a built-in) returns at once."""
        if self._state != "pending":
            return
        self._state = "loading"
        try:
            self._load_all()
        except BaseException:
            self._state = "pending"  # the next lookup retries, and raises the same error again
            raise
        self._state = "loaded"

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
        self.load()
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
        self.load()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._items)) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}"
            )
        return name

    def names(self) -> list[str]:
        self.load()
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        self.load()
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        self.load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self.load()
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} items)"
