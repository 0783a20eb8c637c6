#!/bin/bash
# Passes when some running process lives in a mount namespace other than the
# sandbox's own (the checker's, which the learner's shell shares) and sees a
# tmpfs mounted at /srv/vault that holds a regular file named token, while
# the sandbox's own mount namespace has nothing mounted at /srv/vault and no
# /srv/vault/token.
# Namespaces are compared by identity ([ A -ef B ] compares the device and
# inode numbers behind two /proc/PID/ns links). The other namespace is looked
# into through /proc/PID/mountinfo and /proc/PID/root. Uses shell builtins
# only, so it cannot hang.

path=/srv/vault
own=/proc/$$/ns/mnt

# mount_at FILE: prints the filesystem type mounted at $path according to a
# mountinfo FILE (the last mount wins, as it hides the ones below it).
mount_at() {
  local _id _parent _dev _root mnt _opts rest fstype=
  while read -r _id _parent _dev _root mnt _opts rest; do
    [ "$mnt" = "$path" ] || continue
    rest=${rest#*- }
    fstype=${rest%% *}
  done 2>/dev/null < "$1"
  [ -n "$fstype" ] && echo "$fstype"
}

here=$(mount_at /proc/$$/mountinfo)
if [ -n "$here" ]; then
  echo "The sandbox's own mount namespace has a $here mounted at $path, so every process in it can see what is there. The mount has to happen inside a new mount namespace only (and umount $path here to undo this one)."
  exit 1
fi

found= other=
for d in /proc/[0-9]*; do
  [ -e "$d/ns/mnt" ] || continue          # gone, or not ours to inspect
  [ "$d/ns/mnt" -ef "$own" ] && continue  # the sandbox's own namespace
  read -r line 2>/dev/null < "$d/stat" || continue
  set -- ${line##*) }
  [ "$1" = Z ] && continue
  fstype=$(mount_at "$d/mountinfo") || continue
  comm=
  read -r comm 2>/dev/null < "$d/comm"
  if [ "$fstype" != tmpfs ]; then
    other="${d#/proc/} ($comm) has a filesystem of type $fstype at $path, not a tmpfs"
    continue
  fi
  if [ ! -f "$d/root$path/token" ]; then
    other="${d#/proc/} ($comm) has a private tmpfs at $path, but there is no file named token in it"
    continue
  fi
  found="${d#/proc/} ($comm)"
  break
done

if [ -z "$found" ]; then
  if [ -n "$other" ]; then
    echo "Process $other."
  else
    echo "No running process has its own mount namespace with something mounted at $path. Start a long-lived process in a new mount namespace, mount a tmpfs at $path there and create $path/token."
  fi
  exit 1
fi
if [ -e "$path/token" ]; then
  echo "Process $found sees a private tmpfs at $path with token in it, but the sandbox's own $path holds a token file as well, which every process can read. Remove $path/token from the sandbox's side."
  exit 1
fi
echo "Process $found has a private tmpfs at $path holding token; the sandbox's own mount namespace sees neither the mount nor the file."
exit 0
