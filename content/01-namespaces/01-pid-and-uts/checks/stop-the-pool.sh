#!/bin/bash
# Passes when the worker pool that setup.sh started in its own PID namespace
# is gone: its PID 1 (pool-supervisor) has exited, and nothing is left in
# the namespace. setup.sh recorded the supervisor's PID as the sandbox sees
# it, plus its start time (so a recycled PID is never mistaken for it), in
# /run/lab/pool-init, and mounted the namespace's own proc view at
# /run/lab/pool-proc.
# Uses shell builtins only, so it neither forks much nor can hang.

rec=/run/lab/pool-init
win=/run/lab/pool-proc

if ! read -r pid start 2>/dev/null < "$rec" || [ -z "$pid" ]; then
  echo "The worker pool was never set up ($rec is missing). Restart the lab to get a fresh sandbox."
  exit 1
fi

# Is the recorded supervisor still running (not a zombie)?
init_alive=no
if read -r line 2>/dev/null < "/proc/$pid/stat"; then
  set -- ${line##*) }
  state=$1
  if [ "${20}" = "$start" ] && [ "$state" != Z ] && [ "$state" != X ]; then
    init_alive=yes
  fi
fi

# What does the namespace's own proc view still list?
left=
window=no
while read -r _ mnt fstype _; do
  [ "$mnt" = "$win" ] && [ "$fstype" = proc ] && window=yes
done < /proc/mounts
if [ "$window" = yes ]; then
  for d in "$win"/[0-9]*; do
    [ -e "$d" ] || continue
    read -r line 2>/dev/null < "$d/stat" || continue   # vanished meanwhile
    set -- ${line##*) }
    [ "$1" = Z ] && continue
    read -r comm 2>/dev/null < "$d/comm" || continue
    left="${left:+$left, }$comm as PID ${d##*/}"
  done
fi

if [ "$init_alive" = yes ]; then
  if [ -n "$left" ]; then
    echo "The pool is still running: its PID namespace holds $left."
  else
    echo "The pool is still running: its supervisor, PID 1 of the pool's namespace, is alive."
  fi
  exit 1
fi

if [ -n "$left" ]; then
  echo "The pool's PID 1 is gone, but its namespace still lists: $left."
  exit 1
fi

echo "The pool's PID namespace is empty: its PID 1 (PID $pid in the sandbox) is gone, and every worker went with it."
exit 0
