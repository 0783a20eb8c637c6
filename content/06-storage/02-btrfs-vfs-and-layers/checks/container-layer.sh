#!/bin/bash
# Passes when /mnt/btrfs/container1 is a writable snapshot of base@v1 in
# which etc/motd reads "Welcome to container1" and usr/lib/libbase.so.1 has
# been appended to, while base@v1 is unchanged and container1 owns less than
# 1 MiB of data of its own (so the library's blocks are still shared).
# Short commands only; nothing here can hang.

c=$M/container1
lib=usr/lib/libbase.so.1

need_btrfs_mount || exit 1
need_image_layer || exit 1

if [ ! -e "$c" ]; then
  echo "$c does not exist yet. Create it as a snapshot of $M/base@v1 (without -r)."
  exit 1
fi
if ! is_subvol "$c"; then
  echo "$c is an ordinary directory, not a subvolume. Remove it and create it with btrfs subvolume snapshot $M/base@v1 $c."
  exit 1
fi
v1_uuid=$(subvol_field "$M/base@v1" UUID)
parent=$(subvol_field "$c" "Parent UUID")
if [ "$parent" != "$v1_uuid" ]; then
  echo "$c is not a snapshot of $M/base@v1 (its parent UUID is '${parent:--}', base@v1's UUID is '$v1_uuid'). Containers start from the read-only image layer."
  exit 1
fi
ro=$(ro_of "$c")
if [ "$ro" != false ]; then
  echo "$c is read-only (ro=$ro). A container layer has to be writable: take the snapshot without -r."
  exit 1
fi

motd=
[ -f "$c/etc/motd" ] && motd=$(< "$c/etc/motd")
if [ "$motd" != "Welcome to container1" ]; then
  echo "$c/etc/motd reads '${motd:-(nothing)}' instead of 'Welcome to container1'."
  exit 1
fi

if [ ! -f "$c/$lib" ]; then
  echo "$c/$lib is missing. The container needs the image's library, with something appended."
  exit 1
fi
base_size=$(stat -c %s "$M/base@v1/$lib")
size=$(stat -c %s "$c/$lib")
if [ "$size" -le "$base_size" ]; then
  echo "$c/$lib is $size bytes, the image's copy $base_size. Append something to it, e.g. with echo appended >> $c/$lib."
  exit 1
fi
if ! cmp -s -n "$base_size" "$M/base@v1/$lib" "$c/$lib"; then
  echo "The first $base_size bytes of $c/$lib differ from the image's library: it was changed, not only appended to. Delete the snapshot (btrfs subvolume delete $c), take it again and append with >>."
  exit 1
fi

sync -f "$c" 2>/dev/null || sync
read -r _ excl shared _ < <(timeout 10 btrfs filesystem du -s --raw "$c" 2>/dev/null | tail -n 1)
if ! [[ "$excl" =~ ^[0-9]+$ ]]; then
  echo "btrfs filesystem du could not measure $c."
  exit 1
fi
if [ "$excl" -ge 1048576 ]; then
  echo "$c owns $((excl / 1024)) KiB of data of its own: the library was rewritten in full rather than appended to (an editor, sed -i or cp write a complete new file). Delete the snapshot (btrfs subvolume delete $c), take it again and append with >>."
  exit 1
fi

echo "$c is a writable snapshot of base@v1 that changed etc/motd and appended to the library, yet owns only $((excl / 1024)) KiB of its own; $((shared / 1048576)) MiB are still shared with the image."
exit 0
