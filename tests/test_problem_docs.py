"""Every problem type the API can answer with is in docs/api.md's errors table.

Integrators found the types one error at a time; this reads the code for every
``Problem(status, "type", …)`` and every error class's ``slug`` and looks each up.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Base classes whose own slug is never answered: their subclasses' are.
NEVER_ANSWERED = {"fund-error", "fund-rule"}


def _problem_types() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted([*ROOT.glob("api/*.py"), *ROOT.glob("filing/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                if name in ("Problem", "problem_response") and len(node.args) >= 2:
                    arg = node.args[1]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, path.name)
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "slug"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                found.setdefault(node.value.value, path.name)
    from api.problems import _SLUGS, OTHER_HTTP_ERROR

    for slug, _ in (*_SLUGS.values(), OTHER_HTTP_ERROR):
        found.setdefault(slug, "problems.py")
    return found


def test_every_problem_type_is_in_the_errors_table() -> None:
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    table = doc[doc.index("## Errors") :]
    types = _problem_types()
    assert len(types) > 50  # the reader finds them (it would pass vacuously otherwise)
    missing = {t: where for t, where in types.items() if f"`{t}`" not in table}
    assert set(missing) <= NEVER_ANSWERED, f"not in docs/api.md's errors table: {missing}"
