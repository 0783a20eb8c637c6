#!/bin/bash
# Passes when a `sleep` process is running under a seccomp filter of its own:
# its /proc/PID/status says "Seccomp: 2" (filter mode) and "TracerPid: 0", so
# the filter is not just the one strace --seccomp-bpf installs while it
# traces. (Which system calls the filter denies cannot be read from outside
# in this gVisor release, so the check does not ask.) PID 1 of the sandbox,
# a plain sleep without a filter, is skipped, and so are the short sleeps of
# the heartbeat service.
# Uses shell builtins only, so it neither forks much nor can hang.

found= traced= plain=
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = 1 ] && continue
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = sleep ] || continue
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  read -r pcomm 2>/dev/null < "/proc/$2/comm" || pcomm=
  [ "$pcomm" = heartbeat ] && continue
  mode= tracer=
  while read -r key value _; do
    case $key in
      Seccomp:) mode=$value ;;
      TracerPid:) tracer=$value ;;
    esac
  done < "$d/status"
  if [ "$mode" = 2 ] && [ "$tracer" = 0 ]; then found=$pid; break; fi
  if [ "$mode" = 2 ]; then traced="$traced $pid"; else plain="$plain $pid"; fi
done

if [ -n "$found" ]; then
  echo "sleep (PID $found) is running in seccomp filter mode (Seccomp: 2), with no tracer attached."
  exit 0
fi
if [ -n "$traced" ]; then
  echo "sleep (PID${traced}) has a seccomp filter, but strace is attached to it; that filter belongs to strace's tracing. Start a sleep under a filter of its own, without a tracer."
  exit 1
fi
if [ -n "$plain" ]; then
  echo "sleep is running (PID${plain}), but without a seccomp filter (its status says Seccomp: 0). Start it through a program that installs a filter first."
  exit 1
fi
echo "No sleep process is running apart from the sandbox's own PID 1. Leave a sleep running in the background under a seccomp filter."
exit 1
