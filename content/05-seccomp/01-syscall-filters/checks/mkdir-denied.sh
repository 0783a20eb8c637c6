#!/bin/bash
# Passes when /root/denied.log holds what /root/prepare-cache.sh printed
# while its mkdir was denied with EPERM: mkdir's own "Operation not
# permitted" message and the script's "giving up" line, and the directory
# it tried to create does not exist.
# Uses shell builtins only, so it neither forks much nor can hang.

log=/root/denied.log
dir=/var/cache/lab-app

if [ ! -f "$log" ]; then
  echo "$log does not exist yet. Run /root/prepare-cache.sh with mkdir denied and save everything it prints (stdout and stderr) there."
  exit 1
fi

mkdir_line= gave_up= other=
while IFS= read -r line || [ -n "$line" ]; do
  case $line in
    *"cannot create directory"*"$dir"*"Operation not permitted"*) mkdir_line=$line ;;
    *"cannot create directory"*"$dir"*) other=$line ;;
    *"prepare-cache: could not create the cache, giving up"*) gave_up=yes ;;
  esac
done < "$log"

if [ -d "$dir" ]; then
  echo "$dir exists, so a mkdir went through. Remove it (rmdir $dir) and run the script again with mkdir denied."
  exit 1
fi
if [ -z "$mkdir_line" ]; then
  if [ -n "$other" ]; then
    echo "$log shows mkdir failing for another reason: '$other'. The denial has to come back as EPERM, 'Operation not permitted'."
  else
    echo "$log has no line from mkdir saying it cannot create $dir: Operation not permitted. Make sure the error output (stderr) goes into the file too."
  fi
  exit 1
fi
if [ -z "$gave_up" ]; then
  echo "$log has mkdir's error, but not the script's own 'giving up' line. Save the complete output of /root/prepare-cache.sh, both streams."
  exit 1
fi

echo "$log shows prepare-cache.sh's mkdir denied with EPERM ('Operation not permitted'), and $dir was never created."
exit 0
