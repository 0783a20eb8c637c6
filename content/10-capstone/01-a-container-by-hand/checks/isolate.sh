#!/bin/bash
# Passes when the container's init (the newest process that has the rootfs
# as its root and is PID 1 of a new PID namespace) has its own mnt, uts,
# ipc, net and pid namespaces, got its root by pivot_root with the old root
# detached, has a proc of its own at /proc, and is named capstone.
find_init || exit 1
check_ns || exit 1
check_root || exit 1
check_hostname || exit 1
echo "The container's init, $(< /proc/$PID/comm) (PID $PID outside, 1 inside), runs in five new namespaces under the hostname capstone, with the rootfs as / and the host's tree detached."
exit 0
