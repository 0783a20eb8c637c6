#!/bin/bash
# Everything the limit check verifies, plus: CAP_SYS_ADMIN and CAP_NET_RAW
# are in none of the init's capability sets.
find_init || exit 1
check_ns || exit 1
check_root || exit 1
check_hostname || exit 1
check_cgroup || exit 1
check_caps || exit 1
echo "The container (init PID $PID) is isolated and limited, and its root holds neither CAP_SYS_ADMIN nor CAP_NET_RAW, not even in its bounding set."
exit 0
