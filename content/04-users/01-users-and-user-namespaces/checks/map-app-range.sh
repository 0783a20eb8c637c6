#!/bin/bash
# Passes when a running sleep sits in a user namespace of its own whose
# uid_map is exactly one line "0 START COUNT", with START:COUNT being app's
# range in /etc/subuid, and whose gid_map is the same for /etc/subgid.
# Processes in the sandbox's own user namespace show the identity map
# "0 0 4294967295"; a brand-new namespace shows an empty map until someone
# writes it. Builtins only, apart from nothing: it cannot hang.

range() {   # range FILE -> "START COUNT" of app's entry, or nothing
  local name start count
  while IFS=: read -r name start count; do
    if [ "$name" = app ] || [ "$name" = 1000 ]; then echo "$start $count"; return 0; fi
  done 2>/dev/null < "$1"
  return 1
}
maptext() { # maptext FILE -> its lines, columns normalised, joined by " | "
  local a b c out=
  while read -r a b c; do
    [ -n "$a" ] || continue
    out="${out:+$out | }$a $b $c"
  done 2>/dev/null < "$1"
  echo "$out"
}

urange=$(range /etc/subuid) || { echo "/etc/subuid has no range for app. Restart the lab to get a fresh sandbox."; exit 1; }
grange=$(range /etc/subgid) || { echo "/etc/subgid has no range for app. Restart the lab to get a fresh sandbox."; exit 1; }
uwant="0 $urange"
gwant="0 $grange"

best=
for d in /proc/[0-9]*; do
  read -r comm 2>/dev/null < "$d/comm" || continue
  [ "$comm" = sleep ] || continue
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  pid=${d#/proc/}
  umap=$(maptext "$d/uid_map")
  gmap=$(maptext "$d/gid_map")
  [ "$umap" = "0 0 4294967295" ] && continue   # the sandbox's own namespace
  if [ "$umap" = "$uwant" ] && [ "$gmap" = "$gwant" ]; then
    echo "sleep PID $pid lives in its own user namespace whose IDs 0-$(( ${urange#* } - 1 )) are app's subordinate IDs ${urange% *}-$(( ${urange% *} + ${urange#* } - 1 )) outside."
    exit 0
  fi
  if [ -z "$umap" ]; then
    best="sleep PID $pid is in a new user namespace, but its uid_map is still empty. Write '$uwant' to /proc/$pid/uid_map."
  elif [ "$umap" != "$uwant" ]; then
    best="sleep PID $pid is in a new user namespace, but its uid_map reads '$umap' instead of '$uwant'. A map can be written only once: start a new sleep."
  elif [ -z "$gmap" ]; then
    best="sleep PID $pid has the right uid_map, but its gid_map is still empty. Write '$gwant' to /proc/$pid/gid_map."
  else
    best="sleep PID $pid has the right uid_map, but its gid_map reads '$gmap' instead of '$gwant'. A map can be written only once: start a new sleep."
  fi
done

if [ -n "$best" ]; then
  echo "$best"
  exit 1
fi
echo "No sleep is running in a user namespace of its own yet (every sleep has the sandbox's map '0 0 4294967295')."
exit 1
