#!/bin/bash
# Two sibling cgroups whose weights stand 3 to 1, each with a spinner in it.
C=/sys/fs/cgroup
echo "+cpu +cpuset +pids" > $C/cgroup.subtree_control
mkdir -p $C/lab
echo "+cpu +cpuset +pids" > $C/lab/cgroup.subtree_control
mkdir -p $C/lab/gold $C/lab/bronze
echo 300 > $C/lab/gold/cpu.weight
echo 100 > $C/lab/bronze/cpu.weight
setsid sh -c 'echo $$ > /sys/fs/cgroup/lab/gold/cgroup.procs && exec spin' >/dev/null 2>&1 < /dev/null &
setsid sh -c 'echo $$ > /sys/fs/cgroup/lab/bronze/cgroup.procs && exec spin' >/dev/null 2>&1 < /dev/null &
sleep 0.5
