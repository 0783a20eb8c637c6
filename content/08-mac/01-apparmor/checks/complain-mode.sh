#!/bin/bash
# Passes when the profile lab-strict is loaded in complain mode and
# /var/tmp/inventory.txt was written by /usr/local/bin/inventory running
# under it: the job records its own label on the first line, which must read
# "profile: lab-strict (complain)", and the job wrote its later lines too.
p=lab-strict
out=/var/tmp/inventory.txt
label=$(label_of "$p")
if [ -z "$label" ]; then
  echo "No profile named $p is loaded. Its file is /etc/apparmor.d/$p; apparmor_parser loads it (securityfs must be mounted at /sys/kernel/security)."
  exit 1
fi
if [ "$label" != "$p (complain)" ]; then
  echo "$p is loaded, but in the wrong mode: processes under it get the label '$label'. Switch it to complain mode."
  exit 1
fi
if [ ! -s "$out" ]; then
  echo "$p is in complain mode, but $out does not exist yet. Run /usr/local/bin/inventory under $p."
  exit 1
fi
first=$(head -n1 "$out")
if [ "$first" != "profile: $p (complain)" ]; then
  echo "$p is in complain mode, but $out was written by a job that ran as '${first#profile: }', not under $p in complain mode. Run /usr/local/bin/inventory again under $p."
  exit 1
fi
if ! grep -q '^kernel: ' "$out"; then
  echo "$out has its first line, but the rest of the inventory is missing."
  exit 1
fi
echo "$p is in complain mode, and inventory ran under it: $out starts with '$first'."
exit 0
