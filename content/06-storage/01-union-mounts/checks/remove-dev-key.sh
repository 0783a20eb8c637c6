#!/bin/bash
# Passes when etc/app/dev-key.pem has vanished from the web container's view,
# the deletion is recorded in the container's upper directory (a whiteout:
# character device 0/0, or an opaque etc/app directory without the key), and
# the image layer 3-app still holds the file.
# Short commands only; nothing here can hang.

c=/srv/containers/web
m=$c/merged
rel=etc/app/dev-key.pem
layer=/srv/image/layers/3-app/$rel

need_web_mounted || exit 1
if [ ! -f "$layer" ]; then
  echo "$layer was deleted from the image layer itself. That changes the image for every container; restart the lab to get it back, then delete the key through $m."
  exit 1
fi
if [ -e "$m/$rel" ] || [ -L "$m/$rel" ]; then
  echo "The web container can still read $m/$rel. Delete it through the merged view."
  exit 1
fi

u=$c/upper/$rel
if [ -c "$u" ]; then
  dev=$(stat -c '%t:%T' "$u" 2>/dev/null)
  if [ "$dev" = 0:0 ]; then
    echo "The key is gone from the container: $u is a whiteout (character device 0/0). The image layer 3-app still contains the key, though, so anyone who pulls the image can read it."
    exit 0
  fi
  echo "$u is a character device $dev, not the 0/0 whiteout overlayfs uses."
  exit 1
fi
if [ -d "$c/upper/etc/app" ] && [ ! -e "$u" ] && xattrs "$c/upper/etc/app" 2>/dev/null | grep -q '^trusted.overlay.opaque="y"'; then
  echo "The key is gone from the container: $c/upper/etc/app is an opaque directory that hides everything below it. The image layer 3-app still contains the key, though."
  exit 0
fi
echo "$m/$rel is not visible, but $c/upper holds no whiteout for it, so the deletion was not made through the overlay. Delete the file through $m."
exit 1
