#!/bin/bash
# Passes when the cgroup /sys/fs/cgroup/demo exists, its memory.max is
# 67108864 (64 MiB), and at least one process listed in its cgroup.procs is
# a running sleep. Reads files only, so it cannot hang.

cg=/sys/fs/cgroup/demo

if [ ! -d "$cg" ]; then
  echo "The cgroup $cg does not exist yet (mkdir creates it)."
  exit 1
fi
if [ ! -f "$cg/memory.max" ]; then
  echo "$cg has no memory.max file: the memory controller is not enabled for the children of the root cgroup. Write +memory to /sys/fs/cgroup/cgroup.subtree_control."
  exit 1
fi
read -r max < "$cg/memory.max"
if [ "$max" != 67108864 ]; then
  echo "$cg/memory.max is '$max'; it should be 64 MiB (67108864 bytes)."
  exit 1
fi
found=
others=
while read -r pid; do
  [ -n "$pid" ] || continue
  comm=
  read -r comm 2>/dev/null < "/proc/$pid/comm"
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
  if [ "$comm" = sleep ] && [ "$state" != Z ]; then
    found=$pid
  else
    others="$others $pid(${comm:-gone})"
  fi
done < "$cg/cgroup.procs"
if [ -z "$found" ]; then
  echo "memory.max is set, but no running sleep is in $cg (cgroup.procs holds:${others:- nothing}). Start one and write its PID to $cg/cgroup.procs."
  exit 1
fi
echo "sleep (PID $found) runs in $cg with memory.max = 64 MiB."
exit 0
