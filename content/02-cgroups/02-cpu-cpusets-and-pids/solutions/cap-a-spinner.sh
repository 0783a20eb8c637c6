#!/bin/bash
# Enable the controllers for the children of the root and of lab, create
# capped with a 20% quota, and start spin inside it. In a terminal one would
# type "spin &" and write $! into cgroup.procs; here a small shell moves
# itself in first and then becomes spin, and setsid plus the redirections
# only make this script return at once.
C=/sys/fs/cgroup
echo "+cpu +cpuset +pids" > $C/cgroup.subtree_control
mkdir -p $C/lab
echo "+cpu +cpuset +pids" > $C/lab/cgroup.subtree_control
mkdir -p $C/lab/capped
echo "20000 100000" > $C/lab/capped/cpu.max
setsid sh -c 'echo $$ > /sys/fs/cgroup/lab/capped/cgroup.procs && exec spin' >/dev/null 2>&1 < /dev/null &
# Let the kernel throttle it a few times before anyone looks.
sleep 1
