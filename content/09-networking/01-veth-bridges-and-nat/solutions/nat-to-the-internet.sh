#!/bin/bash
# Bridge and containers as in plug-in-blue, then the three pieces of the way
# out: a default route in each container, forwarding on the host, and
# Docker's MASQUERADE rule for traffic that leaves through anything but br0.
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
iptables -t nat -C POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE 2>/dev/null ||
  iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE
