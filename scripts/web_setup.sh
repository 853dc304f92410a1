#!/usr/bin/env bash
# What the H5 client's build and browser tests need, installed when missing: the npm packages of
# web/package-lock.json, and Debian's Chromium with CJK fonts (Playwright cannot download
# browsers here; it drives /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = "--browser" ] && { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null; }; then
    echo "installing Debian's chromium and fonts-noto-cjk (once)"
    sudo_=""; [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
fi
