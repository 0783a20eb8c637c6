#!/bin/bash
# The profile from the first exercise (loaded here if needed), then the job
# under it. In a terminal, `aa-exec -p lab-deny-write -- stamp-job &` is
# enough; setsid and the redirections let this script return at once.
grep -q ' /sys/kernel/security ' /proc/mounts || mount -t securityfs securityfs /sys/kernel/security
if ! grep -q '^lab-deny-write (enforce)' /sys/kernel/security/apparmor/profiles; then
  cat > /etc/apparmor.d/lab-deny-write <<'PROFILE'
profile lab-deny-write {
  file,
  capability,
  signal (receive) peer=unconfined,
  deny /etc/** w,
}
PROFILE
  apparmor_parser -r /etc/apparmor.d/lab-deny-write
fi
rm -f /etc/stamp-job.last
setsid aa-exec -p lab-deny-write -- /usr/local/bin/stamp-job >/dev/null 2>&1 </dev/null &
sleep 2
