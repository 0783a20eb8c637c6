#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
#   1. Makes the loop driver available. Debian's cloud kernel builds it as a
#      module (CONFIG_BLK_DEV_LOOP=m), the guest has no udev to create
#      /dev/loop-control, and the learner lacks CAP_SYS_MODULE, so modprobe
#      fails. Opening the device node makes the kernel load the module itself
#      (it asks for "char-major-10-237"), which then creates /dev/loop0..7.
#   2. For exercise grow-data-disk: /root/data.img, a 32 MiB ext4 image that
#      holds notes.txt, loop-mounted at /mnt/data. The text of notes.txt is
#      also kept in /run/lab/notes-token so the check can see it survived.
set -u
mkdir -p /run/lab

[ -e /dev/loop-control ] || mknod /dev/loop-control c 10 237
timeout 10 losetup -f >/dev/null 2>&1 || { echo "setup: the loop driver did not load" >&2; exit 1; }

token="notes kept on the data disk, $(date +%s)-$RANDOM"
echo "$token" > /run/lab/notes-token
rm -f /root/data.img
truncate -s 32M /root/data.img
mkfs.ext4 -q -L data /root/data.img || exit 1
mkdir -p /mnt/data
timeout 10 mount -o loop /root/data.img /mnt/data || { echo "setup: could not mount /root/data.img" >&2; exit 1; }
# Fill the disk most of the way, as a busy data disk would be. fallocate
# reserves the blocks without writing them, which keeps the guest's page
# cache (and so QEMU's memory) small.
echo "$token" > /mnt/data/notes.txt
fallocate -l 20M /mnt/data/archive.bin || head -c 20M /dev/zero > /mnt/data/archive.bin
sync
exit 0
