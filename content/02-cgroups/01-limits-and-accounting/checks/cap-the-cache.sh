#!/bin/bash
# Passes when a memory cgroup named "cache" exists directly under the root of
# the memory hierarchy, its memory.limit_in_bytes is 67108864 (64 MiB), and
# the cache-warmer process that setup.sh started (PID and start time in
# /run/lab/cache-warmer) is a member of it.
# Uses shell builtins only, so it neither forks much nor can hang.

# Sets mnt to the mount point of the cgroup hierarchy that carries
# controller $1, from /proc/mounts (a hierarchy may carry several, as in
# "cpu,cpuacct"). Fails when no such hierarchy is mounted.
cg_mount() {
  local dev m type opts rest
  mnt=
  while read -r dev m type opts rest; do
    [ "$type" = cgroup ] || continue
    case ",$opts," in *",$1,"*) mnt=$m; return 0 ;; esac
  done < /proc/mounts
  return 1
}

# Sets path to the cgroup of PID $1 in the hierarchy that carries
# controller $2, from /proc/PID/cgroup (lines look like "3:memory:/cache").
cg_of() {
  local line rest ctls
  path=
  [ -r "/proc/$1/cgroup" ] || return 1
  while IFS= read -r line; do
    rest=${line#*:}; ctls=${rest%%:*}
    case ",$ctls," in *",$2,"*) path=${rest#*:}; return 0 ;; esac
  done 2>/dev/null < "/proc/$1/cgroup"
  return 1
}

want=67108864
if ! read -r pid start 2>/dev/null < /run/lab/cache-warmer || [ -z "$pid" ]; then
  echo "cache-warmer was never started (/run/lab/cache-warmer is missing). Restart the lab to get a fresh sandbox."
  exit 1
fi
alive=no
if read -r line 2>/dev/null < "/proc/$pid/stat"; then
  set -- ${line##*) }
  [ "${20}" = "$start" ] && [ "$1" != Z ] && alive=yes
fi
if [ "$alive" = no ]; then
  echo "cache-warmer (PID $pid) is no longer running, so it cannot be put into a cgroup. Restart the lab to get it back."
  exit 1
fi

if ! cg_mount memory; then
  echo "No cgroup hierarchy with the memory controller is mounted, so no memory cgroup can exist yet. Mount one first (the lesson mounts it at /sys/fs/cgroup/memory)."
  exit 1
fi
dir=$mnt/cache
if [ ! -d "$dir" ]; then
  echo "There is no cgroup named cache in the memory hierarchy yet ($dir does not exist)."
  exit 1
fi
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
