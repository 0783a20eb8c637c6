#!/bin/bash
# Passes when /sys/fs/cgroup/lab/bomb has pids.max 12, its pids.events
# shows that forks were refused at that limit (so something inside really
# hit it), and no process is left in it any more (the bomb was defused).
# Reads files only, so it cannot hang.

need_group bomb pids.max || exit 1
read -r max 2>/dev/null < "$dir/pids.max"
if [ "$max" != 12 ]; then
  echo "$dir/pids.max is '${max:-unreadable}', not 12."
  exit 1
fi
keyed "$dir/pids.events" max; hits=${val:-0}
if [ "$hits" -le 0 ]; then
  echo "bomb has pids.max 12, but pids.events counts no refused fork yet (max 0): nothing inside it has hit the limit. Run a fork bomb in it."
  exit 1
fi
read -r current 2>/dev/null < "$dir/pids.current"
scan_members "$dir"
if [ -n "$members" ] || [ "${current:-0}" -gt 0 ]; then
  echo "The bomb hit the fence ($hits refused forks), but bomb still holds ${current:-some} tasks. Defuse it: one write to a file of the cgroup kills them all."
  exit 1
fi
peak=
read -r peak 2>/dev/null < "$dir/pids.peak"
echo "The fork bomb in /lab/bomb was refused $hits forks at pids.max 12${peak:+ (peak $peak tasks)}, and the cgroup is empty now."
exit 0
