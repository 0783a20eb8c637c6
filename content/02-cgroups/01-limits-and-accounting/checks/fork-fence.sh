#!/bin/bash
# Passes when a pids cgroup named "fence" exists directly under the root of
# the pids hierarchy, its pids.max is 20, and at least one running (not
# zombie) process whose name is sleep is a member of it.
# Uses shell builtins only, so it neither forks much nor can hang.

want=20
cg_dir pids fence "it at /sys/fs/cgroup/pids" || exit 1
read -r max 2>/dev/null < "$dir/pids.max"
if [ "$max" != "$want" ]; then
  echo "$dir/pids.max is ${max:-unreadable}, not $want."
  exit 1
fi

found= members=
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  cg_of "$p" pids && [ "$path" = /fence ] || continue
  proc_stat "$p" || continue
  [ "$state" = Z ] && continue
  read -r comm 2>/dev/null < "$d/comm" || continue
  members="${members:+$members, }$comm (PID $p)"
  [ "$comm" = sleep ] && found=$p
done
if [ -z "$found" ]; then
  if [ -n "$members" ]; then
    echo "fence has pids.max $want, but no running sleep is a member; it holds: $members."
  else
    echo "fence has pids.max $want, but no running process is a member of it. Start a sleep inside it and leave it running."
  fi
  exit 1
fi
echo "sleep (PID $found) is running inside pids cgroup /fence, whose pids.max is $want."
exit 0
