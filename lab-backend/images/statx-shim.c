/*
 * Preloaded into every lesson image (/etc/ld.so.preload). Only gVisor needs
 * it; the microVM image keeps it too, so both images behave alike and the
 * lessons that show ldd/strace output name it the same way.
 *
 * The gVisor release Debian ships (2022-12) rejects statx() calls that carry
 * AT_NO_AUTOMOUNT with EINVAL, and coreutils 9 passes that flag on every
 * `ls` and `stat`, so both fail with "Invalid argument". Linux treats the flag
 * as a no-op for stat-like calls on anything but automount points, so
 * dropping it keeps the behaviour learners expect on a real kernel.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct statx;

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
  return (int)syscall(SYS_statx, dirfd, path, flags & ~AT_NO_AUTOMOUNT, mask, buf);
}
