#!/bin/bash
# Everything the isolate check verifies, plus: the init sits in the cgroup
# /capstone with memory.max = 64 MiB and pids.max = 16.
find_init || exit 1
check_ns || exit 1
check_root || exit 1
check_hostname || exit 1
check_cgroup || exit 1
echo "The container (init PID $PID) is isolated and sits in the cgroup /capstone, limited to 64 MiB of memory and 16 processes."
exit 0
