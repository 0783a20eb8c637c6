#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
# The VM has no network card, so this gives it a pretend uplink and a
# pretend world beyond it, then returns:
#   root namespace ("the host")       eth0  203.0.113.1/24
#        | veth pair
#   namespace "internet"              eth0  203.0.113.254/24, busybox httpd
#                                           on port 80 serving /srv/internet
# "internet" gets no route to 10.0.0.0/24, just as the real internet has no
# route to private addresses: answers to containers only come back through
# NAT on the host. It also writes the page that red's web server will serve
# in the exercise publish-red (/srv/red).
set -u

ip link set lo up
ip netns add internet || exit 1
ip link add eth0 type veth peer name eth0 netns internet || exit 1
ip addr add 203.0.113.1/24 dev eth0
ip link set eth0 up
ip -n internet link set lo up
ip -n internet addr add 203.0.113.254/24 dev eth0
ip -n internet link set eth0 up

mkdir -p /srv/internet /srv/red
echo "hello from the internet (203.0.113.254)" > /srv/internet/index.html
echo "hello from the red container" > /srv/red/index.html
# busybox httpd puts itself in the background.
ip netns exec internet busybox httpd -p 80 -h /srv/internet < /dev/null > /dev/null 2>&1 || {
  echo "setup: the web server in the internet namespace did not start" >&2
  exit 1
}
exit 0
