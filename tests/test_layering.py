"""The layers, read from the source: the core imports no network library, only the composition
root imports the portals, and no connector reaches into the portals or another connector."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPOSITION_ROOT = {"bridge/app.py", "bridge/__main__.py"}
NETWORK_LIBRARIES = {"telegram"}


def imports_of(path: Path) -> set[str]:
    """The top-level packages a module imports (relative imports resolved to their package)."""
    package = path.relative_to(ROOT).parts[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add(package if node.level else (node.module or "").split(".")[0])
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_core_imports_no_network_library() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imports_of(path) & NETWORK_LIBRARIES)
        for package in ("bridge", "portals")
        for path in modules(package)
        if imports_of(path) & NETWORK_LIBRARIES
    }
    assert offenders == {}


def test_only_the_composition_root_imports_the_portals() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("bridge", "connectors")
        for path in modules(package)
        if "portals" in imports_of(path) and str(path.relative_to(ROOT)) not in COMPOSITION_ROOT
    ]
    assert offenders == []


def test_the_checks_see_imports() -> None:
    # A check that finds nothing because it reads nothing would pass; this one must find these.
    assert "portals" in imports_of(ROOT / "bridge/app.py")
    assert "telegram" in imports_of(ROOT / "connectors/telegram/sending.py")
    assert "bridge" in imports_of(ROOT / "portals/core.py")
