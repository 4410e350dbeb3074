"""Name -> implementation registries for the grader's extension points."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from grader.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A small registry keyed by name; unknown names raise with a "did you mean" hint."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = item
            return item

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
