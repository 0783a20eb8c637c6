#!/bin/bash
# Runs the learner's /root/build.sh and passes when
#   - it prints "compiling on build-42" and "packaging on build-42", and
#   - the sandbox's own hostname never changes while it runs (sampled every
#     50 ms, so a script that renames the sandbox and renames it back also
#     fails).
# If running the script renamed the sandbox, the checker puts the name back.

script=/root/build.sh
read -r expected 2>/dev/null < /run/lab/hostname || expected=lab
[ -n "$expected" ] || expected=lab

read -r current < /proc/sys/kernel/hostname
if [ "$current" != "$expected" ]; then
  echo "The sandbox itself is called '$current' right now instead of '$expected': something renamed it outside a UTS namespace (the original build.sh does that). Set the name back with: hostname $expected"
  exit 1
fi
if [ ! -f "$script" ]; then
  echo "$script is missing."
  exit 1
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if [ -x "$script" ]; then
  timeout -k 1 6 "$script" > "$out" 2>&1 < /dev/null &
else
  timeout -k 1 6 sh "$script" > "$out" 2>&1 < /dev/null &
fi
job=$!

leaked=
while kill -0 "$job" 2>/dev/null; do
  read -r h < /proc/sys/kernel/hostname
  [ "$h" != "$expected" ] && leaked=$h
  sleep 0.05
done
wait "$job"
rc=$?
read -r h < /proc/sys/kernel/hostname
[ "$h" != "$expected" ] && leaked=$h

if [ -n "$leaked" ]; then
  hostname "$expected"
  echo "Running $script renamed the whole sandbox to '$leaked' (the checker has set it back to '$expected'). The rename has to happen inside a new UTS namespace."
  exit 1
fi
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  echo "$script did not finish within 6 seconds."
  exit 1
fi

summary=$(head -c 300 "$out" | tr '\n' '|' | sed 's/|$//; s/|/ | /g')
if grep -qx 'compiling on build-42' "$out" && grep -qx 'packaging on build-42' "$out"; then
  echo "$script prints build-42 for both steps, and the sandbox kept its name '$expected'."
  exit 0
fi
if grep -q " on $expected\$" "$out"; then
  echo "$script printed: $summary. The job sees '$expected', so the new name did not reach it: it was set in a namespace that the rest of the job does not run in."
  exit 1
fi
echo "$script should print 'compiling on build-42' and 'packaging on build-42', but it printed: ${summary:-nothing} (exit status $rc)."
exit 1
