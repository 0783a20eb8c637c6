#!/bin/bash
# Everything from the image-layer exercise, then the container: a writable
# snapshot of the read-only image layer, with one file replaced and one
# big file appended to (which copies a single block, not the file).
truncate -s 256M /root/btrfs.img
mkfs.btrfs -q /root/btrfs.img
mkdir -p /mnt/btrfs
mount -o loop /root/btrfs.img /mnt/btrfs
btrfs subvolume create /mnt/btrfs/base
cp -a /root/image/layers/1-base/. /mnt/btrfs/base/
btrfs subvolume snapshot -r /mnt/btrfs/base /mnt/btrfs/base@v1

btrfs subvolume snapshot /mnt/btrfs/base@v1 /mnt/btrfs/container1
echo 'Welcome to container1' > /mnt/btrfs/container1/etc/motd
echo appended >> /mnt/btrfs/container1/usr/lib/libbase.so.1
