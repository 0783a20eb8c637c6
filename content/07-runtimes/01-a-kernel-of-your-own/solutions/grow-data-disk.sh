#!/bin/bash
umount /mnt/data
truncate -s 96M /root/data.img
e2fsck -f -p /root/data.img
resize2fs /root/data.img
mount -o loop /root/data.img /mnt/data
