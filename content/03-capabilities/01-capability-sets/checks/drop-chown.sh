#!/bin/bash
# Passes when a running uploader (/usr/local/bin/uploader, whose process name
# is "uploader") has CAP_CHOWN in none of its capability sets (effective,
# permitted, inheritable, bounding) and still holds every other capability
# the sandbox hands out (taken from PID 1's bounding set) in its effective set.
# Reads /proc with shell builtins; the only command it runs is capsh --decode.

CHOWN=$(( 1 << 0 ))
read_status 1 || { echo "Cannot read /proc/1/status."; exit 1; }
sandbox=$(( 16#$bnd ))
want=$(( sandbox & ~CHOWN ))

found=0
report=
for d in /proc/[0-9]*; do
  running_named uploader "$d" || continue
  found=1
  problems=
  if (( e & CHOWN )); then
    if (( !(b & CHOWN) && (i & CHOWN) )); then
      problems="its effective set still holds cap_chown. You removed it from the bounding set, but the inheritable set still contained it, and for a program run by root the inheritable set is passed straight on at exec"
    else
      problems="its effective set still holds cap_chown"
    fi
  else
    sets=
    (( p & CHOWN )) && sets="$sets permitted"
    (( i & CHOWN )) && sets="$sets inheritable"
    (( b & CHOWN )) && sets="$sets bounding"
    if [ -n "$sets" ]; then
      problems="cap_chown is not effective, but it is still in its${sets} set(s). A permitted capability can be switched back on at any time, and on a Linux kernel a program that root executes gets back whatever the inheritable and bounding sets still hold"
    fi
  fi
  missing=$(( want & ~e ))
  if (( missing )); then
    problems="${problems:+$problems; also, }it lost more than cap_chown: its effective set lacks $(names "$missing"). Only cap_chown should go"
  fi
  if [ -z "$problems" ]; then
    echo "uploader (PID $pid) runs without CAP_CHOWN in any of its capability sets and still has every other capability of the sandbox."
    exit 0
  fi
  report="uploader (PID $pid): $problems."
done

if [ "$found" = 0 ]; then
  echo "No uploader is running. Start /usr/local/bin/uploader in the background so that it runs without CAP_CHOWN."
  exit 1
fi
echo "$report"
exit 1
