#!/usr/bin/env bash
# Install wangqian and run the main job on the embedded default (SQLite in ./data, no servers):
# a Chinese housing contract signed by seller, buyer (remote) and platform, filed in the log,
# and verified. This is the README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/wangqian demo --data data --out out
