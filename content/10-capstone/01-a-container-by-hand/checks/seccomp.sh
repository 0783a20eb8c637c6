#!/bin/bash
# The whole container: everything the drop-caps check verifies, plus a
# seccomp filter on the init (Seccomp: 2 in its status).
find_init || exit 1
check_ns || exit 1
check_root || exit 1
check_hostname || exit 1
check_cgroup || exit 1
check_caps || exit 1
check_seccomp || exit 1
echo "Container complete: init PID $PID has five new namespaces, the rootfs as its root, the hostname capstone, a 64 MiB / 16-process cgroup, no CAP_SYS_ADMIN or CAP_NET_RAW, and a seccomp filter."
exit 0
