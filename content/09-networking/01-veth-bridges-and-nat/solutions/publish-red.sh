#!/bin/bash
# Bridge and containers with their way out (red must be able to answer
# strangers), a web server in red, and two DNAT rules: PREROUTING for
# connections that arrive from outside, OUTPUT for those the host makes.
ip link show br0 >/dev/null 2>&1 || ip link add br0 type bridge
ip addr replace 10.0.0.1/24 dev br0
ip link set br0 up
for c in red:2 blue:3; do
  ns=${c%:*} n=${c#*:}
  [ -e /run/netns/$ns ] || ip netns add $ns
  ip link show veth-$ns >/dev/null 2>&1 || ip link add veth-$ns type veth peer name eth0 netns $ns
  ip link set veth-$ns master br0 up
  ip -n $ns addr replace 10.0.0.$n/24 dev eth0
  ip -n $ns link set eth0 up
  ip -n $ns link set lo up
  ip -n $ns route replace default via 10.0.0.1
done
echo 1 > /proc/sys/net/ipv4/ip_forward
# busybox httpd puts itself in the background (started only if nothing in
# red listens on port 80 yet).
[ -n "$(ip netns exec red ss -Htln 'sport = :80')" ] || ip netns exec red busybox httpd -p 80 -h /srv/red
for chain in PREROUTING OUTPUT; do
  iptables -t nat -C $chain -d 203.0.113.1 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80 2>/dev/null ||
    iptables -t nat -A $chain -d 203.0.113.1 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80
done
