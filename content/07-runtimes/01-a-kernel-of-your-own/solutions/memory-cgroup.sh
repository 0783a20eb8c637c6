#!/bin/bash
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/demo
echo 64M > /sys/fs/cgroup/demo/memory.max
setsid sleep 100000 >/dev/null 2>&1 </dev/null &
pid=$!
echo $pid > /sys/fs/cgroup/demo/cgroup.procs
# The background job is setsid until it has exec'd sleep: wait for that (a learner's check comes later anyway).
for _ in $(seq 100); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break; sleep 0.05; done
