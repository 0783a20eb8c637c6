#!/bin/bash
# Passes when both containers fetch the page of the web server at
# 203.0.113.254 in the "internet" namespace, the nat table's POSTROUTING
# chain holds a MASQUERADE (or SNAT) rule, and "internet" still has no route
# back to 10.0.0.0/24, so the answers can only come back through the NAT.

if [ ! -e /run/netns/internet ]; then
  echo "The internet namespace that the lab created at start is gone. Restart the lab to get it back."
  exit 1
fi
bridge_ok || exit 1
container_ok red 10.0.0.2 || exit 1
container_ok blue 10.0.0.3 || exit 1
default_route_ok red || exit 1
default_route_ok blue || exit 1
forwarding_ok || exit 1
if ip -n internet route get 10.0.0.2 >/dev/null 2>&1; then
  echo "The internet namespace has been given a route to 10.0.0.0/24. The real internet has no route to private addresses: remove it (ip -n internet route show) and let NAT on the host do the work."
  exit 1
fi
rules=$(iptables -t nat -S POSTROUTING 2>/dev/null)
if ! grep -qE -- '-j (MASQUERADE|SNAT)' <<< "$rules"; then
  echo "The nat table's POSTROUTING chain has no MASQUERADE rule, so packets from 10.0.0.0/24 leave the host with private source addresses that the internet cannot answer."
  exit 1
fi
want="hello from the internet"
for ns in red blue; do
  page=$(fetch "$ns" http://203.0.113.254/)
  case "$page" in
    *"$want"*) ;;
    *) echo "There is a MASQUERADE rule, but $ns cannot fetch http://203.0.113.254/ (nothing came back within 2 seconds)."; exit 1 ;;
  esac
done
echo "red and blue both fetch http://203.0.113.254/ through the host's MASQUERADE rule, and the internet still has no route to 10.0.0.0/24."
exit 0
