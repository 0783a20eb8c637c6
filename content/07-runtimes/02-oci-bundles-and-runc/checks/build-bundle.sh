#!/bin/bash
# Passes when /root/bundle is an OCI bundle for the web server:
#   - config.json is valid JSON with hostname "web", process.args
#     ["httpd","-f","-p","8080","-h","/www"], process.terminal false and
#     root.readonly false;
#   - its root.path (relative to the bundle, usually "rootfs") is a directory
#     in which /bin/sh runs (tested with chroot) and an httpd applet exists;
#   - that root filesystem has a /www directory.
bundle=/root/bundle
cfg=$bundle/config.json

if [ ! -f "$cfg" ]; then
  echo "$cfg does not exist yet. Create the directory /root/bundle and run runc spec inside it."
  exit 1
fi
if ! jq -e . "$cfg" >/dev/null 2>&1; then
  echo "$cfg is not valid JSON (jq cannot parse it). Start over with runc spec, or fix the file."
  exit 1
fi

root=$(jq -r '.root.path // empty' "$cfg")
if [ -z "$root" ]; then
  echo "$cfg has no root.path: runc would not know where the root filesystem is."
  exit 1
fi
case "$root" in
  /*) rootfs=$root ;;
  *) rootfs=$bundle/$root ;;
esac
if [ ! -d "$rootfs" ]; then
  echo "config.json says the root filesystem is '$root', but $rootfs is not a directory."
  exit 1
fi
out=$(timeout 5 chroot "$rootfs" /bin/sh -c 'echo shell-ok' 2>&1)
if [ "$out" != shell-ok ]; then
  echo "$rootfs has no working /bin/sh (chroot $rootfs /bin/sh said: ${out:-nothing}). Copy busybox and the libraries ldd lists into it, then create the applet links with busybox --install -s /bin."
  exit 1
fi
if ! timeout 5 chroot "$rootfs" /bin/sh -c 'command -v httpd' >/dev/null 2>&1; then
  echo "The shell in $rootfs works, but there is no httpd command in it. busybox --install -s /bin (run inside with chroot) creates it."
  exit 1
fi
if [ ! -d "$rootfs/www" ]; then
  echo "$rootfs has no /www directory for the web server's pages yet."
  exit 1
fi

problems=
hn=$(jq -r '.hostname // empty' "$cfg")
[ "$hn" = web ] || problems="$problems hostname is '${hn:-unset}', not 'web';"
args=$(jq -c '.process.args' "$cfg")
[ "$args" = '["httpd","-f","-p","8080","-h","/www"]' ] || problems="$problems process.args is $args, not [\"httpd\",\"-f\",\"-p\",\"8080\",\"-h\",\"/www\"];"
term=$(jq -r '.process.terminal' "$cfg")
[ "$term" = false ] || problems="$problems process.terminal is $term, not false;"
ro=$(jq -r '.root.readonly' "$cfg")
[ "$ro" = false ] || problems="$problems root.readonly is $ro, not false;"
if [ -n "$problems" ]; then
  echo "The root filesystem is fine, but in $cfg:${problems%;}."
  exit 1
fi

echo "/root/bundle is a bundle for the web server: a root filesystem with a working shell and httpd, and a config.json for hostname web running httpd on port 8080."
exit 0
