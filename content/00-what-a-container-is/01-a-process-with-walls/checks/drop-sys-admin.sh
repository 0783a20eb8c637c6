#!/bin/bash
# Passes when some running sleep has CAP_SYS_ADMIN in none of its four
# capability sets, while its effective and permitted sets still hold every
# other capability the sandbox hands out (PID 1's effective set). Sleeps
# that hold CAP_SYS_ADMIN in every set, such as the one PID 1 keeps
# running, are ordinary sleeps and are ignored.
# Reads /proc with shell builtins; the only command it runs is capsh --decode.

if ! read_caps /proc/1/status; then
  echo "The checker cannot read the capability sets of PID 1."
  exit 1
fi
want=$(( eff & ~SYS_ADMIN ))

report=
for d in /proc/[0-9]*; do
  comm=
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = sleep ] || continue
  read_caps "$d/status" || continue
  [ "$st" = Z ] && continue
  pid=${d#/proc/}
  if (( (eff & SYS_ADMIN) && (bnd & SYS_ADMIN) )); then
    continue   # an untouched sleep
  fi
  left=$(sets_with "$SYS_ADMIN")
  if [ -n "$left" ]; then
    if (( !(bnd & SYS_ADMIN) && (inh & SYS_ADMIN) )); then
      report="sleep (PID $pid) lost CAP_SYS_ADMIN from its bounding set only; it is still in its $left. For a program that root starts, the inheritable set hands capabilities straight back, so it has to lose CAP_SYS_ADMIN too (capsh --inh=)."
    else
      report="sleep (PID $pid) still has CAP_SYS_ADMIN in its $left."
    fi
    continue
  fi
  lost=$(( want & ~(eff & prm) ))
  if (( lost )); then
    report="sleep (PID $pid) has no CAP_SYS_ADMIN, but it lost more than that: its effective or permitted set also lacks $(names "$lost"). Only CAP_SYS_ADMIN should go."
    continue
  fi
  echo "sleep (PID $pid) runs without CAP_SYS_ADMIN in any of its four sets and keeps every other capability the sandbox gives out."
  exit 0
done

if [ -n "$report" ]; then
  echo "$report"
else
  echo "No running sleep without CAP_SYS_ADMIN was found: every sleep still holds it. Start one in the background with CAP_SYS_ADMIN removed from all of its capability sets."
fi
exit 1
