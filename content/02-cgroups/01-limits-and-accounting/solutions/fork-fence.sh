#!/bin/bash
# Mount the cgroup hierarchies the way the lesson does (skipped for any
# that are mounted already).
mountpoint -q /sys/fs/cgroup || mount -t tmpfs cgroup_root /sys/fs/cgroup
for c in memory pids cpu,cpuacct; do
  mkdir -p /sys/fs/cgroup/$c
  mountpoint -q /sys/fs/cgroup/$c || mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done

# Create the cgroup and its limit, then start a small shell that moves itself
# into fence and hands its PID (and membership) over to sleep with exec.
# In a terminal the line would simply end with "&"; setsid and the
# redirections only make this script return at once.
mkdir -p /sys/fs/cgroup/pids/fence
echo 20 > /sys/fs/cgroup/pids/fence/pids.max
setsid sh -c 'echo $$ > /sys/fs/cgroup/pids/fence/cgroup.procs && exec sleep 3600' >/dev/null 2>&1 < /dev/null &
sleep 0.5
