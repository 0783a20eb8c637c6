#!/bin/bash
# Shared by every check of this lesson (the loader prepends it to each one).
# Definitions only; reads /proc with shell builtins.

SYS_ADMIN=$(( 1 << 21 ))

# read_caps FILE: reads a /proc/.../status file and sets st (the state
# letter) and inh prm eff bnd (the four capability sets, as numbers).
# Fails when the file cannot be read or has no capability lines.
read_caps() {
  local key val
  st= inh= prm= eff= bnd=
  while read -r key val _; do
    case $key in
      State:) st=$val ;;
      CapInh:) inh=$(( 16#$val )) ;;
      CapPrm:) prm=$(( 16#$val )) ;;
      CapEff:) eff=$(( 16#$val )) ;;
      CapBnd:) bnd=$(( 16#$val )) ;;
    esac
  done 2>/dev/null < "$1"
  [ -n "$eff" ] && [ -n "$prm" ] && [ -n "$inh" ] && [ -n "$bnd" ]
}

# names MASK: the capability names in a mask (a number), comma-separated,
# or "none".
names() {
  local out
  if (( $1 == 0 )); then echo none; return; fi
  out=$(capsh --decode="$(printf '%x' "$1")" 2>/dev/null)
  echo "${out#*=}" | sed 's/,/, /g'
}

# sets_with MASK: which of the four sets just read by read_caps contain any
# bit of MASK, as words: "effective, permitted and inheritable sets",
# "bounding set", or nothing.
sets_with() {
  local l=() out
  (( eff & $1 )) && l+=(effective)
  (( prm & $1 )) && l+=(permitted)
  (( inh & $1 )) && l+=(inheritable)
  (( bnd & $1 )) && l+=(bounding)
  case ${#l[@]} in
    0) return ;;
    1) echo "${l[0]} set" ;;
    *) out=$(IFS=,; echo "${l[*]:0:${#l[@]}-1}"); echo "${out//,/, } and ${l[-1]} sets" ;;
  esac
}
