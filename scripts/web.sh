#!/usr/bin/env bash
# The H5 client, tried as people use it: its API types must match the served OpenAPI document,
# it must build (type-checked) within its JavaScript budget, and the browser specs walk the
# manual's sections at phone size in Debian's Chromium against the local stack.
#   --update-types  rewrite web/src/api/schema.d.ts from the served document instead of failing
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web_setup.sh --browser
source scripts/local_stack.sh
(cd web && npx openapi-typescript "$work/openapi.json" -o "$work/schema.d.ts" --silent)
if ! diff -q "$work/schema.d.ts" web/src/api/schema.d.ts >/dev/null; then
    if [ "${1:-}" = "--update-types" ]; then
        cp "$work/schema.d.ts" web/src/api/schema.d.ts
        echo "web/src/api/schema.d.ts updated from the API"
    else
        diff "$work/schema.d.ts" web/src/api/schema.d.ts | head -40
        echo "the client's API types differ from the served OpenAPI document: run scripts/web.sh --update-types"
        exit 1
    fi
fi
(cd web && npm run --silent lint) || { echo "formatting: run (cd web && npm run format)"; exit 1; }
(cd web && npm run --silent build >"$work/build.log" 2>&1) || { cat "$work/build.log"; exit 1; }
python3 scripts/web_budget.py web/dist
cd web && BASE_URL=$base npx playwright test
