#!/bin/bash
# Passes when red (10.0.0.2) and blue (10.0.0.3) are still wired to br0 and
# each still gets an answer from the gateway 10.0.0.1, but neither gets an
# answer from the other any more.

bridge_ok || exit 1
container_ok red 10.0.0.2 || exit 1
container_ok blue 10.0.0.3 || exit 1
ping_all red/10.0.0.1 blue/10.0.0.1 red/10.0.0.3 blue/10.0.0.2
for ns in red blue; do
  if [ "${answered[$ns/10.0.0.1]}" != yes ]; then
    echo "$ns no longer reaches its gateway 10.0.0.1. Isolation should cut only the path between the two containers."
    exit 1
  fi
done
if [ "${answered[red/10.0.0.3]}" != no ]; then
  echo "red still gets an answer from blue (10.0.0.3): traffic between the two containers still flows across br0."
  exit 1
fi
if [ "${answered[blue/10.0.0.2]}" != no ]; then
  echo "red no longer reaches blue, but blue still gets an answer from red (10.0.0.2)."
  exit 1
fi
echo "red and blue no longer reach each other, and both still reach the gateway 10.0.0.1."
exit 0
