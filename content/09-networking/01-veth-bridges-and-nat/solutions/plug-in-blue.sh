#!/bin/bash
# Build the bridge and both containers (skipping whatever exists already):
# a namespace per container, a veth pair whose host end joins br0, and an
# address on the end inside the namespace.
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
done
