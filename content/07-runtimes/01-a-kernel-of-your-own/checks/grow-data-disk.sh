#!/bin/bash
# Passes when
#   - /root/data.img is exactly 96 MiB (100663296 bytes),
#   - /mnt/data is mounted from a loop device backed by /root/data.img,
#   - the mounted filesystem has grown into the new space (more than 64 MiB
#     in total according to statfs; at 32 MiB it had about 25 MiB), and
#   - /mnt/data/notes.txt still holds the text setup.sh put there.
# Reads files only (plus stat), so it cannot hang.

img=/root/data.img
mnt=/mnt/data

if [ ! -f "$img" ]; then
  echo "$img is gone. Restart the lab to get the data disk back."
  exit 1
fi
size=$(stat -c %s "$img")
if [ "$size" != 100663296 ]; then
  echo "$img is $size bytes long ($((size / 1048576)) MiB); it should be 96 MiB (100663296 bytes)."
  exit 1
fi
src=
while read -r dev m _; do
  [ "$m" = "$mnt" ] && src=$dev
done < /proc/mounts
if [ -z "$src" ]; then
  echo "$img has the right size, but nothing is mounted at $mnt. Mount it there again."
  exit 1
fi
backing=
case "$src" in
  /dev/loop[0-9]*) read -r backing 2>/dev/null < "/sys/block/${src#/dev/}/loop/backing_file" ;;
esac
if [ "$backing" != "$img" ]; then
  echo "$mnt is mounted from $src, which is not a loop device backed by $img."
  exit 1
fi
total=$(stat -f -c '%b %S' "$mnt" | awk '{printf "%d", $1 * $2 / 1048576}')
if [ "$total" -le 64 ]; then
  echo "$img is 96 MiB now, but the filesystem mounted at $mnt still spans only $total MiB: the ext4 filesystem inside has not been grown into the new space (resize2fs)."
  exit 1
fi
read -r want < /run/lab/notes-token
got=
read -r got 2>/dev/null < "$mnt/notes.txt"
if [ "$got" != "$want" ]; then
  echo "The filesystem at $mnt has grown to $total MiB, but notes.txt no longer holds its original text. Restart the lab and grow the disk without reformatting it."
  exit 1
fi
echo "$img is 96 MiB, its filesystem spans $total MiB at $mnt, and notes.txt survived."
exit 0
