#!/bin/bash
# Passes when a pids cgroup named "fence" exists directly under the root of
# the pids hierarchy, its pids.max is 20, and at least one running (not
# zombie) process whose name is sleep is a member of it.
# Uses shell builtins only, so it neither forks much nor can hang.

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

want=20
if ! cg_mount pids; then
  echo "No cgroup hierarchy with the pids controller is mounted, so no pids cgroup can exist yet. Mount one first (the lesson mounts it at /sys/fs/cgroup/pids)."
  exit 1
fi
dir=$mnt/fence
if [ ! -d "$dir" ]; then
  echo "There is no cgroup named fence in the pids hierarchy yet ($dir does not exist)."
  exit 1
fi
read -r max 2>/dev/null < "$dir/pids.max"
if [ "$max" != "$want" ]; then
  echo "$dir/pids.max is ${max:-unreadable}, not $want."
  exit 1
fi

found= members=
for d in /proc/[0-9]*; do
  p=${d#/proc/}
  cg_of "$p" pids && [ "$path" = /fence ] || continue
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  read -r comm 2>/dev/null < "$d/comm" || continue
  members="${members:+$members, }$comm (PID $p)"
  [ "$comm" = sleep ] && found=$p
done
if [ -z "$found" ]; then
  if [ -n "$members" ]; then
    echo "fence has pids.max $want, but no running sleep is a member; it holds: $members."
  else
    echo "fence has pids.max $want, but no running process is a member of it. Start a sleep inside it and leave it running."
  fi
  exit 1
fi
echo "sleep (PID $found) is running inside pids cgroup /fence, whose pids.max is $want."
exit 0
