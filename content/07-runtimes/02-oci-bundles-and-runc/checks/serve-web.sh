#!/bin/bash
# Passes when the runc container "web" is running, its PID 1 is httpd, its
# hostname (read in its UTS namespace) is "web", and a request for / on
# 127.0.0.1:8080 inside its network namespace returns a page whose body is
# the line "web".
id=web
st=$(state_of "$id")
if [ -z "$st" ]; then
  echo "runc knows no container named $id (runc list does not show it)."
  exit 1
fi
read -r status pid <<< "$st"
if [ "$status" = created ]; then
  echo "$id exists but is still in state created: its program has not been started (runc start $id)."
  exit 1
fi
if [ "$status" != running ] || ! alive "$pid"; then
  echo "$id is in state '$status', not running. Remove it (runc delete $id) and start it again."
  exit 1
fi
comm=
read -r comm 2>/dev/null < "/proc/$pid/comm"
if [ "$comm" != httpd ]; then
  echo "$id is running, but its PID 1 is '$comm', not httpd."
  exit 1
fi
hn=$(timeout 3 nsenter -t "$pid" -u hostname 2>/dev/null)
if [ "$hn" != web ]; then
  echo "$id runs httpd, but its hostname is '${hn:-unknown}', not web."
  exit 1
fi
resp=$(printf 'GET / HTTP/1.0\r\n\r\n' | timeout 5 nsenter -t "$pid" -n nc -w 2 127.0.0.1 8080 2>/dev/null | tr -d '\r')
if [ -z "$resp" ]; then
  echo "$id runs httpd with hostname web, but nothing answers on 127.0.0.1:8080 inside the container."
  exit 1
fi
code=$(head -n1 <<< "$resp" | awk '{print $2}')
body=$(sed '1,/^$/d' <<< "$resp")
if [ "$code" != 200 ]; then
  echo "httpd in $id answers GET / with status ${code:-?} instead of 200: /www/index.html is missing inside the container. Create it with runc exec."
  exit 1
fi
if [ "$body" != web ]; then
  echo "httpd in $id serves a page, but its body is '$(head -c 80 <<< "$body")' instead of the single line 'web' (the output of hostname inside the container)."
  exit 1
fi
echo "$id is running: httpd is its PID 1 (PID $pid on this machine), its hostname is web, and it serves 'web' on port 8080."
exit 0
