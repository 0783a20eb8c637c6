#!/bin/bash
# Passes when the heartbeat service that setup.sh started is running and
# being traced by strace: the TracerPid line of its /proc/PID/status names a
# process, and that process is strace.
# Uses shell builtins only, so it neither forks much nor can hang.

hb=
for d in /proc/[0-9]*; do
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = heartbeat ] || continue
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  hb=${d#/proc/}
  break
done
if [ -z "$hb" ]; then
  echo "The heartbeat service is not running any more (no process called heartbeat). Start it again with: setsid heartbeat >/dev/null 2>&1 </dev/null &"
  exit 1
fi

tracer=0
while read -r key value _; do
  [ "$key" = TracerPid: ] && tracer=$value
done < "/proc/$hb/status"
if [ "$tracer" = 0 ]; then
  echo "heartbeat (PID $hb) is running, but nothing traces it: its TracerPid is 0. Attach strace to that PID and leave strace running."
  exit 1
fi

tcomm=
read -r tcomm 2>/dev/null < "/proc/$tracer/comm"
if [ "$tcomm" != strace ]; then
  echo "heartbeat (PID $hb) is traced by PID $tracer, which is '${tcomm:-gone}', not strace."
  exit 1
fi

echo "heartbeat (PID $hb) is being traced: its TracerPid is $tracer, and that process is strace."
exit 0
