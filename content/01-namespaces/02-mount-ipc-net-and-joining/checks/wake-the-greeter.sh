#!/bin/bash
# Passes when the greeter runs in a network namespace other than the
# sandbox's own (the checker's, shared with the learner's shell), the
# loopback device in the greeter's namespace is up, and a connection to
# 127.0.0.1:8080 made inside that namespace gets "hello from the greeter".
# Joins the greeter's namespace with nsenter --net; every command runs
# under timeout, so it cannot hang.

own=/proc/$$/ns/net

greet=
for d in /proc/[0-9]*; do
  read -r c 2>/dev/null < "$d/comm" || continue
  [ "$c" = greeter ] || continue
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  greet=${d#/proc/}
  break
done
if [ -z "$greet" ]; then
  echo "The greeter is not running any more. Start it again in a network namespace of its own (setsid unshare --net greeter &), or restart the lab."
  exit 1
fi
ns=/proc/$greet/ns/net
if [ "$ns" -ef "$own" ]; then
  echo "The greeter (PID $greet) runs in the sandbox's own network namespace. It should have one of its own; restart the lab to get it back."
  exit 1
fi

link=$(timeout 5 nsenter --net="$ns" ip -o link show lo 2>&1)
flags=${link#*<}; flags=${flags%%>*}
case ",$flags," in
  *,UP,*) ;;
  *)
    echo "The loopback device in the greeter's network namespace is still down (flags: $flags), so nothing there can reach 127.0.0.1. Bring it up from inside that namespace."
    exit 1 ;;
esac

reply=$(timeout 6 nsenter --net="$ns" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080 && read -r -t 4 line <&3 && echo "$line"' 2>&1)
if [ "$reply" != "hello from the greeter" ]; then
  echo "The loopback device in the greeter's namespace is up, but 127.0.0.1:8080 there does not answer with the greeting yet (got: ${reply:-nothing}). The greeter retries every second; check again in a moment."
  exit 1
fi
echo "The greeter (PID $greet) answers on 127.0.0.1:8080 inside its own network namespace, whose loopback device is up."
exit 0
