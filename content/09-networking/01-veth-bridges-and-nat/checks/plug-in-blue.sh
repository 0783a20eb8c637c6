#!/bin/bash
# Passes when the namespaces red (10.0.0.2) and blue (10.0.0.3) are both
# plugged into br0 (10.0.0.1/24) through veth pairs, and real pings work:
# each container reaches the gateway and the other container.

bridge_ok || exit 1
container_ok red 10.0.0.2 || exit 1
container_ok blue 10.0.0.3 || exit 1
ping_all red/10.0.0.1 blue/10.0.0.1 red/10.0.0.3 blue/10.0.0.2
for ns in red blue; do
  if [ "${answered[$ns/10.0.0.1]}" != yes ]; then
    echo "$ns is wired to br0, but a ping from $ns to the gateway 10.0.0.1 gets no answer."
    exit 1
  fi
done
if [ "${answered[red/10.0.0.3]}" != yes ]; then
  echo "red and blue both reach 10.0.0.1, but a ping from red to blue (10.0.0.3) gets no answer."
  exit 1
fi
if [ "${answered[blue/10.0.0.2]}" != yes ]; then
  echo "red reaches blue, but a ping from blue to red (10.0.0.2) gets no answer."
  exit 1
fi
echo "red (10.0.0.2) and blue (10.0.0.3) hang on br0 and ping each other and the gateway 10.0.0.1."
exit 0
