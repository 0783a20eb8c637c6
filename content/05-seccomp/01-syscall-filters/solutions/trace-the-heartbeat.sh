#!/bin/bash
# Find the service's PID and attach strace to it in the background, with its
# trace going to a file. Attaching to a process that is not strace's own
# child needs CAP_SYS_PTRACE here (ptrace_scope 1). In a terminal the line
# would simply end with `&`; setsid and the redirections only make this
# script return at once.
setsid strace -o /tmp/heartbeat.trace -p "$(pgrep -x heartbeat)" >/dev/null 2>&1 < /dev/null &
sleep 1
