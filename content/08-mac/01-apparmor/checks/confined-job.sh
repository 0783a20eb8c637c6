#!/bin/bash
# Passes when /usr/local/bin/stamp-job runs under lab-deny-write in enforce
# mode (read from /proc/PID/attr/current), its heartbeat file
# /var/tmp/stamp-job.last was written in the last 10 seconds, and
# /etc/stamp-job.last does not exist: the write into /etc was denied.
p=lab-deny-write
confined=
others=
for d in /proc/[0-9]*; do
  comm=
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = stamp-job ] || continue
  cur=
  read -r cur 2>/dev/null < "$d/attr/current"
  if [ "$cur" = "$p (enforce)" ]; then
    confined=${d#/proc/}
  else
    others="$others ${d#/proc/} (${cur:-?})"
  fi
done
if [ -z "$confined" ]; then
  if [ -n "$others" ]; then
    echo "stamp-job is running, but not under $p in enforce mode: PID and label:$others. Stop it and start it again under the profile."
  else
    echo "stamp-job is not running. Start /usr/local/bin/stamp-job under the profile $p, in the background."
  fi
  exit 1
fi
if [ -e /etc/stamp-job.last ]; then
  echo "stamp-job runs under $p (PID $confined), but /etc/stamp-job.last exists: the job wrote it at some point, unconfined or under a profile that allowed it. Delete the file; the confined job must not be able to create it again."
  exit 1
fi
now=$(date +%s)
mt=$(stat -c %Y /var/tmp/stamp-job.last 2>/dev/null)
if [ -z "$mt" ] || [ $((now - mt)) -gt 10 ]; then
  echo "stamp-job runs under $p (PID $confined), but /var/tmp/stamp-job.last was not written in the last 10 seconds: the profile blocks the job's allowed write too."
  exit 1
fi
echo "stamp-job (PID $confined) runs as '$p (enforce)': its heartbeat in /var/tmp is fresh, and /etc/stamp-job.last does not exist."
exit 0
