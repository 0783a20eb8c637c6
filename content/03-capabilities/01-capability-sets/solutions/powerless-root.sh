#!/bin/bash
# Empty the bounding set and the inheritable set, then start sleep: as root,
# it receives only what those two sets allow, which is nothing.
setsid capsh --drop=all --inh= -- -c 'exec sleep 3600' >/dev/null 2>&1 < /dev/null &
sleep 1
