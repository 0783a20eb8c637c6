#!/bin/bash
# Walls first (unshare and mount need CAP_SYS_ADMIN), then the guard: capsh
# drops CAP_SYS_ADMIN, and each exec hands PID 1 on, from sh to capsh to
# bash to sleep. setsid and the redirections only let this script return.
mkdir -p /tmp/box/proc
setsid unshare --pid --net --fork sh -c 'mount -t proc proc /tmp/box/proc && exec capsh --drop=cap_sys_admin --inh= -- -c "exec sleep 3600"' >/dev/null 2>&1 < /dev/null &
sleep 1
