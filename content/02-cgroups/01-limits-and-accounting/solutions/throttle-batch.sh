#!/bin/bash
# Mount the cgroup hierarchies the way the lesson does (skipped for any
# that are mounted already).
mountpoint -q /sys/fs/cgroup || mount -t tmpfs cgroup_root /sys/fs/cgroup
for c in memory pids cpu,cpuacct; do
  mkdir -p /sys/fs/cgroup/$c
  mountpoint -q /sys/fs/cgroup/$c || mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done

# --cpus 0.5 means: per period (100000 us by default) the group may run for
# half of it. --cpu-shares 512 is a weight of half the default 1024.
# Both are set on a cgroup first, then the running job is moved in.
mkdir -p /sys/fs/cgroup/cpu,cpuacct/batch
echo 50000 > /sys/fs/cgroup/cpu,cpuacct/batch/cpu.cfs_quota_us
echo 512 > /sys/fs/cgroup/cpu,cpuacct/batch/cpu.shares
pgrep -x batch-job > /sys/fs/cgroup/cpu,cpuacct/batch/cgroup.procs
