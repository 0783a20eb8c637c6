#!/bin/bash
# Passes when /tmp/sleeper-proc holds a proc filesystem that was mounted from
# inside a new PID namespace, and PID 1 of that namespace is a running sleep.
#
# Why a window and not /proc/PID/ns/pid? In this gVisor release the number in
# that link is a per-file placeholder, not the namespace's identity, so the
# checker cannot tell namespaces apart from outside. A proc mount, however,
# always shows the PID namespace of the process that mounted it.
# Uses shell builtins only, so it neither forks much nor can hang.

dir=/tmp/sleeper-proc

mounted=no
while read -r _ mnt fstype _; do
  [ "$mnt" = "$dir" ] && [ "$fstype" = proc ] && mounted=yes
done < /proc/mounts
if [ "$mounted" = no ]; then
  echo "No sleep is running as PID 1 of a new PID namespace whose proc view is mounted at $dir yet (nothing is mounted there)."
  exit 1
fi

# A process can always find itself under "self" in a proc of its own PID
# namespace (or of a namespace that contains it). The checker runs in the
# sandbox's namespace, so if it finds itself, this is not a new namespace.
if [ -e "$dir/self/stat" ]; then
  echo "The proc at $dir shows the sandbox's own PID namespace (the checker can see itself in it). Mount it from inside the new namespace instead."
  exit 1
fi

if ! read -r line 2>/dev/null < "$dir/1/stat"; then
  echo "The namespace behind $dir has no PID 1 any more: its first process exited, which ends the namespace. Start a new one and keep its sleep running."
  exit 1
fi
set -- ${line##*) }
state=$1
read -r comm 2>/dev/null < "$dir/1/comm"
if [ "$state" = Z ]; then
  echo "PID 1 of the namespace behind $dir ($comm) has exited."
  exit 1
fi
if [ "$comm" != sleep ]; then
  echo "PID 1 of the namespace behind $dir is '$comm', not sleep. The sleep itself has to be the namespace's first process, not a child of it."
  exit 1
fi

echo "sleep is PID 1 of its own PID namespace, and $dir shows that namespace from inside."
exit 0
