#!/bin/bash
# Mount the cgroup hierarchies the way the lesson does (skipped for any
# that are mounted already).
mountpoint -q /sys/fs/cgroup || mount -t tmpfs cgroup_root /sys/fs/cgroup
for c in memory pids cpu,cpuacct; do
  mkdir -p /sys/fs/cgroup/$c
  mountpoint -q /sys/fs/cgroup/$c || mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done

# A cgroup is a directory. Set its limit (64 MiB in bytes), then move the
# running cache-warmer in by writing its PID to cgroup.procs.
mkdir -p /sys/fs/cgroup/memory/cache
echo 67108864 > /sys/fs/cgroup/memory/cache/memory.limit_in_bytes
pgrep -x cache-warmer > /sys/fs/cgroup/memory/cache/cgroup.procs
