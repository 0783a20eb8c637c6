#!/usr/bin/env bash
# npm run bench: benchmarks (not tests). Needs the same set-up as the tests,
# plus Debian's shellinabox (the reference web terminal). Runs every
# benchmark in scripts/bench/ in turn (BENCH_ONLY="prompt memory" for some),
# each writing bench-results/<name>.json, and ends with one summary table.
# Knobs: scripts/bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests --build || exit 1

if ! command -v shellinaboxd >/dev/null 2>&1; then
  printf '\n==> installing shellinabox (the reference web terminal)\n'
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q shellinabox || { apt-get update -q && apt-get install -y -q shellinabox; } || exit 1
  # The package enables a login service on port 4200; the benchmarks start their own instance.
  if [ -d /run/systemd/system ]; then systemctl disable --now shellinabox >/dev/null 2>&1 || true
  else update-rc.d shellinabox disable >/dev/null 2>&1 || true; /etc/init.d/shellinabox stop >/dev/null 2>&1 || true; fi
fi

export BENCH_RUN_ID="$(date +%s)-$$"
benches=${BENCH_ONLY:-prompt keystroke throughput memory check bundle}
failed=()
for b in $benches; do
  printf '\n==> bench: %s (1-min load average %s)\n' "$b" "$(cut -d' ' -f1 /proc/loadavg)"
  node_modules/.bin/tsx "scripts/bench/$b.ts" || failed+=("$b")
done
node_modules/.bin/tsx scripts/bench/summary.ts $benches
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed: ${failed[*]} (their rows above are stale or missing)" >&2
  exit 1
fi
