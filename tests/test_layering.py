"""The layers, read from the source: the core imports no network library and no connector (the
composition root only their registry), only the composition root imports the portals, and no
connector reaches into the portals or another connector."""

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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project's modules a module imports, also under TYPE_CHECKING (a circle there is
    still a circle a reader has to follow)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            stem = node.module or ""
            base = (f"{base}.{stem}" if stem else base) if node.level else stem
            # ``from . import x`` names a module; ``from .m import x`` names m.
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    paths = [path for package in packages for path in modules(package)]
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) for path in paths}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def connector_offenders(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Imports that cross into a connector: the core (bridge, portals) may not import one, the
    composition root only the registry (``connectors``); a connector nothing of another, nor
    the registry, which knows them all."""
    offenders: dict[str, list[str]] = {}
    for name, targets in graph.items():
        top, _, rest = name.partition(".")
        if top in ("bridge", "portals"):
            allowed = (
                {"connectors"} if f"{name.replace('.', '/')}.py" in COMPOSITION_ROOT else set()
            )
            crossing = {t for t in targets if t.split(".")[0] == "connectors"} - allowed
        elif top == "connectors" and rest:
            own = f"connectors.{rest.split('.')[0]}"
            crossing = {
                t
                for t in targets
                if t.split(".")[0] == "connectors" and t != own and not t.startswith(f"{own}.")
            }
        else:
            continue
        if crossing:
            offenders[name] = sorted(crossing)
    return offenders


def test_the_core_imports_no_connector_and_no_connector_another() -> None:
    assert connector_offenders(import_graph(("bridge", "portals", "connectors"))) == {}


def test_the_connector_check_finds_crossings() -> None:
    graph = import_graph(("bridge", "portals", "connectors"))
    # It reads the real imports: the composition root's use of the registry is seen (and allowed).
    assert "connectors" in graph["bridge.__main__"]
    assert "connectors.telegram.ids" in graph["connectors.telegram.connector"]
    assert connector_offenders(
        {
            "bridge.__main__": {"connectors", "connectors.telegram.connector"},
            "bridge.app": {"connectors"},
            "bridge.health": {"connectors.telegram"},
            "portals.core": {"connectors.signal.ids", "bridge.network.ids"},
            "connectors.telegram.sending": {"connectors.telegram.ids", "connectors.signal.ids"},
            "connectors.telegram.connector": {"connectors"},
            "connectors.signal": {"connectors.signal.ids"},
            "connectors": {"bridge.network.interface"},
        }
    ) == {
        "bridge.__main__": ["connectors.telegram.connector"],
        "bridge.health": ["connectors.telegram"],
        "portals.core": ["connectors.signal.ids"],
        "connectors.telegram.sending": ["connectors.signal.ids"],
        "connectors.telegram.connector": ["connectors"],
    }


def test_no_module_imports_its_way_back_to_itself() -> None:
    graph = import_graph(("bridge", "portals", "connectors"))
    # Packages' __init__ modules only gather their package's names: leave them out.
    graph = {
        name: {target for target in targets if not (ROOT / target.replace(".", "/")).is_dir()}
        for name, targets in graph.items()
        if not (ROOT / name.replace(".", "/")).is_dir()
    }
    assert circles(graph) == []


def test_only_the_manager_knows_the_portal_object() -> None:
    # Handlers get the portal's state (portals/state.py) and their services as arguments.
    graph = import_graph(("portals",))
    assert sorted(name for name, targets in graph.items() if "portals.portal" in targets) == [
        "portals.manager"
    ]


def test_the_circle_check_finds_circles() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    graph = import_graph(("portals",))
    assert "portals.state" in graph["portals.to_matrix"]
    assert "portals.relay" in graph["portals.matrix_room_changes"]  # ``from . import relay``
