"""The soak's cache scaling reaches every bounded cache of the bridge, and scales them."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cache_bounds

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridge", "portals", "connectors")


def _bounded_caches() -> Iterator[tuple[str, str]]:
    """(module, constant) of every BoundedDict(<constant>) in the bridge's code."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "BoundedDict"
                    and node.args
                    and isinstance(node.args[0], ast.Name)
                ):
                    yield module, node.args[0].id


def test_every_bounded_cache_takes_its_bound_from_the_table() -> None:
    found = set(_bounded_caches())
    assert len(found) >= 10, found  # the scan finds what it should
    missing = found - set(cache_bounds.BOUNDS)
    assert not missing, f"add these to bench/cache_bounds.py: {sorted(missing)}"


def test_every_bound_in_the_table_exists() -> None:
    for module_name, constant in cache_bounds.BOUNDS:
        assert isinstance(getattr(importlib.import_module(module_name), constant), int)


def test_scale_shrinks_every_bound_and_keeps_at_least_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module_name, constant in cache_bounds.BOUNDS:
        module = importlib.import_module(module_name)
        monkeypatch.setattr(module, constant, getattr(module, constant))  # undone after
    from connectors.telegram import lookup
    from portals import context

    names_before = context.MAX_NAMES
    changed = cache_bounds.scale(0.01)
    assert changed["portals.context.MAX_NAMES"] == (names_before, names_before // 100)
    assert names_before // 100 == context.MAX_NAMES
    assert all(after >= 1 for _, after in changed.values())
    assert set(changed) == {f"{module}.{name}" for module, name in cache_bounds.SCALED}
    assert lookup.Sightings()._per_chat == lookup.SIGHTED_PER_CHAT == 10


@pytest.mark.parametrize("factor", [0.0, -1.0, 1.5])
def test_scale_refuses_a_factor_out_of_range(factor: float) -> None:
    with pytest.raises(ValueError, match="cache scale"):
        cache_bounds.scale(factor)
