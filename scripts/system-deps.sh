#!/usr/bin/env bash
# Debian packages wangqian needs: a CJK font for contract PDFs, SoftHSM2 (the PKCS#11 token the
# tests use), the independent checkers the tests run (poppler's pdfsig, qpdf, NSS certutil,
# openssl) and headless Chromium for the page tests. Installs only what is missing; needs root
# (as on the project's machines) or sudo.
set -euo pipefail

want=(fonts-wqy-microhei softhsm2 poppler-utils qpdf libnss3-tools openssl chromium)
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
