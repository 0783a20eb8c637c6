#!/bin/bash
# setpriv switches group list, GID and UID, then execs sleep. In a terminal
# the line would simply end with `&`; setsid and the redirections only make
# this script return at once without holding on to its caller's output.
setsid setpriv --reuid=app --regid=app --clear-groups sleep 3600 >/dev/null 2>&1 < /dev/null &
sleep 0.5
