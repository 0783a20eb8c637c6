#!/bin/bash
# Passes when /sys/fs/cgroup/lab/capped has cpu.max "20000 100000" (20% of
# one CPU), holds a process that keeps wanting the CPU (state R), and its
# cpu.stat shows that the kernel has throttled the group at least once.
# Reads files only, so it cannot hang.

need_group capped cpu.max || exit 1
read -r quota period 2>/dev/null < "$dir/cpu.max"
if [ "$quota $period" != "20000 100000" ]; then
  echo "$dir/cpu.max is '$quota $period'. 20% of one CPU is a quota of 20000 us in every period of 100000 us: write '20000 100000'."
  exit 1
fi
scan_members "$dir"
if [ -z "$members" ]; then
  echo "capped has the right cpu.max, but no process is in it. Start spin and write its PID into $dir/cgroup.procs."
  exit 1
fi
if [ -z "$busy" ]; then
  echo "capped holds only processes that are not asking for the CPU: $members. A quota only bites on something busy, such as spin."
  exit 1
fi
keyed "$dir/cpu.stat" nr_throttled; throttled=$val
keyed "$dir/cpu.stat" nr_periods; periods=$val
if [ "${throttled:-0}" -le 0 ]; then
  echo "$busy_comm (PID $busy) spins in capped, but cpu.stat shows no throttled period yet. Give it a second and check again."
  exit 1
fi
echo "$busy_comm (PID $busy) spins in /lab/capped under cpu.max 20000 100000, and the kernel has throttled it in $throttled of $periods periods."
exit 0
