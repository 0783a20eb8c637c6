#!/bin/bash
# seccomp-deny installs the filter and then execs sleep, so the sleep
# process itself carries the filter. Any list of system calls will do.
setsid seccomp-deny mkdir,mkdirat sleep 3600 >/dev/null 2>&1 < /dev/null &
sleep 0.5
