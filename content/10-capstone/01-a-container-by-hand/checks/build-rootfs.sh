#!/bin/bash
# Passes when /root/capstone/rootfs is a small root filesystem that works on
# its own: bin/busybox is a real file, the applets the container needs are
# there, the mount points proc, sys, dev and tmp exist, and a shell started
# with chroot into it runs (which needs busybox's libraries in the rootfs).

if [ ! -d "$R" ]; then
  echo "$R does not exist yet."
  exit 1
fi
if [ ! -f "$R/bin/busybox" ] || [ -L "$R/bin/busybox" ]; then
  echo "$R/bin/busybox is missing (it must be a copy of the program, not a link to the host's)."
  exit 1
fi
missing=
for d in proc sys dev tmp; do
  [ -d "$R/$d" ] || missing="$missing $d"
done
if [ -n "$missing" ]; then
  echo "These empty mount point directories are missing from $R:$missing."
  exit 1
fi
if [ ! -L "$R/bin/sh" ] && [ ! -f "$R/bin/sh" ]; then
  echo "$R/bin/sh is missing: busybox's applets are not installed yet. Create them with chroot $R /bin/busybox --install -s /bin"
  exit 1
fi
out=$(timeout 5 chroot "$R" /bin/sh -c 'for a in sh mount umount hostname sleep pivot_root ls cat ps; do command -v $a >/dev/null || echo "missing applet: $a"; done; echo "six times seven is $((6 * 7))"' 2>&1)
rc=$?
if [ "$rc" != 0 ] || [ "${out##*$'\n'}" != "six times seven is 42" ]; then
  out=$(echo "$out" | head -n 3 | tr '\n' ' ')
  echo "A shell in the rootfs does not work: chroot $R /bin/sh says: ${out:-nothing} (exit status $rc). 'No such file or directory' although bin/sh exists means the dynamic loader is missing; 'error while loading shared libraries' names a missing library. Copy what ldd /bin/busybox lists."
  exit 1
fi
if [ "$out" != "six times seven is 42" ]; then
  echo "The shell in $R works, but: $(echo "$out" | grep missing | tr '\n' ' ')- install busybox's applets with chroot $R /bin/busybox --install -s /bin"
  exit 1
fi
echo "$R is a working root filesystem of $(du -sh "$R" | cut -f1): busybox, its libraries and the mount points proc, sys, dev and tmp."
exit 0
