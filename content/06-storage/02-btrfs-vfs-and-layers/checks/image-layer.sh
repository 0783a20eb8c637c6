#!/bin/bash
# Passes when /mnt/btrfs is a Btrfs filesystem mounted from /root/btrfs.img
# through a loop device, holding the subvolume base and a read-only snapshot
# of it, base@v1, whose files are exactly those of layer 1-base.
# Short commands only (btrfs queries, one diff of ~17 MB); nothing can hang.

need_btrfs_mount || exit 1
need_image_layer || exit 1
echo "$M/base@v1 is a read-only snapshot of $M/base with the files of layer 1-base, on the Btrfs filesystem in /root/btrfs.img."
exit 0
