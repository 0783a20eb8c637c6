#!/usr/bin/env bash
# npm start: set up what is missing, then run the site + lab backend on one port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build
exec npx tsx scripts/serve.ts
