#!/bin/bash
# Passes when some running sleep is fully the app user (UID 1000 / GID 1000):
#   - Uid line of /proc/PID/status: real, effective, saved and filesystem = 1000
#   - Gid line: all four = 1000
#   - Groups line: no 0 (no root group as a supplementary group)
#   - CapEff: no capabilities at all
# The status file shows IDs as seen from the checker's (the sandbox's) user
# namespace. Uses shell builtins only, so it neither forks much nor can hang.

want=1000
best=       # most helpful complaint about a sleep that is close
others=     # what the other sleeps run as

for d in /proc/[0-9]*; do
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = sleep ] || continue
  pid=${d#/proc/}
  uids= gids= groups= capeff= state=
  while read -r key rest; do
    case $key in
      State:) state=${rest%% *} ;;
      Uid:) uids=$(echo $rest) ;;
      Gid:) gids=$(echo $rest) ;;
      Groups:) groups=" $(echo $rest) " ;;
      CapEff:) capeff=$rest ;;
    esac
  done 2>/dev/null < "$d/status"
  [ -n "$uids" ] || continue
  [ "$state" = Z ] && continue
  if [ "$uids" != "$want $want $want $want" ]; then
    set -- $uids
    others="${others:+$others, }PID $pid as UID $2"
    continue
  fi
  if [ "$gids" != "$want $want $want $want" ]; then
    set -- $gids
    best="sleep PID $pid runs as UID $want, but its group IDs are '$gids' instead of $want: so it still has the rights of group $2 (GID 0 is root's group). Switch the GID as well."
    continue
  fi
  case $groups in
    *" 0 "*)
      best="sleep PID $pid runs as UID/GID $want, but its supplementary groups ($(echo $groups)) still include 0, the root group. Clear or reset the group list."
      continue ;;
  esac
  if [ -n "$capeff" ] && [ "$capeff" != 0000000000000000 ]; then
    best="sleep PID $pid runs as UID/GID $want but still holds capabilities (CapEff $capeff). Start it the plain way, without keeping capabilities."
    continue
  fi
  echo "sleep PID $pid runs as app: UID $want and GID $want in every slot, no root group, no capabilities."
  exit 0
done

if [ -n "$best" ]; then
  echo "$best"
  exit 1
fi
echo "No sleep is running as UID $want (app) yet.${others:+ Running sleeps: $others.}"
exit 1
