#!/bin/bash
# A root filesystem made of busybox and the three libraries it needs, then
# runc's template config.json, edited with jq.
mkdir -p /root/bundle/rootfs/bin /root/bundle/rootfs/www
cd /root/bundle
cp /usr/bin/busybox rootfs/bin/
cp -L --parents /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libresolv.so.2 /lib64/ld-linux-x86-64.so.2 rootfs/
chroot rootfs /bin/busybox --install -s /bin
rm -f config.json
runc spec
jq '.process.args = ["httpd", "-f", "-p", "8080", "-h", "/www"] | .process.terminal = false | .hostname = "web" | .root.readonly = false' config.json > c.json && mv c.json config.json
