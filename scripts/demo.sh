#!/usr/bin/env bash
# Install wangqian and run the main job on the embedded default (SQLite in ./data, no servers):
# a Chinese housing contract signed by seller, buyer (remote) and platform, filed in the log,
# and verified. This is the README's first command. It installs only what the main job needs;
# scripts/test.sh installs the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

step "1/4 系统依赖 (system packages: the CJK font) …"
bash scripts/system-deps.sh main
step "2/4 Python 虚拟环境 (virtualenv .venv) …"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >.venv/install.log 2>&1 || { cat .venv/install.log >&2; exit 1; }
step "3/4 安装 wangqian 及其依赖 (about a minute on a first run) …"
# Not editable: nothing here edits the code, and an editable build warns that it may shadow.
if ! .venv/bin/python -m pip install -q --progress-bar off . >>.venv/install.log 2>&1; then
  cat .venv/install.log >&2
  echo "installing wangqian failed (log: .venv/install.log)" >&2
  exit 1
fi
step "4/4 运行演示 (demo: file, seal, log and verify) …"
.venv/bin/wangqian demo --data data --out out
