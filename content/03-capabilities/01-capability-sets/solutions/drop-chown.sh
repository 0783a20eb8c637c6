#!/bin/bash
# --drop removes CAP_CHOWN from the bounding set; --inh= empties the
# inheritable set, which would otherwise hand CAP_CHOWN straight back to the
# root-owned program that capsh executes. In a terminal the line would end
# with a plain `&`; setsid and the redirections only let this script return.
setsid capsh --drop=cap_chown --inh= -- -c 'exec uploader' >/dev/null 2>&1 < /dev/null &
sleep 1
