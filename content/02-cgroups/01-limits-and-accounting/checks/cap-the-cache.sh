#!/bin/bash
# Passes when a memory cgroup named "cache" exists directly under the root of
# the memory hierarchy, its memory.limit_in_bytes is 67108864 (64 MiB), and
# the cache-warmer process that setup.sh started (PID and start time in
# /run/lab/cache-warmer) is a member of it.
# Uses shell builtins only, so it neither forks much nor can hang.

want=67108864
lab_process cache-warmer "put into a cgroup" || exit 1
cg_dir memory cache "it at /sys/fs/cgroup/memory" || exit 1
read -r limit 2>/dev/null < "$dir/memory.limit_in_bytes"
if [ "$limit" != "$want" ]; then
  echo "$dir/memory.limit_in_bytes is ${limit:-unreadable}, not $want (64 MiB written out in bytes)."
  exit 1
fi
cg_of "$pid" memory
if [ "$path" != /cache ]; then
  echo "The cache cgroup has the right limit, but cache-warmer (PID $pid) is still in memory cgroup ${path:-unknown}, not /cache."
  exit 1
fi
echo "cache-warmer (PID $pid) is a member of memory cgroup /cache, whose limit is $want bytes (64 MiB)."
exit 0
