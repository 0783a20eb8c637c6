#!/bin/bash
# Passes when a profile named lab-deny-write is loaded in enforce mode and
# behaves as asked. The checker starts probe processes under it:
#   - writing a new file in /etc must fail;
#   - writing a new file in /var/tmp must work;
#   - a sleep under the profile must accept SIGTERM from the (unconfined)
#     checker, i.e. root outside can still stop confined processes.
# Probe files are removed again.
p=lab-deny-write
label=$(label_of "$p")
if [ -z "$label" ]; then
  echo "No profile named $p is loaded (aa-exec -p $p cannot switch to it). Write it, mount securityfs at /sys/kernel/security if needed, and load it with apparmor_parser -r."
  exit 1
fi
if [ "$label" != "$p (enforce)" ]; then
  echo "$p is loaded, but processes under it get the label '$label': it must be in enforce mode."
  exit 1
fi

etc=/etc/lab-probe.$$
tmp=/var/tmp/lab-probe.$$
timeout 5 aa-exec -p "$p" -- sh -c "echo probe > $etc" 2>/dev/null
timeout 5 aa-exec -p "$p" -- sh -c "echo probe > $tmp" 2>/dev/null
etc_ok=no; tmp_ok=no
[ -e "$etc" ] && etc_ok=yes
[ -e "$tmp" ] && tmp_ok=yes
rm -f "$etc" "$tmp"
if [ "$etc_ok" = yes ]; then
  echo "$p is in enforce mode, but a process under it could create a file in /etc. Writes below /etc must be denied."
  exit 1
fi
if [ "$tmp_ok" = no ]; then
  echo "$p denies writes to /etc, but also the creation of a file in /var/tmp. Only /etc should be off limits: allow the rest (the file rule)."
  exit 1
fi

# Signal probe: a confined sleep, which must die from the checker's SIGTERM.
setsid aa-exec -p "$p" -- sleep 5 >/dev/null 2>&1 </dev/null &
pid=$!
for _ in $(seq 30); do
  cur=
  read -r cur 2>/dev/null < "/proc/$pid/attr/current"
  comm=
  read -r comm 2>/dev/null < "/proc/$pid/comm"
  [ "$comm" = sleep ] && [ "${cur%% *}" = "$p" ] && break
  sleep 0.1
done
if kill -TERM "$pid" 2>/dev/null; then
  echo "$p is loaded in enforce mode: it denies writes to /etc, allows them elsewhere, and root can still signal processes under it."
  exit 0
fi
echo "$p denies writes to /etc and allows them elsewhere, but root outside the profile cannot send a signal to a process under it (kill: Permission denied). Allow the process to receive signals from unconfined processes."
exit 1
