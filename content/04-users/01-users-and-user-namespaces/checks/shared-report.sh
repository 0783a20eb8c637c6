#!/bin/bash
# Passes when /srv/shared/report.txt exists, is owned by 1000:1000 (app) as
# the sandbox sees it, and holds `id` output that says uid=0(root): the file
# was written by "root" inside a user namespace whose root is app outside.

f=/srv/shared/report.txt
if [ ! -f "$f" ]; then
  echo "$f does not exist yet."
  exit 1
fi
owner=$(stat -c '%u:%g' "$f" 2>/dev/null)
text=$(head -c 400 "$f" 2>/dev/null | tr '\n' ' ')
case $text in
  *"uid=0("*) inside_root=yes ;;
  *) inside_root=no ;;
esac

if [ "$owner" = 0:0 ] || [ "${owner%%:*}" = 0 ]; then
  echo "$f belongs to UID 0 as the sandbox sees it: the sandbox's real root wrote it (or chowned it). It should be written by root inside a user namespace whose root is app (1000) outside."
  exit 1
fi
if [ "$owner" != 1000:1000 ]; then
  echo "$f is owned by $owner as the sandbox sees it, not by 1000:1000 (app)."
  exit 1
fi
if [ "$inside_root" = no ]; then
  echo "$f is owned by 1000:1000, but it does not hold the output of id run as root inside the namespace (uid=0(root)...). It says: ${text:-nothing}"
  exit 1
fi
echo "$f is owned by 1000:1000 outside and says '${text% }' inside: root in the namespace was app all along."
exit 0
