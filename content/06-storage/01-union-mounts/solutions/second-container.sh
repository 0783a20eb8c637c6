#!/bin/bash
# Same three read-only layers as the web container, but a fresh upper and
# work directory. The leftmost lowerdir is the top layer.
L=/srv/image/layers
mkdir -p /srv/containers/web-2/upper /srv/containers/web-2/work /mnt/merged
mount -t overlay overlay \
  -o lowerdir=$L/3-app:$L/2-runtime:$L/1-base,upperdir=/srv/containers/web-2/upper,workdir=/srv/containers/web-2/work \
  /mnt/merged
echo web-2 > /mnt/merged/etc/hostname
