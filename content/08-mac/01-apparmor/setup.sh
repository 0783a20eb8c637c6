#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
# Writes files only (AppArmor itself is left alone: securityfs stays
# unmounted and no profile is loaded, so the learner finds that state):
#   /usr/local/bin/stamp-job     for exercise confined-job: a heartbeat loop
#                                that writes /var/tmp/stamp-job.last and also
#                                tries to write /etc/stamp-job.last
#   /usr/local/bin/inventory     for exercise complain-mode: writes
#                                /var/tmp/inventory.txt, first line = its label
#   /etc/apparmor.d/lab-strict   a profile for inventory that is too strict
set -u

cat > /usr/local/bin/stamp-job <<'JOB'
#!/bin/bash
# Heartbeat job: every second it records the time of its last run.
# It also writes a copy into /etc, which it has no business doing.
# Errors go to /var/tmp/stamp-job.log.
exec 2>> /var/tmp/stamp-job.log
while :; do
  date +%s > /var/tmp/stamp-job.last
  date +%s > /etc/stamp-job.last
  sleep 1
done
JOB
chmod 755 /usr/local/bin/stamp-job

cat > /usr/local/bin/inventory <<'JOB'
#!/bin/sh
# Writes a short description of this machine to /var/tmp/inventory.txt.
# The first line records the AppArmor label the job ran under.
out=/var/tmp/inventory.txt
{
  echo "profile: $(cat /proc/self/attr/current)"
  echo "kernel: $(uname -r)"
  echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
  echo "memory: $(grep MemTotal /proc/meminfo | tr -s ' ')"
} > "$out" && echo "inventory written to $out"
JOB
chmod 755 /usr/local/bin/inventory

cat > /etc/apparmor.d/lab-strict <<'PROFILE'
# Profile for /usr/local/bin/inventory. It was written for an older version
# of the job, which kept its output in /tmp.
profile lab-strict {
  /usr/local/bin/inventory r,
  /usr/bin/dash mrix,
  /usr/bin/cat mrix,
  /usr/bin/uname mrix,
  /usr/bin/grep mrix,
  /usr/bin/tr mrix,
  /etc/ld.so.cache r,
  /{usr/,}lib{,64}/** mr,
  /proc/cpuinfo r,
  /proc/meminfo r,
  /proc/*/attr/current r,
  /tmp/inventory.txt w,
  signal (receive) peer=unconfined,
}
PROFILE
exit 0
