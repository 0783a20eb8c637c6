#!/bin/bash
# Passes when
#   - /root/disk.img is a regular file of exactly 64 MiB (67108864 bytes),
#   - it holds an ext4 filesystem (superblock magic 0xEF53 at byte 1080),
#   - /mnt/disk is mounted from a loop device whose backing file is
#     /root/disk.img (looked up in /sys/block/loopN/loop/backing_file), and
#   - /mnt/disk/hello.txt is a regular file.
# Reads files only (plus one short od), so it cannot hang.

img=/root/disk.img
mnt=/mnt/disk

if [ ! -f "$img" ]; then
  echo "$img does not exist yet. Create a 64 MiB file there, e.g. with truncate -s 64M $img"
  exit 1
fi
size=$(stat -c %s "$img")
if [ "$size" != 67108864 ]; then
  echo "$img is $size bytes long; it should be exactly 64 MiB (67108864 bytes)."
  exit 1
fi
magic=$(od -An -tx1 -j 1080 -N 2 "$img" | tr -d ' \n')
if [ "$magic" != 53ef ]; then
  echo "$img holds no ext4 filesystem (no superblock magic 53 ef at byte 1080). Format it with mkfs.ext4 $img"
  exit 1
fi

src=
while read -r dev m fstype _; do
  [ "$m" = "$mnt" ] && src=$dev && type=$fstype
done < /proc/mounts
if [ -z "$src" ]; then
  echo "Nothing is mounted at $mnt. Mount the image there through a loop device (mount -o loop $img $mnt)."
  exit 1
fi
case "$src" in
  /dev/loop[0-9]*) ;;
  *) echo "$mnt is mounted from $src ($type), not from a loop device."; exit 1 ;;
esac
backing=
read -r backing 2>/dev/null < "/sys/block/${src#/dev/}/loop/backing_file"
if [ "$backing" != "$img" ]; then
  echo "$mnt is mounted from $src, but that loop device is backed by '${backing:-nothing}', not $img."
  exit 1
fi
if [ ! -f "$mnt/hello.txt" ]; then
  echo "$img is loop-mounted at $mnt, but $mnt/hello.txt does not exist yet."
  exit 1
fi
echo "$img is a 64 MiB ext4 image, mounted at $mnt through $src, and holds hello.txt."
exit 0
