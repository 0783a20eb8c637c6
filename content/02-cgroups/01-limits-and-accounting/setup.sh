#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
# It starts two long-running programs for the exercises and records each one's
# PID plus its start time (field 22 of /proc/PID/stat), so that a checker
# never mistakes a recycled PID for the original process:
#   cache-warmer  a copy of sleep       -> /run/lab/cache-warmer  (cap-the-cache)
#   batch-job     a low-duty CPU loop   -> /run/lab/batch-job     (throttle-batch)
# It mounts no cgroup hierarchy: mounting one is part of the lesson.
set -u
mkdir -p /run/lab

cp /bin/sleep /usr/local/bin/cache-warmer
cat > /usr/local/bin/batch-job <<'JOB'
#!/bin/bash
# A nightly batch job: a short burst of arithmetic, then a pause, forever.
while :; do
  n=0
  while [ "$n" -lt 1000 ]; do n=$((n + 1)); done
  sleep 2
done
JOB
chmod 755 /usr/local/bin/batch-job

starttime() {
  local line
  read -r line 2>/dev/null < "/proc/$1/stat" || return 1
  set -- ${line##*) }
  echo "${20}"
}

setsid /usr/local/bin/cache-warmer infinity >/dev/null 2>&1 < /dev/null &
echo "$! $(starttime $!)" > /run/lab/cache-warmer
setsid /usr/local/bin/batch-job >/dev/null 2>&1 < /dev/null &
echo "$! $(starttime $!)" > /run/lab/batch-job
exit 0
