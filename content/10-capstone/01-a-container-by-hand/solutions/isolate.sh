#!/bin/bash
# The rootfs, then start.sh with namespaces, hostname, pivot_root and /proc,
# started in the background.
R=/root/capstone/rootfs
mkdir -p $R/bin $R/proc $R/sys $R/dev $R/tmp
cp /bin/busybox $R/bin/
for lib in $(ldd /bin/busybox | grep -oE '/lib(64|/x86_64-linux-gnu)/[^ ]+'); do
  mkdir -p $R${lib%/*}
  cp -L $lib $R$lib
done
chroot $R /bin/busybox --install -s /bin

cat > /root/capstone/start.sh <<'EOF'
#!/bin/sh
# start.sh: starts the capstone container.
# Stop the container of an earlier run: every process whose root is the rootfs.
for p in /proc/[0-9]*; do
  [ "$p/root" -ef /root/capstone/rootfs ] && kill -9 "${p#/proc/}"
done

exec unshare --mount --uts --ipc --net --pid --fork sh -c '
  set -e
  hostname capstone
  mount --make-rprivate /
  mount --bind /root/capstone/rootfs /root/capstone/rootfs
  cd /root/capstone/rootfs
  mkdir -p old
  pivot_root . old
  mount -t proc proc /proc
  umount -l /old
  rmdir /old
  exec sleep 1000000
'
EOF
chmod +x /root/capstone/start.sh
setsid /root/capstone/start.sh >/dev/null 2>&1 </dev/null &

# Return once the container's init is up (a sleep whose root is the rootfs).
for i in $(seq 50); do
  for p in /proc/[0-9]*; do
    [ "$p/root" -ef "$R" ] && [ "$(cat $p/comm 2>/dev/null)" = sleep ] && exit 0
  done
  sleep 0.2
done
echo "the container did not come up" >&2
exit 1
