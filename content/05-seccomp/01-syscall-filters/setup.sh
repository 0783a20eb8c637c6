#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
# It prepares three things and returns within a second:
#   1. nothing for seccomp-deny: the lab image ships /usr/local/bin/seccomp-deny,
#      a tiny tool that installs a real seccomp filter (SECCOMP_SET_MODE_FILTER)
#      making the listed system calls fail with EPERM, then execs a command. It
#      is compiled from lab-backend/images/seccomp-deny.c when the image is built,
#      and its source is in the image at /usr/local/share/seccomp-deny/.
#   2. /usr/local/bin/heartbeat, started in the background, for exercise
#      trace-the-heartbeat
#   3. /root/prepare-cache.sh for exercise mkdir-denied
set -u
mkdir -p /run/lab /usr/local/share/seccomp-deny


# --- exercise trace-the-heartbeat -------------------------------------------
cat > /usr/local/bin/heartbeat <<'HB'
#!/bin/bash
# A stand-in for a long-running service: every two seconds it records the
# time in /run/lab/heartbeat.
while :; do
  date +%s > /run/lab/heartbeat
  sleep 2
done
HB
chmod 755 /usr/local/bin/heartbeat
setsid /usr/local/bin/heartbeat >/dev/null 2>&1 < /dev/null &

# --- exercise mkdir-denied ---------------------------------------------------
cat > /root/prepare-cache.sh <<'PC'
#!/bin/sh
# Prepares the application's cache directory before the application starts.
echo "prepare-cache: creating /var/cache/lab-app"
if ! mkdir /var/cache/lab-app; then
  echo "prepare-cache: could not create the cache, giving up" >&2
  exit 1
fi
echo "prepare-cache: cache ready"
PC
chmod 755 /root/prepare-cache.sh
exit 0
