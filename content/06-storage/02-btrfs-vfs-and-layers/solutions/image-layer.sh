#!/bin/bash
# A Btrfs filesystem in a file, mounted through a loop device; the base
# layer as a subvolume, and the image layer as a read-only snapshot of it.
truncate -s 256M /root/btrfs.img
mkfs.btrfs -q /root/btrfs.img
mkdir -p /mnt/btrfs
mount -o loop /root/btrfs.img /mnt/btrfs
btrfs subvolume create /mnt/btrfs/base
cp -a /root/image/layers/1-base/. /mnt/btrfs/base/
btrfs subvolume snapshot -r /mnt/btrfs/base /mnt/btrfs/base@v1
