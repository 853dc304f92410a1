#!/usr/bin/env bash
# Lighthouse mobile scores of the H5 client's pages, signed out and signed in, against the local
# stack (the figures in docs/web.md). Lighthouse 12 and puppeteer-core are installed once into
# .local/tools/lighthouse. Scores depend on the CPU: run it on an idle machine, outside `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_setup.sh --browser
tools=.local/tools/lighthouse
if [ ! -d "$tools/node_modules/lighthouse" ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error lighthouse@12.8.2 puppeteer-core@24.43.1
fi
(cd web && npm run --silent build >/dev/null)
source scripts/local_stack.sh
LIGHTHOUSE_DIR="$PWD/$tools" node web/scripts/lighthouse.mjs "$base"
