#!/bin/bash
# A minimal root filesystem: busybox, the libraries ldd lists for it, its
# applets as symlinks, and empty mount points.
R=/root/capstone/rootfs
mkdir -p $R/bin $R/proc $R/sys $R/dev $R/tmp
cp /bin/busybox $R/bin/
for lib in $(ldd /bin/busybox | grep -oE '/lib(64|/x86_64-linux-gnu)/[^ ]+'); do
  mkdir -p $R${lib%/*}
  cp -L $lib $R$lib
done
chroot $R /bin/busybox --install -s /bin
