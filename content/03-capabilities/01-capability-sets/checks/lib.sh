#!/bin/bash
# Shared by every check of this lesson (the loader prepends it to each one).
# Definitions only; reads /proc with shell builtins.

# Reads the status of PID $1 into st ruid euid inh prm eff bnd (capability
# sets as hex without 0x). Fails when the capability lines are missing.
read_status() {
  local key val rest
  st= ruid= euid= inh= prm= eff= bnd=
  while read -r key val rest; do
    case $key in
      State:) st=$val ;;
      Uid:) ruid=$val; euid=${rest%%[[:space:]]*} ;;
      CapInh:) inh=$val ;;
      CapPrm:) prm=$val ;;
      CapEff:) eff=$val ;;
      CapBnd:) bnd=$val ;;
    esac
  done 2>/dev/null < "/proc/$1/status"
  [ -n "$eff" ] && [ -n "$bnd" ]
}

# For /proc/PID directory $2: when the process is named $1 and running (not
# a zombie), sets pid, reads its status (see read_status) and sets e p i b to
# its effective, permitted, inheritable and bounding masks; fails otherwise.
running_named() {
  local comm
  read -r comm 2>/dev/null < "$2/comm" || return 1
  [ "$comm" = "$1" ] || return 1
  pid=${2#/proc/}
  read_status "$pid" || return 1
  [ "$st" = Z ] && return 1
  e=$(( 16#$eff )); p=$(( 16#$prm )); i=$(( 16#$inh )); b=$(( 16#$bnd ))
}

# Capability names in a mask (a number), comma-separated, or "none".
names() {
  local out
  if (( $1 == 0 )); then echo "none"; return; fi
  out=$(capsh --decode="$(printf '%x' "$1")" 2>/dev/null)
  echo "${out#*=}" | sed 's/,/, /g'
}
