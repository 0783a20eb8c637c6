#!/bin/bash
# Create bomb with room for 12 tasks, set off a fork bomb inside it, let it
# run into the limit for a moment, then kill everything in the cgroup at
# once through cgroup.kill and wait until the cgroup reports it is empty.
C=/sys/fs/cgroup
echo "+cpu +cpuset +pids" > $C/cgroup.subtree_control
mkdir -p $C/lab
echo "+cpu +cpuset +pids" > $C/lab/cgroup.subtree_control
mkdir -p $C/lab/bomb
echo 12 > $C/lab/bomb/pids.max
setsid bash -c 'echo $$ > /sys/fs/cgroup/lab/bomb/cgroup.procs; bomb() { bomb | bomb & }; bomb' >/dev/null 2>&1 < /dev/null &
sleep 2
echo 1 > $C/lab/bomb/cgroup.kill
for _ in $(seq 50); do
  grep -qx 'populated 0' $C/lab/bomb/cgroup.events && break
  sleep 0.1
done
