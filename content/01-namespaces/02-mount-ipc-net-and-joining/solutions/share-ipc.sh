#!/bin/bash
# Join the producer's IPC namespace with nsenter, the way
# docker run --ipc container:producer would, and run the consumer there.
prod=$(pgrep -x producer)
# Right after the lab starts, Perl may still be loading; wait for the
# segment (a learner who has read this far never needs to).
for _ in $(seq 50); do
  nsenter --ipc=/proc/$prod/ns/ipc ipcs -m | grep -q 0x00c0ffee && break
  sleep 0.2
done
setsid nsenter --ipc=/proc/$prod/ns/ipc consumer >/dev/null 2>&1 < /dev/null &
sleep 3
