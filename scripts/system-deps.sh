#!/usr/bin/env bash
# Debian packages wangqian needs. `main` (the demo and a deployment): the CJK font contracts are
# rendered with. `test` adds what the tests use: SoftHSM2 (the PKCS#11 token), the independent
# checkers (poppler's pdfsig, qpdf, NSS certutil, openssl) and headless Chromium for the page
# tests. Installs only what is missing; needs root (as on the project's machines) or sudo.
set -euo pipefail

want=(fonts-wqy-microhei)
case "${1:-test}" in
  main) ;;
  test) want+=(softhsm2 poppler-utils qpdf libnss3-tools openssl chromium) ;;
  *) echo "usage: $0 [main|test]" >&2; exit 2 ;;
esac
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "    Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2> >(grep -v "^debconf: " >&2)
