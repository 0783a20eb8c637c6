#!/bin/bash
# Build the image's layers the way the vfs driver does (each a full copy of
# the one below plus its own changes, and the container a copy of the top
# layer), start the same container with overlayfs, and record both sizes.
L=/root/image/layers
mkdir -p /root/vfs
cp -a $L/1-base /root/vfs/1
cp -a /root/vfs/1 /root/vfs/2 && cp -a $L/2-runtime/. /root/vfs/2/
cp -a /root/vfs/2 /root/vfs/3 && cp -a $L/3-app/. /root/vfs/3/
cp -a /root/vfs/3 /root/vfs/web

C=/root/overlay/web
mkdir -p $C/upper $C/work $C/merged
mount -t overlay overlay -o lowerdir=$L/3-app:$L/2-runtime:$L/1-base,upperdir=$C/upper,workdir=$C/work $C/merged

echo "vfs_kib=$(du -sk /root/vfs | cut -f1)" > /root/driver-report.txt
echo "overlay_kib=$(du -sck $L $C/upper | tail -n 1 | cut -f1)" >> /root/driver-report.txt
