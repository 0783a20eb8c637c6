#!/usr/bin/env bash
# npm run handover: tell the running lab (npm start) to hand over instead of
# ending everything: learners' sandboxes keep running, their pages reconnect
# by themselves, and the next `npm start` adopts them. For a deploy:
#   npm run handover && git pull && npm start
set -euo pipefail
cd "$(dirname "$0")/.."
state="${LAB_STATE_DIR:-${LAB_DIR:-.lab}/state}"
pidfile="$state/backend.pid"
if [ ! -s "$pidfile" ]; then echo "handover: no running lab found ($pidfile is missing); start one with npm start" >&2; exit 1; fi
pid="$(cat "$pidfile")"
if ! kill -0 "$pid" 2>/dev/null; then echo "handover: the lab recorded in $pidfile (pid $pid) is not running" >&2; rm -f "$pidfile"; exit 1; fi
if ! tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'scripts/serve.ts'; then
  echo "handover: pid $pid in $pidfile is not the lab (it ended without removing the file); nothing was signalled" >&2; rm -f "$pidfile"; exit 1
fi
kill -USR2 "$pid"
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || { echo "handover: the lab (pid $pid) handed over; run npm start to adopt its sandboxes"; exit 0; }
  sleep 0.1
done
echo "handover: the lab (pid $pid) did not exit within 30 s" >&2
exit 1
