#!/bin/bash
# Passes when /mnt/merged is an overlay mount that shows the image's three
# layers in the right order, and the file etc/hostname (content web-2) that
# the learner wrote through it sits in /srv/containers/web-2/upper.
#
# In this gVisor release /proc/mounts lists an overlay without its options
# (no lowerdir=, upperdir=), so the checker recognises the layers by what the
# merged view shows: each layer contributes files, and where two layers hold
# the same path, the upper layer's copy must win. The upper directory is
# recognised by the hostname file the learner created through the mount.
# Short commands and builtins only; nothing here can hang.

m=/mnt/merged
L=/srv/image/layers
up=/srv/containers/web-2/upper

fstype=
while read -r _ mnt fs _; do
  [ "$mnt" = "$m" ] && fstype=$fs
done < /proc/mounts
if [ -z "$fstype" ]; then
  echo "Nothing is mounted at $m yet. Create the directory and mount an overlay of the three layers in $L there."
  exit 1
fi
if [ "$fstype" != overlay ]; then
  echo "$m is a $fstype mount, not an overlay. Unmount it (umount $m) and mount the layers with -t overlay."
  exit 1
fi

missing=
[ -e "$m/usr/lib/libbase.so.1" ] || missing="$missing 1-base (usr/lib/libbase.so.1),"
[ -e "$m/opt/runtime/VERSION" ] || missing="$missing 2-runtime (opt/runtime/VERSION),"
[ -e "$m/app/start.sh" ] || missing="$missing 3-app (app/start.sh),"
if [ -n "$missing" ]; then
  echo "The overlay at $m is missing files of these layers:${missing%,}. List all three layer directories in lowerdir=, separated by colons."
  exit 1
fi

read -r motd 2>/dev/null < "$m/etc/motd"
read -r paths 2>/dev/null < "$m/etc/paths"
if [ "$motd" != "Welcome to the web app image" ] || [ "$paths" != "PATH=/opt/runtime/bin:/bin:/usr/bin" ]; then
  echo "The layers are stacked in the wrong order: $m/etc/motd reads '$motd' and $m/etc/paths reads '$paths', so the base layer is hiding files of the layers built on top of it. In lowerdir= the leftmost directory is the top layer."
  exit 1
fi

for d in "$L"/*/; do
  if [ -e "$d/etc/hostname" ]; then
    echo "The image layer ${d%/} now contains etc/hostname. Layers are shared by every container and must stay untouched: remove ${d%/}/etc/hostname and write the file through $m instead."
    exit 1
  fi
done

if [ ! -f "$m/etc/hostname" ]; then
  echo "The overlay at $m looks right. Now give this container its name: create etc/hostname containing web-2 through $m."
  exit 1
fi
read -r name < "$m/etc/hostname"
if [ "$name" != web-2 ]; then
  echo "$m/etc/hostname contains '$name' instead of web-2."
  exit 1
fi
if [ ! -f "$up/etc/hostname" ]; then
  if [ -e /srv/containers/web/upper/etc/hostname ]; then
    echo "The hostname file landed in /srv/containers/web/upper, the first container's writable layer. The new container needs its own upperdir=$up (and workdir=/srv/containers/web-2/work)."
  else
    echo "$m/etc/hostname exists, but not in $up: the overlay uses a different upper directory. Remount it with upperdir=$up and workdir=/srv/containers/web-2/work."
  fi
  exit 1
fi
read -r name < "$up/etc/hostname"
if [ "$name" != web-2 ]; then
  echo "$up/etc/hostname contains '$name', but $m shows web-2: the overlay at $m does not use $up as its upper directory."
  exit 1
fi

echo "$m stacks 3-app over 2-runtime over 1-base, and the new etc/hostname went into the container's own layer $up."
exit 0
