#!/bin/bash
# Play newuidmap by hand: start sleep in a new user namespace, then, as root
# in the parent namespace, write one line to each map file. The line reads
# "first ID inside, first ID outside, how many", and the outside range is the
# one /etc/subuid (and /etc/subgid) assigns to app.
IFS=: read -r _ ustart ucount < <(grep '^app:' /etc/subuid)
IFS=: read -r _ gstart gcount < <(grep '^app:' /etc/subgid)
setsid unshare --user sleep 3600 >/dev/null 2>&1 < /dev/null &
pid=$!
sleep 0.5
echo "0 $ustart $ucount" > /proc/$pid/uid_map
echo "0 $gstart $gcount" > /proc/$pid/gid_map
