#!/bin/bash
# Run ip inside the greeter's network namespace and bring its loopback up.
# The greeter notices within a second and starts answering.
nsenter --target "$(pgrep -x greeter)" --net ip link set lo up
sleep 2
