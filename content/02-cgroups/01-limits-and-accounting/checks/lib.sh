#!/bin/bash
# Shared by every check of this lesson (the loader prepends it to each one).
# Definitions only; builtins only, so nothing here forks much or can hang.

# Sets mnt to the mount point of the cgroup hierarchy that carries
# controller $1, from /proc/mounts (a hierarchy may carry several, as in
# "cpu,cpuacct"). Fails when no such hierarchy is mounted.
cg_mount() {
  local dev m type opts rest
  mnt=
  while read -r dev m type opts rest; do
    [ "$type" = cgroup ] || continue
    case ",$opts," in *",$1,"*) mnt=$m; return 0 ;; esac
  done < /proc/mounts
  return 1
}

# Sets path to the cgroup of PID $1 in the hierarchy that carries
# controller $2, from /proc/PID/cgroup (lines look like "3:memory:/cache").
cg_of() {
  local line rest ctls
  path=
  [ -r "/proc/$1/cgroup" ] || return 1
  while IFS= read -r line; do
    rest=${line#*:}; ctls=${rest%%:*}
    case ",$ctls," in *",$2,"*) path=${rest#*:}; return 0 ;; esac
  done 2>/dev/null < "/proc/$1/cgroup"
  return 1
}

# Sets state and started (state letter and start time) of PID $1 from
# /proc/PID/stat. Fails when the process is gone.
proc_stat() {
  local line
  read -r line 2>/dev/null < "/proc/$1/stat" || return 1
  set -- ${line##*) }
  state=$1 started=${20}
}

# Sets pid to the process that setup.sh started as $1 (PID and start time in
# /run/lab/$1) and fails with a message when it never started or is no
# longer running; $2 says what it then cannot be ("throttled", ...).
lab_process() {
  local start
  if ! read -r pid start 2>/dev/null < "/run/lab/$1" || [ -z "$pid" ]; then
    echo "$1 was never started (/run/lab/$1 is missing). Restart the lab to get a fresh sandbox."
    return 1
  fi
  if ! proc_stat "$pid" || [ "$started" != "$start" ] || [ "$state" = Z ]; then
    echo "$1 (PID $pid) is no longer running, so it cannot be $2. Restart the lab to get it back."
    return 1
  fi
}

# Sets dir to cgroup $2 directly under the root of the hierarchy that
# carries controller $1, and fails with a message when that hierarchy is not
# mounted or the cgroup does not exist; $3 says where the lesson mounts it.
cg_dir() {
  if ! cg_mount "$1"; then
    echo "No cgroup hierarchy with the $1 controller is mounted, so no $1 cgroup can exist yet. Mount one first (the lesson mounts $3)."
    return 1
  fi
  dir=$mnt/$2
  if [ ! -d "$dir" ]; then
    echo "There is no cgroup named $2 in the $1 hierarchy yet ($dir does not exist)."
    return 1
  fi
}
