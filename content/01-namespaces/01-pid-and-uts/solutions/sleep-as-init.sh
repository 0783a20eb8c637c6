#!/bin/bash
# A short-lived sh mounts the namespace's proc view, then `exec` replaces the
# sh with sleep, so sleep keeps PID 1. In a terminal the line would simply
# end with `&`; setsid and the redirections only make this script return at
# once without holding on to its caller's output.
mkdir -p /tmp/sleeper-proc
setsid unshare --pid --fork sh -c 'mount -t proc proc /tmp/sleeper-proc && exec sleep 3600' >/dev/null 2>&1 < /dev/null &
sleep 1
