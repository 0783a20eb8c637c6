#!/bin/bash
# --drop takes CAP_SYS_ADMIN out of the bounding set, --inh= empties the
# inheritable set (which would hand it straight back to the program root
# starts). In a terminal the line would just end with `&`; setsid and the
# redirections only let this script return at once.
setsid capsh --drop=cap_sys_admin --inh= -- -c 'exec sleep 3600' >/dev/null 2>&1 < /dev/null &
sleep 1
