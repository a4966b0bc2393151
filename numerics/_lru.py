"""A thread-safe least-recently-used mapping bounded by the total size of its values (e.g. bytes)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SizedLRU"]

V = TypeVar("V")


class SizedLRU(Generic[V]):
    """Values created on demand under hashable keys; the least recently used are dropped once the
    sizes (``size(value)``, measured again by :meth:`settle` since a value may grow as it is used)
    add up to more than ``max_size``. A value larger than ``max_size`` on its own is not kept, and
    evicts nothing.

    All methods may be called from several threads: the mapping is guarded by a lock, which is
    never held while a value is created or used (two threads missing the same key at once may
    both create a value; the first one stored is kept and returned to both)."""

    def __init__(self, max_size: int, size: Callable[[V], int]) -> None:
        self.max_size = int(max_size)
        self._size = size
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, create: Callable[[], V]) -> V:
        """The value stored under ``key``, else ``create()`` stored under it (most recent either way)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = create()
        with self._lock:
            value = self._values.setdefault(key, value)
            self._values.move_to_end(key)
            self._sizes.setdefault(key, 0)
        return value

    def settle(self, key: Hashable) -> None:
        """Measure the value under ``key`` again and drop least recently used values down to the bound."""
        with self._lock:
            if key in self._values:
                self._sizes[key] = int(self._size(self._values[key]))
                if self._sizes[key] > self.max_size:  # too large to keep on its own: the others stay
                    del self._values[key], self._sizes[key]
                    return
            total = sum(self._sizes.values())
            while total > self.max_size and self._values:
                old, _ = self._values.popitem(last=False)
                total -= self._sizes.pop(old)

    def clear(self) -> None:
        """Drop every value."""
        with self._lock:
            self._values.clear()
            self._sizes.clear()

    def __len__(self) -> int:
        return len(self._values)

    @property
    def total_size(self) -> int:
        """The sizes of the stored values as last measured."""
        return sum(self._sizes.values())
