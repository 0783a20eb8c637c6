#!/bin/bash
# Start the web container from the first exercise's bundle (built here if it
# is missing), then write its page from inside with runc exec.
if [ ! -f /root/bundle/config.json ]; then
  mkdir -p /root/bundle/rootfs/bin /root/bundle/rootfs/www
  cd /root/bundle
  cp /usr/bin/busybox rootfs/bin/
  cp -L --parents /lib/x86_64-linux-gnu/libc.so.6 /lib/x86_64-linux-gnu/libresolv.so.2 /lib64/ld-linux-x86-64.so.2 rootfs/
  chroot rootfs /bin/busybox --install -s /bin
  runc spec
  jq '.process.args = ["httpd", "-f", "-p", "8080", "-h", "/www"] | .process.terminal = false | .hostname = "web" | .root.readonly = false' config.json > c.json && mv c.json config.json
fi
cd /root/bundle
runc run -d web >/dev/null 2>&1 </dev/null
runc exec web sh -c 'hostname > /www/index.html'
