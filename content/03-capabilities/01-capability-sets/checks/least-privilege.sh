#!/bin/bash
# Passes when a running archiver (/usr/local/bin/archiver, process name
# "archiver")
#   - has exactly CAP_CHOWN and CAP_DAC_OVERRIDE in its effective set,
#   - cannot reach any other capability: its permitted, inheritable and
#     bounding sets hold nothing beyond those two (the archiver is a shell
#     script, and on a Linux kernel each cat, chown and mv it runs as root
#     receives whatever the inheritable and bounding sets allow; gVisor
#     never raises a permitted set at exec, but the check asks for a set
#     that is safe on Linux as well), and
#   - is doing its job: /srv/archive/status says "PID ok" for that PID.
#     The archiver rewrites that file every 2 seconds, so the check waits
#     up to 3 seconds for a round from the process it found.
# Reads /proc with shell builtins; only capsh --decode and sleep are run.

NEED=$(( (1 << 0) | (1 << 1) ))   # cap_chown, cap_dac_override

found=0
report=
for d in /proc/[0-9]*; do
  running_named archiver "$d" || continue
  found=1
  problems=
  lacking=$(( NEED & ~e ))
  if (( lacking )); then
    problems="its effective set lacks $(names "$lacking"), which it needs for its work"
  fi
  extra=$(( e & ~NEED ))
  if (( extra )); then
    problems="${problems:+$problems; }its effective set holds more than it needs: $(names "$extra")"
  else
    if (( p & ~NEED )); then
      problems="${problems:+$problems; }its permitted set still holds $(names $(( p & ~NEED ))), which it can switch on again at any time"
    elif (( (i | b) & ~NEED )); then
      sets=
      (( i & ~NEED )) && sets="$sets inheritable"
      (( b & ~NEED )) && sets="$sets bounding"
      problems="${problems:+$problems; }its${sets} set(s) still allow $(names $(( (i | b) & ~NEED ))). On a Linux kernel, every cat, chown and mv it runs as root would receive those again at exec (this gVisor release never raises a permitted set at exec, but the job should be safe on a real kernel too)"
    fi
  fi
  if [ -n "$problems" ]; then
    report="archiver (PID $pid): $problems."
    continue
  fi
  # The capabilities are right; is it actually working?
  line=
  for _ in $(seq 15); do
    read -r spid result 2>/dev/null < /srv/archive/status
    if [ "$spid" = "$pid" ]; then line=$result; break; fi
    sleep 0.2
  done
  if [ "$line" = ok ]; then
    echo "archiver (PID $pid) does its job with exactly cap_chown and cap_dac_override, and nothing it starts can get more."
    exit 0
  fi
  if [ -n "$line" ]; then
    report="archiver (PID $pid) has the right capabilities, but its last round reports: $line."
  else
    report="archiver (PID $pid) has the right capabilities, but it has not finished a round yet (/srv/archive/status does not mention it)."
  fi
done

if [ "$found" = 0 ]; then
  echo "No archiver is running. Start /usr/local/bin/archiver in the background with only the capabilities it needs."
  exit 1
fi
echo "$report"
exit 1
