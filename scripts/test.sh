#!/usr/bin/env bash
# Install everything the tests need, then run the linters and the whole suite
# (SQLite and PostgreSQL). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh test
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
bash scripts/services.sh

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy --strict ledger signing keys verifier filing api
.venv/bin/python -m pytest -q "$@"
