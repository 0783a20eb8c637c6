#!/bin/bash
# Passes when /tmp/box/proc holds a proc filesystem mounted from inside a
# new PID namespace whose PID 1 is a running sleep, and that sleep
#   - lives in a network namespace other than the sandbox's, and
#   - has CAP_SYS_ADMIN in none of its four capability sets.
# Everything is read through the window /tmp/box/proc, because in this
# gVisor release the numbers in /proc/PID/ns do not identify namespaces.
# The network namespace is told apart by its loopback device: every
# namespace gets its own "lo", and gVisor numbers each new one with a fresh
# interface index, shown in the second column of /proc/PID/net/if_inet6.
# The sandbox's own lo (seen through PID 1) has another index.
# Reads files with shell builtins, so it neither forks much nor can hang.

dir=/tmp/box/proc

mounted=no
while read -r _ mnt fstype _; do
  [ "$mnt" = "$dir" ] && [ "$fstype" = proc ] && mounted=yes
done < /proc/mounts
if [ "$mounted" = no ]; then
  echo "Nothing is mounted at $dir yet: no box has mounted its proc view there."
  exit 1
fi
if [ -e "$dir/self/stat" ]; then
  echo "The proc at $dir shows the sandbox's own PID namespace (the checker can see itself in it). It has to be mounted from inside the box's new PID namespace."
  exit 1
fi
if ! read -r line 2>/dev/null < "$dir/1/stat"; then
  echo "The PID namespace behind $dir has no PID 1 any more: its first process has exited, and the namespace with it. Build the box again and keep its sleep running."
  exit 1
fi
set -- ${line##*) }
state=$1
comm=
read -r comm 2>/dev/null < "$dir/1/comm"
if [ "$state" = Z ]; then
  echo "PID 1 of the box ($comm) has exited."
  exit 1
fi
if [ "$comm" != sleep ]; then
  echo "PID 1 of the box is '$comm', not sleep. Let the box's first process turn into sleep with exec instead of starting sleep as its child."
  exit 1
fi

lo_index() {
  local addr idx _rest name
  while read -r addr idx _rest; do
    name=${_rest##* }
    [ "$name" = lo ] && { echo "$idx"; return 0; }
  done 2>/dev/null < "$1"
  return 1
}
box_lo=$(lo_index "$dir/1/net/if_inet6")
host_lo=$(lo_index /proc/1/net/if_inet6)
if [ -z "$box_lo" ] || [ -z "$host_lo" ]; then
  echo "The checker cannot read the loopback devices of the box and of the sandbox."
  exit 1
fi
if [ "$box_lo" = "$host_lo" ]; then
  echo "The box's sleep is PID 1 of its own PID namespace, but it shares the sandbox's network namespace (it sees the same loopback device). It needs a network namespace of its own too."
  exit 1
fi

if ! read_caps "$dir/1/status"; then
  echo "The checker cannot read the capability sets of the box's sleep."
  exit 1
fi
left=$(sets_with "$SYS_ADMIN")
if [ -n "$left" ]; then
  echo "The box's walls are up (own PID and network namespaces), but its sleep still holds CAP_SYS_ADMIN in its $left, so it could tear them down again. Drop it, bounding and inheritable sets included, after building the walls and before sleep starts."
  exit 1
fi

echo "The box is complete: sleep is PID 1 of its own PID namespace, has a network namespace of its own and holds no CAP_SYS_ADMIN."
exit 0
