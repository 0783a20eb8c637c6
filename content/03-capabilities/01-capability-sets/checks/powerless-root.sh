#!/bin/bash
# Passes when some running process has real and effective uid 0 and all four
# of its capability sets (effective, permitted, inheritable, bounding) are
# empty: root by number, with no privilege, and with no way for it or any
# program it starts to gain a capability again.
# Reads /proc with shell builtins; the only command it runs is capsh --decode.

near=
for d in /proc/[0-9]*; do
  pid=${d#/proc/}
  [ "$pid" = "$$" ] && continue
  read_status "$pid" || continue
  [ "$st" = Z ] && continue
  (( 16#$bnd == 0 )) || continue
  read -r comm 2>/dev/null < "$d/comm"
  if [ "$ruid" != 0 ] || [ "$euid" != 0 ]; then
    near="$comm (PID $pid) has an empty bounding set, but it runs as uid $euid, not as root."
    continue
  fi
  e=$(( 16#$eff )); p=$(( 16#$prm )); i=$(( 16#$inh ))
  if (( e | p | i )); then
    near="$comm (PID $pid) has an empty bounding set, but it still holds: effective $(names "$e"); permitted $(names "$p"); inheritable $(names "$i"). For a program run by root, the inheritable set survives exec even when the bounding set is empty, so empty it as well."
    continue
  fi
  echo "$comm (PID $pid) runs as root (uid 0) with empty effective, permitted, inheritable and bounding sets."
  exit 0
done

if [ -n "$near" ]; then
  echo "$near"
else
  echo "No running process has an empty bounding set yet: every process in the sandbox can still hold capabilities. Leave a root process running (a sleep 3600, for example) with all its capability sets empty."
fi
exit 1
