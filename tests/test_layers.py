"""The layers hold: ``api/`` maps HTTP to ``filing``'s use-cases and touches no database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
API = sorted((ROOT / "api").glob("*.py"))
# What only the application layer (filing) and below may use: the database and its transactions.
FORBIDDEN_MODULES = ("sqlalchemy", "ledger.database", "ledger.schema", "filing.schema")
FORBIDDEN_ATTRIBUTES = ("engine", "begin", "connect", "write_transaction")  # Redis has .execute


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):  # nested imports (inside functions) too
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def _forbidden(module: str, names: tuple[str, ...]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


@pytest.mark.parametrize("path", API, ids=lambda p: p.name)
def test_api_modules_touch_no_table_engine_connection_or_transaction(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    problems = [
        f"{path.name}:{line} imports {module}"
        for line, module in _imports(tree)
        if _forbidden(module, FORBIDDEN_MODULES)
    ]
    problems += [
        f"{path.name}:{node.lineno} uses .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES
    ]
    problems += [
        f"{path.name}:{node.lineno} names {node.id}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_ATTRIBUTES
    ]
    assert not problems, "api/ must go through filing's use-cases:\n" + "\n".join(problems)


def test_the_guard_sees_what_it_looks_for() -> None:
    """A module doing what api/ must not is caught (the test above is not vacuous)."""
    bad = ast.parse(
        "def f(deployment):\n"
        "    from sqlalchemy import select\n"
        "    with deployment.log.engine.begin() as conn:\n"
        "        conn.execute(select(1))\n"
    )
    assert any(_forbidden(m, FORBIDDEN_MODULES) for _, m in _imports(bad))
    attrs = {n.attr for n in ast.walk(bad) if isinstance(n, ast.Attribute)}
    assert {"engine", "begin"} <= attrs


@pytest.mark.parametrize(
    "package", ["filing", "signing", "ledger", "keys", "verifier"], ids=lambda p: p
)
def test_imports_point_one_way(package: str) -> None:
    """api -> filing -> {signing, ledger, keys}: nothing below imports the HTTP layer."""
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        problems += [
            f"{path.relative_to(ROOT)}:{line} imports {module}"
            for line, module in _imports(tree)
            if _forbidden(module, ("api",))
            or (package != "filing" and _forbidden(module, ("filing",)))
        ]
    assert not problems, "\n".join(problems)
