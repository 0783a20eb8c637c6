# Shared by this lesson's checks (prepended to each). The checker runs in the
# sandbox's own namespaces, outside the container, and looks at the
# container's init through /proc. Builtins and short commands only.

R=/root/capstone/rootfs
CG=/sys/fs/cgroup/capstone

# find_init: sets PID to the container's init: a process whose root
# directory is the rootfs (same device and inode) and that is PID 1 of a PID
# namespace below the sandbox's. If there are several, the newest one wins.
find_init() {
  local d p line state start ns k v last best_start=-1 others=
  PID=
  if [ ! -d "$R" ]; then
    echo "$R does not exist yet. Build the root filesystem first (the first exercise)."
    return 1
  fi
  for d in /proc/[0-9]*; do
    [ "$d/root" -ef "$R" ] 2>/dev/null || continue
    p=${d#/proc/}
    read -r line 2>/dev/null < "$d/stat" || continue
    set -- ${line##*) }
    state=$1 start=${20}
    [ "$state" = Z ] && continue
    ns=
    while read -r k v; do
      [ "$k" = NSpid: ] && ns=$v
    done 2>/dev/null < "$d/status"
    last=${ns##*[[:space:]]}
    if [ "$last" = 1 ] && [ "$ns" != 1 ]; then
      if [ "$start" -gt "$best_start" ]; then best_start=$start; PID=$p; fi
    else
      others="$others $p"
    fi
  done
  if [ -n "$PID" ]; then return 0; fi
  if [ -n "$others" ]; then
    echo "Processes run with $R as their root (PIDs:$others), but none of them is PID 1 of a new PID namespace. Start the container with unshare --pid --fork, and let the last command of the inner shell exec the long-lived program."
  else
    echo "No process runs with $R as its root directory. Start the container in the background (/root/capstone/start.sh &) and leave it running."
  fi
  return 1
}

# check_ns: the init's mnt, uts, ipc, net and pid namespaces all differ
# from the checker's (which are the sandbox's).
check_ns() {
  local ns mine theirs flag
  for ns in mnt uts ipc net pid; do
    mine=$(readlink "/proc/$$/ns/$ns")
    theirs=$(readlink "/proc/$PID/ns/$ns" 2>/dev/null)
    if [ -z "$theirs" ]; then
      echo "The container's init (PID $PID) went away while the checker looked at it."
      return 1
    fi
    if [ "$mine" = "$theirs" ]; then
      case $ns in mnt) flag=--mount ;; *) flag=--$ns ;; esac
      echo "The container's init (PID $PID) shares the sandbox's $ns namespace ($mine). Add $flag to the unshare command."
      return 1
    fi
  done
}

# check_root: the init's root is the top of its mount namespace (pivot_root,
# not chroot), the host's root filesystem is no longer mounted anywhere in
# it, and a proc of the container's own PID namespace is mounted at /proc.
check_root() {
  local top id parent majmin root mnt rest fstype procok=no c1 mine
  top=$(readlink "/proc/$PID/root")
  if [ "$top" != / ]; then
    echo "The container's init (PID $PID) sees $R as /, but only through chroot: the rest of the host's tree is still mounted in its mount namespace. Bind-mount the rootfs onto itself and use pivot_root instead."
    return 1
  fi
  while read -r id parent majmin root mnt rest; do
    fstype=${rest#* - }
    fstype=${fstype%% *}
    if [ "$root" = / ] && [ "$fstype" = ext4 ]; then
      echo "The host's root filesystem is still mounted inside the container, at $mnt. After pivot_root, detach it with umount -l."
      return 1
    fi
    [ "$mnt" = /proc ] && [ "$fstype" = proc ] && procok=yes
  done < "/proc/$PID/mountinfo"
  if [ "$procok" = no ]; then
    echo "The container has no proc filesystem at /proc. Mount one after pivot_root: mount -t proc proc /proc"
    return 1
  fi
  read -r c1 2>/dev/null < "/proc/$PID/root/proc/1/comm"
  read -r mine < "/proc/$PID/comm"
  if [ "$c1" != "$mine" ]; then
    echo "The /proc inside the container shows '${c1:-nothing}' as PID 1, not the container's init ($mine): it belongs to another PID namespace. Mount it from inside the new namespace, after pivot_root."
    return 1
  fi
}

# check_hostname: the container's UTS namespace is called capstone.
check_hostname() {
  local h
  h=$(timeout 5 nsenter -t "$PID" -u cat /proc/sys/kernel/hostname 2>/dev/null)
  if [ "$h" != capstone ]; then
    echo "Inside the container the hostname is '${h:-unknown}', not capstone. Run hostname capstone in the inner shell, inside the new UTS namespace."
    return 1
  fi
}

# check_cgroup: the init sits in /capstone, limited to 64 MiB and 16 PIDs.
check_cgroup() {
  local line cg mem pids
  cg=
  while read -r line; do
    case $line in 0::*) cg=${line#0::} ;; esac
  done < "/proc/$PID/cgroup"
  if [ "$cg" != /capstone ]; then
    echo "The container's init (PID $PID) is in the cgroup '$cg', not /capstone. Let start.sh write its own PID (\$\$) into $CG/cgroup.procs before it runs unshare."
    return 1
  fi
  read -r mem 2>/dev/null < "$CG/memory.max"
  read -r pids 2>/dev/null < "$CG/pids.max"
  if [ "$mem" != 67108864 ]; then
    echo "$CG/memory.max is '${mem:-missing}', not 64 MiB (67108864). Enable the controller with echo +memory +pids > /sys/fs/cgroup/cgroup.subtree_control, then write 64M into it."
    return 1
  fi
  if [ "$pids" != 16 ]; then
    echo "$CG/pids.max is '${pids:-missing}', not 16."
    return 1
  fi
}

# check_caps: CAP_SYS_ADMIN (21) and CAP_NET_RAW (13) are in none of the
# init's capability sets.
check_caps() {
  local k v set bad=
  while read -r k v; do
    case $k in
      CapInh:|CapPrm:|CapEff:|CapBnd:|CapAmb:)
        set=${k%:}
        (( 0x$v >> 21 & 1 )) && bad="$bad CAP_SYS_ADMIN in $set,"
        (( 0x$v >> 13 & 1 )) && bad="$bad CAP_NET_RAW in $set,"
        ;;
    esac
  done < "/proc/$PID/status"
  if [ -n "$bad" ]; then
    echo "The container's init (PID $PID) still holds${bad%,}. Start it through setpriv --bounding-set -sys_admin,-net_raw (setpriv must be inside the rootfs)."
    return 1
  fi
}

# check_seccomp: the init runs under a seccomp filter.
check_seccomp() {
  local k v mode=
  while read -r k v; do
    [ "$k" = Seccomp: ] && mode=$v
  done < "/proc/$PID/status"
  if [ "$mode" != 2 ]; then
    echo "The container's init (PID $PID) has Seccomp: ${mode:-?}, so no filter is installed. Start it through seccomp-deny (copied into the rootfs), as the last step before sleep."
    return 1
  fi
}
