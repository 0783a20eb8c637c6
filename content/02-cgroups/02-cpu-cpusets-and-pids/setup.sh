#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
# Installs two small tools the lesson uses and returns at once:
#   spin       a busy loop that wants the CPU all the time
#   cpu-share  measures how much of the one CPU some cgroups under
#              /sys/fs/cgroup/lab use over a few seconds (from usage_usec)
# It enables no controller and creates no cgroup: that is the lesson's job.
set -u

cat > /usr/local/bin/spin <<'TOOL'
#!/bin/sh
# A busy loop: it never sleeps, so it always wants the CPU.
while :; do :; done
TOOL

cat > /usr/local/bin/cpu-share <<'TOOL'
#!/bin/bash
# Usage: cpu-share GROUP...
# Reads usage_usec from /sys/fs/cgroup/lab/GROUP/cpu.stat for each group,
# waits 3 seconds, reads again and prints the difference as a share of one CPU.
secs=3
usage() {
  local key val
  while read -r key val; do
    [ "$key" = usage_usec ] && { echo "$val"; return 0; }
  done < "/sys/fs/cgroup/lab/$1/cpu.stat"
  return 1
}
declare -A before
for g in "$@"; do
  before[$g]=$(usage "$g" 2>/dev/null) || { echo "cpu-share: /sys/fs/cgroup/lab/$g has no cpu.stat" >&2; exit 1; }
done
sleep "$secs"
for g in "$@"; do
  now=$(usage "$g")
  echo "$g: $(( (now - before[$g]) / (secs * 10000) ))% of the CPU"
done
TOOL

chmod 755 /usr/local/bin/spin /usr/local/bin/cpu-share
exit 0
