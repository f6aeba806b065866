"""ledger.merkle against every transparency-dev inclusion and consistency vector."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle

VECTORS = Path(__file__).resolve().parent / "vectors" / "merkle"


def _load(kind: str) -> list[Any]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    assert files, f"no conformance vectors under {VECTORS / kind}"
    return [pytest.param(json.loads(f.read_text()), id=str(f.relative_to(VECTORS))) for f in files]


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


@pytest.mark.parametrize("vector", _load("inclusion"))
def test_inclusion_vector(vector: dict[str, Any]) -> None:
    args = (
        _b64(vector["leafHash"]),
        vector["leafIdx"],
        vector["treeSize"],
        _proof(vector["proof"]),
        _b64(vector["root"]),
    )
    if vector["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("vector", _load("consistency"))
def test_consistency_vector(vector: dict[str, Any]) -> None:
    args = (
        vector["size1"],
        vector["size2"],
        _proof(vector["proof"]),
        _b64(vector["root1"]),
        _b64(vector["root2"]),
    )
    if vector["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_vector_count() -> None:
    # Guards against a moved folder silently shrinking the suite.
    count = sum(len(list((VECTORS / k).rglob("*.json"))) for k in ("inclusion", "consistency"))
    assert count >= 196
