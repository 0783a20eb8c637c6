#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
# It prepares two things and returns within a few seconds:
#   1. /root/build.sh            the "leaky" build job for exercise private-hostname
#   2. a worker pool in its own PID namespace, for exercise stop-the-pool:
#        unshare --pid --fork pool-supervisor   (outer namespace)
#          └─ pool-supervisor                   (PID 1 of the new namespace)
#               ├─ sleep 100000                 (worker)
#               └─ sleep 100000                 (worker)
#      Its proc view is mounted at /run/lab/pool-proc, and the supervisor's
#      PID (as the sandbox sees it) plus its start time go to /run/lab/pool-init.
set -u
mkdir -p /run/lab
hostname > /run/lab/hostname

# --- exercise private-hostname -------------------------------------------
cat > /root/build.sh <<'EOF'
#!/bin/sh
# Build job. Our release tooling stamps every artifact with the machine's
# hostname, and the release team wants that stamp to read "build-42".
hostname build-42
echo "compiling on $(hostname)"
sleep 1
echo "packaging on $(hostname)"
EOF
chmod 755 /root/build.sh

# --- exercise stop-the-pool ------------------------------------------------
cat > /usr/local/bin/pool-supervisor <<'EOF'
#!/bin/bash
# PID 1 of the pool's PID namespace. It keeps two workers alive: whenever
# one of them exits, it starts a replacement.
mount -t proc proc /run/lab/pool-proc
w1= w2=
while :; do
  kill -0 "$w1" 2>/dev/null || { sleep 100000 & w1=$!; }
  kill -0 "$w2" 2>/dev/null || { sleep 100000 & w2=$!; }
  wait -n
done
EOF
chmod 755 /usr/local/bin/pool-supervisor
mkdir -p /run/lab/pool-proc

# Start time (field 22 of /proc/PID/stat) of a process, or nothing.
starttime() {
  local line
  read -r line 2>/dev/null < "/proc/$1/stat" || return 1
  set -- ${line##*) }
  echo "${20}"
}

setsid unshare --pid --fork /usr/local/bin/pool-supervisor >/dev/null 2>&1 < /dev/null &

# Wait (at most ~5 s) for the supervisor to appear and mount its proc view.
for _ in $(seq 50); do
  if [ -e /run/lab/pool-proc/1 ]; then
    for d in /proc/[0-9]*; do
      read -r comm 2>/dev/null < "$d/comm" || continue
      [ "$comm" = pool-supervisor ] || continue
      pid=${d#/proc/}
      if st=$(starttime "$pid"); then
        echo "$pid $st" > /run/lab/pool-init
        exit 0
      fi
    done
  fi
  sleep 0.1
done
echo "setup: the worker pool did not come up" >&2
exit 1
