#!/bin/bash
# Passes when /sys/fs/cgroup/lab/gold and /sys/fs/cgroup/lab/bronze both
# exist, gold's cpu.weight is exactly three times bronze's, and each holds a
# process that keeps wanting the CPU (state R). It then measures for one
# second how much CPU time each group receives and reports it.
# Reads files and sleeps once, so it cannot hang.

need_group gold cpu.weight || exit 1
gdir=$dir
need_group bronze cpu.weight || exit 1
bdir=$dir
read -r gw 2>/dev/null < "$gdir/cpu.weight"
read -r bw 2>/dev/null < "$bdir/cpu.weight"
if [ -z "$gw" ] || [ -z "$bw" ] || [ "$gw" -ne $((3 * bw)) ]; then
  echo "gold has cpu.weight ${gw:-?} and bronze ${bw:-?}; gold's weight must be exactly three times bronze's (for example 300 and 100)."
  exit 1
fi
for g in gold bronze; do
  scan_members "$lab/$g"
  if [ -z "$members" ]; then
    echo "The weights are right, but no process is in $g. Start spin in it."
    exit 1
  fi
  if [ -z "$busy" ]; then
    echo "$g holds only processes that are not asking for the CPU: $members. Weights only divide the CPU between groups that both want it; start spin in $g."
    exit 1
  fi
done

keyed "$gdir/cpu.stat" usage_usec; g0=$val
keyed "$bdir/cpu.stat" usage_usec; b0=$val
sleep 1
keyed "$gdir/cpu.stat" usage_usec; g1=$val
keyed "$bdir/cpu.stat" usage_usec; b1=$val
echo "gold (weight $gw) and bronze (weight $bw) both spin; in the last second gold ran $(( (g1 - g0) / 1000 )) ms and bronze $(( (b1 - b0) / 1000 )) ms."
exit 0
