#!/bin/bash
# Shared by every check of this lesson (the loader prepends it to each one).
# Definitions only; builtins only, so nothing here forks much or can hang.

lab=/sys/fs/cgroup/lab

# Sets dir to /sys/fs/cgroup/lab/$1 and fails with a message when it does
# not exist or lacks the control file $2 (the controller is not enabled for
# the children of lab).
need_group() {
  dir=$lab/$1
  if [ ! -d "$dir" ]; then
    if [ ! -d "$lab" ]; then
      echo "There is no cgroup $lab yet, so $dir cannot exist either. Create lab first, then $1 inside it."
    else
      echo "The cgroup $dir does not exist yet (mkdir creates it)."
    fi
    return 1
  fi
  if [ ! -f "$dir/$2" ]; then
    echo "$dir has no $2 file: the ${2%%.*} controller is not enabled for the children of lab. Write +${2%%.*} to the cgroup.subtree_control of the root and then of lab."
    return 1
  fi
}

# Sets val to the value of key $2 in the flat-keyed file $1 ("key value"
# lines, as in cpu.stat and pids.events). Fails when the key is missing.
keyed() {
  local k v
  val=
  while read -r k v; do
    [ "$k" = "$2" ] && { val=$v; return 0; }
  done 2>/dev/null < "$1"
  return 1
}

# Scans cgroup.procs of cgroup $1. Sets members to a readable list of the
# live (not zombie) processes, busy to the first of them that is running or
# waiting for the CPU (state R), and busy_comm to its name.
scan_members() {
  local p line state comm
  members= busy= busy_comm=
  while read -r p; do
    [ -n "$p" ] || continue
    read -r line 2>/dev/null < "/proc/$p/stat" || continue
    set -- ${line##*) }
    state=$1
    [ "$state" = Z ] && continue
    comm=?
    read -r comm 2>/dev/null < "/proc/$p/comm"
    members="${members:+$members, }$comm (PID $p, state $state)"
    if [ "$state" = R ] && [ -z "$busy" ]; then busy=$p busy_comm=$comm; fi
  done 2>/dev/null < "$1/cgroup.procs"
}
