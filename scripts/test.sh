#!/usr/bin/env bash
# npm test: set up what is missing, then run every test:
#   1. lint (ESLint, then Prettier's check; `npm run format` fixes the formatting)
#   2. type check (tsc)
#   3. unit + integration tests (vitest; integration starts real gVisor sandboxes
#      and proves every exercise of the course: check fails, solution, check passes)
#   4. end-to-end tests (Playwright in Debian's chromium against the real lab)
# The output ends with Playwright's own summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests --build

printf '\n==> lint (ESLint, Prettier)\n'
# Two commands, not `a && b`: under set -e a failing `a` in an && list would not stop the script.
npx eslint .
npx prettier --check .

printf '\n==> type check\n'
npx tsc --noEmit -p tsconfig.json

printf '\n==> unit and integration tests (vitest)\n'
npx vitest run

printf '\n==> end-to-end tests (Playwright, Debian chromium)\n'
npx playwright test
