#!/bin/bash
# Passes when runc knows a container "lab1" in state "created": its init
# process (runc init, waiting on exec.fifo) is alive, and the cgroup runc put
# it in has pids.max = 32.
id=lab1
st=$(state_of "$id")
if [ -z "$st" ]; then
  echo "runc knows no container named $id (runc list does not show it). Create it with runc create, from a bundle whose config.json sets the pids limit."
  exit 1
fi
read -r status pid <<< "$st"
case "$status" in
  created) ;;
  running)
    echo "$id is running: it has been started already. Remove it (runc kill $id KILL, then runc delete $id) and create it again without starting it."
    exit 1 ;;
  *)
    echo "$id is in state '$status', not created. Remove it (runc delete $id) and create it again."
    exit 1 ;;
esac
if ! alive "$pid"; then
  echo "runc says $id is created, but its init process $pid is gone."
  exit 1
fi
comm=
read -r comm 2>/dev/null < "/proc/$pid/comm"

cg=
while IFS=: read -r hid _ path; do
  [ "$hid" = 0 ] && cg=$path
done < "/proc/$pid/cgroup"
file=/sys/fs/cgroup${cg%/}/pids.max
max=
read -r max 2>/dev/null < "$file"
if [ "$max" != 32 ]; then
  echo "$id is created and its init (PID $pid, $comm) is waiting, but its cgroup ${cg:-?} has pids.max '${max:-missing}', not 32. Set linux.resources.pids.limit in config.json, then delete and create $id again."
  exit 1
fi
echo "$id is created but not started: PID $pid ($comm) waits in cgroup $cg, where pids.max is 32."
exit 0
