#!/usr/bin/env bash
# npm run bench: benchmarks (not tests). Needs the same set-up as the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests --build
npx tsx scripts/bench/prompt.ts
