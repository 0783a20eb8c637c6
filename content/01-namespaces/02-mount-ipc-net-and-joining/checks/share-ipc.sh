#!/bin/bash
# Passes when
#   - the producer (setup.sh started it) runs in an IPC namespace other than
#     the sandbox's own (the checker's, shared with the learner's shell),
#   - a running consumer is in that very IPC namespace (same identity behind
#     /proc/PID/ns/ipc, compared with [ -ef ]),
#   - inside that namespace (nsenter --ipc, ipcs -m) the segment with key
#     0x00c0ffee exists and at least two processes are attached to it, and
#   - the sandbox's own IPC namespace has no segment with that key.
# Runs nsenter and ipcs under timeout, so it cannot hang.

key=0x00c0ffee
own=/proc/$$/ns/ipc

# running NAME: prints the PIDs of running (non-zombie) processes named NAME.
running() {
  local d c line
  for d in /proc/[0-9]*; do
    read -r c 2>/dev/null < "$d/comm" || continue
    [ "$c" = "$1" ] || continue
    read -r line 2>/dev/null < "$d/stat" || continue
    set -- "$1" ${line##*) }
    [ "$2" = Z ] && continue
    echo "${d#/proc/}"
  done
}

# nattch FILE: the attach count of segment $key in ipcs -m output, or nothing.
nattch() {
  local k _id _owner _perms _bytes n _rest
  while read -r k _id _owner _perms _bytes n _rest; do
    [ "$k" = "$key" ] && { echo "$n"; return; }
  done <<< "$1"
}

prod=$(running producer | head -n 1)
if [ -z "$prod" ]; then
  echo "The producer is not running any more. Start it again in an IPC namespace of its own (setsid unshare --ipc producer &), or restart the lab."
  exit 1
fi
if [ "/proc/$prod/ns/ipc" -ef "$own" ]; then
  echo "The producer (PID $prod) runs in the sandbox's own IPC namespace. It should keep a namespace of its own, as a container would; restart the lab to get it back."
  exit 1
fi

cons=
elsewhere=
for p in $(running consumer); do
  if [ "/proc/$p/ns/ipc" -ef "/proc/$prod/ns/ipc" ]; then
    cons=$p
    break
  fi
  elsewhere=$p
done
if [ -z "$cons" ]; then
  if [ -n "$elsewhere" ]; then
    echo "A consumer runs (PID $elsewhere), but in another IPC namespace than the producer's, so it cannot see the producer's segment."
  else
    echo "No consumer is running in the producer's IPC namespace. Started anywhere else, consumer finds no segment with key $key and exits at once."
  fi
  exit 1
fi

inside=$(timeout 5 nsenter --ipc="/proc/$prod/ns/ipc" ipcs -m 2>&1)
n=$(nattch "$inside")
if [ -z "$n" ]; then
  echo "consumer (PID $cons) shares the producer's IPC namespace, but that namespace has no segment with key $key any more. Restart the lab to get a fresh producer."
  exit 1
fi
if [ "$n" -lt 2 ]; then
  echo "consumer (PID $cons) shares the producer's IPC namespace, but only $n process is attached to segment $key. Give the consumer a moment to start, then check again."
  exit 1
fi

outside=$(timeout 5 ipcs -m 2>&1)
if [ -n "$(nattch "$outside")" ]; then
  echo "The consumer reads the producer's segment, but the sandbox's own IPC namespace has a segment with key $key too. Only the producer's namespace should hold it; remove the extra one with ipcrm -M $key."
  exit 1
fi

echo "consumer (PID $cons) and producer (PID $prod) share one IPC namespace, where $n processes are attached to segment $key; the sandbox's own IPC namespace has no such segment."
exit 0
