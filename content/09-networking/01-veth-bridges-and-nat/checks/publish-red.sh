#!/bin/bash
# Passes when a web server listens on TCP port 80 inside red, and
# http://203.0.113.1:8080/ returns red's page both from the "internet"
# namespace and from the host itself, while nothing in the host's namespace
# listens on port 8080 (so the port is forwarded by DNAT, not by a proxy).

if [ ! -e /run/netns/internet ]; then
  echo "The internet namespace that the lab created at start is gone. Restart the lab to get it back."
  exit 1
fi
bridge_ok || exit 1
container_ok red 10.0.0.2 || exit 1
if [ -z "$(in_ns red ss -Htln 'sport = :80' 2>/dev/null)" ]; then
  echo "Nothing listens on TCP port 80 inside red. Start the web server there: ip netns exec red busybox httpd -p 80 -h /srv/red"
  exit 1
fi
direct=$(fetch host http://10.0.0.2/)
if [ -z "$direct" ]; then
  echo "Something listens on port 80 in red, but the host cannot fetch http://10.0.0.2/ from it."
  exit 1
fi
if [ -n "$(ss -Htln 'sport = :8080' 2>/dev/null)" ]; then
  echo "A process in the host's own namespace listens on port 8080. That is a proxy, not a published port: stop it and let a DNAT rule forward the port instead."
  exit 1
fi
default_route_ok red || exit 1
forwarding_ok || exit 1
outside=$(fetch internet http://203.0.113.1:8080/)
if [ "$outside" != "$direct" ]; then
  if ! iptables -t nat -S PREROUTING 2>/dev/null | grep -q -- '-j DNAT'; then
    echo "From the internet namespace, http://203.0.113.1:8080/ does not return red's page: the nat table's PREROUTING chain has no DNAT rule."
  else
    echo "There is a DNAT rule in PREROUTING, but from the internet namespace http://203.0.113.1:8080/ still does not return red's page. Check its address, port and target (10.0.0.2:80)."
  fi
  exit 1
fi
local_page=$(fetch host http://203.0.113.1:8080/)
if [ "$local_page" != "$direct" ]; then
  echo "From the internet the published port works, but the host itself gets no page from http://203.0.113.1:8080/. Connections made on the host never pass PREROUTING; they need a rule in the nat table's OUTPUT chain."
  exit 1
fi
echo "http://203.0.113.1:8080/ returns red's page from the internet and from the host, and nothing on the host listens on 8080: DNAT does the forwarding."
exit 0
