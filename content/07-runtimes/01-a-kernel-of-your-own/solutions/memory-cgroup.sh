#!/bin/bash
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/demo
echo 64M > /sys/fs/cgroup/demo/memory.max
setsid sleep 100000 >/dev/null 2>&1 </dev/null &
echo $! > /sys/fs/cgroup/demo/cgroup.procs
