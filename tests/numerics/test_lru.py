"""The tuning cache's bounded LRU mapping (numerics/_lru.py)."""

from __future__ import annotations

from nqm.numerics._lru import SizedLRU


def _filled(sizes: dict[str, int], bound: int) -> SizedLRU[list[int]]:
    lru: SizedLRU[list[int]] = SizedLRU(bound, len)
    for key, n in sizes.items():
        lru.get(key, lambda n=n: [0] * n)
        lru.settle(key)
    return lru


def test_least_recently_used_values_go_first_down_to_the_bound() -> None:
    lru = _filled({"a": 4, "b": 4}, 10)
    lru.get("a", list)  # a is now the most recent
    lru.get("c", lambda: [0] * 4)
    lru.settle("c")
    assert sorted(lru._values) == ["a", "c"] and lru.total_size == 8


def test_a_value_too_large_on_its_own_is_dropped_and_evicts_nothing() -> None:
    lru = _filled({"a": 4, "b": 4}, 10)
    value = lru.get("huge", lambda: [0] * 11)
    lru.settle("huge")
    assert len(value) == 11  # the caller still gets it
    assert sorted(lru._values) == ["a", "b"] and lru.total_size == 8


def test_a_value_that_grows_past_the_bound_is_dropped_alone() -> None:
    lru = _filled({"a": 3, "b": 3}, 10)
    grown = lru.get("a", list)
    grown.extend([0] * 20)
    lru.settle("a")
    assert sorted(lru._values) == ["b"] and lru.total_size == 3
