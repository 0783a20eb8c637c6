#!/usr/bin/env bash
# npm start: set up what is missing, then run the site + lab backend on one port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --build
# node --import tsx, not the tsx CLI: the CLI's parent process SIGKILLs serve.ts when
# it has not answered a SIGTERM within ~60 ms, before every sandbox has ended.
exec node --import tsx scripts/serve.ts
