#!/bin/bash
# Passes when the web container sees "workers = 4" in etc/app/server.conf,
# the changed copy lives in the container's upper directory, and the file in
# the image layer 3-app still says "workers = 1".
# Short commands and builtins only; nothing here can hang.

c=/srv/containers/web
m=$c/merged
layer=/srv/image/layers/3-app/etc/app/server.conf
rel=etc/app/server.conf

need_web_mounted || exit 1

# workers_of FILE: the value of the workers setting, or nothing.
workers_of() {
  local line v=
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line// /}
    line=${line//$'\t'/}
    case $line in workers=*) v=${line#workers=} ;; esac
  done < "$1"
  echo "$v"
}

# need_workers FILE MISSING WRONG: fails after printing MISSING when FILE does
# not exist, or WRONG (@W replaced by the value found, or "(not set)") when
# FILE does not say workers = 4.
need_workers() {
  local w v
  if [ ! -f "$1" ]; then
    echo "$2"
    return 1
  fi
  w=$(workers_of "$1")
  if [ "$w" != 4 ]; then
    v=${w:-(not set)}
    echo "${3//@W/"$v"}"
    return 1
  fi
}

if [ ! -f "$layer" ]; then
  echo "$layer is gone from the image layer. Layers must stay untouched; restart the lab to get the image back."
  exit 1
fi
lw=$(workers_of "$layer")
if [ "$lw" != 1 ]; then
  echo "The image layer itself was edited: $layer says workers = $lw. Every container built from the image would see that. Put 'workers = 1' back in the layer file and make the change through $m."
  exit 1
fi

need_workers "$m/$rel" \
  "$m/$rel does not exist any more. The web container needs the file, with workers = 4." \
  "The web container still reads workers = @W in $m/$rel. Change it to workers = 4." || exit 1
need_workers "$c/upper/$rel" \
  "$m/$rel says workers = 4, but there is no copy in $c/upper/$rel." \
  "$c/upper/$rel says workers = @W, not 4." || exit 1
if ! grep -Eq '^[[:space:]]*port[[:space:]]*=[[:space:]]*8080[[:space:]]*$' "$m/$rel"; then
  echo "workers = 4 is set, but the line 'port = 8080' went missing from $m/$rel. Keep the rest of the file as it was."
  exit 1
fi

echo "The web container runs with workers = 4 from its copied-up $c/upper/$rel, while layer 3-app still holds workers = 1."
exit 0
