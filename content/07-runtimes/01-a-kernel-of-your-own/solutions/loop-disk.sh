#!/bin/bash
truncate -s 64M /root/disk.img
mkfs.ext4 -q /root/disk.img
mkdir -p /mnt/disk
mount -o loop /root/disk.img /mnt/disk
echo "hello from a file that is a disk" > /mnt/disk/hello.txt
