#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
# Returns within a few seconds. It prepares:
#   /dev/loop-control            so that mount -o loop works: the guest has no
#                                udev, and opening this node makes the kernel
#                                load the loop module, which then creates
#                                /dev/loop0..7 (see 07-runtimes/01 for more)
#   /root/image/layers/1-base    layer 1: a 16 MiB library, a few config
#                                files and 300 small locale files
#   /root/image/layers/2-runtime layer 2: a 4 MiB library and a new etc/paths
#   /root/image/layers/3-app     layer 3: a few small files
#   /root/image/history          what `docker history` would say about them
# Everything lives on the root disk, not on /tmp: /tmp is a tmpfs, and the
# machine has only about 470 MiB of memory.
set -eu

[ -e /dev/loop-control ] || mknod /dev/loop-control c 10 237
timeout 10 losetup -f >/dev/null 2>&1 || { echo "setup: the loop driver did not load" >&2; exit 1; }

L=/root/image/layers
rm -rf /root/image
mkdir -p "$L"

# --- layer 1: the base system --------------------------------------------------
b=$L/1-base
mkdir -p $b/etc $b/usr/lib $b/usr/share/doc/base $b/usr/share/i18n/locales $b/bin
printf 'PRETTY_NAME="Lab Linux 1.0"\nID=lablinux\nVERSION_ID=1.0\n' > $b/etc/os-release
echo 'Welcome to Lab Linux (base image)' > $b/etc/motd
echo 'PATH=/bin:/usr/bin' > $b/etc/paths
echo 'Lab Linux base system.' > $b/usr/share/doc/base/README
printf '#!/bin/sh\necho hello from the base layer\n' > $b/bin/hello
chmod 755 $b/bin/hello
for i in $(seq -w 1 300); do
  printf 'LC_IDENTIFICATION\ntitle "lab locale %s"\nEND LC_IDENTIFICATION\n' "$i" > $b/usr/share/i18n/locales/lab_$i
done
head -c 16M /dev/urandom > $b/usr/lib/libbase.so.1

# --- layer 2: what "RUN install-runtime" added ----------------------------------
r=$L/2-runtime
mkdir -p $r/opt/runtime/bin $r/opt/runtime/lib $r/etc
printf '#!/bin/sh\necho runtime 2.4\n' > $r/opt/runtime/bin/runtime
chmod 755 $r/opt/runtime/bin/runtime
head -c 4M /dev/urandom > $r/opt/runtime/lib/libruntime.so.2
echo 'PATH=/opt/runtime/bin:/bin:/usr/bin' > $r/etc/paths

# --- layer 3: what "COPY app/ /" added ------------------------------------------
a=$L/3-app
mkdir -p $a/app $a/etc/app
printf '#!/bin/sh\nexec /opt/runtime/bin/runtime --config /etc/app/server.conf\n' > $a/app/start.sh
chmod 755 $a/app/start.sh
printf '# web server settings\nport = 8080\nworkers = 1\n' > $a/etc/app/server.conf
echo 'Welcome to the web app image' > $a/etc/motd

cat > /root/image/history <<'EOT'
IMAGE          CREATED BY                          SIZE      LAYER DIRECTORY
5b2e81c07a44   CMD ["/app/start.sh"]               0B
<missing>      COPY app/ /                         145B      3-app
<missing>      RUN install-runtime /opt/runtime    4.19MB    2-runtime
<missing>      ADD base-rootfs.tar /               16.8MB    1-base
EOT
sync
exit 0
