#!/bin/bash
# securityfs first (apparmor_parser talks to the kernel through it), then the
# profile: everything allowed except writes below /etc, plus a rule that lets
# unconfined processes (root's shell) send signals to confined ones.
grep -q ' /sys/kernel/security ' /proc/mounts || mount -t securityfs securityfs /sys/kernel/security
cat > /etc/apparmor.d/lab-deny-write <<'PROFILE'
profile lab-deny-write {
  file,
  capability,
  signal (receive) peer=unconfined,
  deny /etc/** w,
}
PROFILE
apparmor_parser -r /etc/apparmor.d/lab-deny-write
