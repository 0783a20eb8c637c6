#!/bin/bash
# `ps -ef --forest` shows the pool: unshare -> pool-supervisor -> sleep, sleep.
# pool-supervisor is PID 1 of the pool's namespace. One SIGKILL to it ends
# the whole namespace, because the kernel then kills every other process in
# it. (Killing the sleep workers is useless: the supervisor restarts them.
# SIGKILL rather than SIGTERM, because on a normal Linux kernel a namespace's
# init ignores signals it has no handler for.)
kill -KILL "$(pgrep -x pool-supervisor)"
sleep 0.5
