#!/bin/bash
# Passes when
#   - /root/vfs/1, 2, 3 and web are the vfs-style stack: complete, separate
#     copies (no hard links) of layer 1, layers 1+2, layers 1+2+3, and a
#     container copy of layer 3;
#   - /root/overlay/web/merged is an overlay of the three layers, top first,
#     with upperdir /root/overlay/web/upper;
#   - /root/driver-report.txt gives vfs_kib and overlay_kib within 5 % of
#     what du -sk /root/vfs and du -sck LAYERS UPPER report right now.
# Short commands only (du over ~90 MB, a few stats); nothing can hang.

V=/root/vfs
C=/root/overlay/web
R=/root/driver-report.txt

# same_file A B: A is a regular file with the same contents as B.
same_file() { [ -f "$1" ] && [ ! -L "$1" ] && cmp -s "$1" "$2"; }

# need_copy DIR: the vfs directory DIR must hold its own copy of the base
# library (not a hard link or symlink to another copy).
need_copy() {
  local f=$1/usr/lib/libbase.so.1
  if ! same_file "$f" "$L/1-base/usr/lib/libbase.so.1"; then
    echo "$f is missing or differs from the base layer's library. Every vfs layer is a complete copy of the one below it."
    return 1
  fi
  if [ "$(stat -c %h "$f")" != 1 ]; then
    echo "$f has $(stat -c %h "$f") hard links. vfs copies files, it does not link them: build the layers with cp -a."
    return 1
  fi
  if [ ! -f "$1/usr/share/i18n/locales/lab_300" ]; then
    echo "$1 lacks the base layer's locale files (usr/share/i18n/locales). Copy the complete tree with cp -a."
    return 1
  fi
}

for d in 1 2 3 web; do
  if [ ! -d "$V/$d" ]; then
    echo "$V/$d does not exist yet. Build the four vfs directories as shown in the lesson."
    exit 1
  fi
  need_copy "$V/$d" || exit 1
done
if [ -e "$V/1/opt/runtime" ]; then
  echo "$V/1 already contains opt/runtime, which only layer 2-runtime adds. $V/1 is a copy of layer 1-base alone."
  exit 1
fi
for d in 2 3 web; do
  if ! same_file "$V/$d/opt/runtime/lib/libruntime.so.2" "$L/2-runtime/opt/runtime/lib/libruntime.so.2"; then
    echo "$V/$d lacks the runtime layer's library opt/runtime/lib/libruntime.so.2. $V/$d must include layer 2-runtime."
    exit 1
  fi
  if ! cmp -s "$V/$d/etc/paths" "$L/2-runtime/etc/paths"; then
    echo "$V/$d/etc/paths is not the runtime layer's version. Apply each layer's changes on top of the copy of the layer below (cp -a LAYER/. DIR/)."
    exit 1
  fi
done
if [ -e "$V/2/app" ]; then
  echo "$V/2 already contains app/, which only layer 3-app adds."
  exit 1
fi
for d in 3 web; do
  if [ ! -f "$V/$d/app/start.sh" ] || ! cmp -s "$V/$d/etc/motd" "$L/3-app/etc/motd"; then
    echo "$V/$d does not include layer 3-app (app/start.sh and the app's etc/motd)."
    exit 1
  fi
done

m=
while read -r src mnt fs opts _; do
  [ "$mnt" = "$C/merged" ] && m="$fs $opts"
done < /proc/mounts
if [ -z "$m" ]; then
  echo "Nothing is mounted at $C/merged. Mount the overlay container as shown in the lesson."
  exit 1
fi
read -r fs opts <<< "$m"
if [ "$fs" != overlay ]; then
  echo "$C/merged is a $fs mount, not an overlay."
  exit 1
fi
lower= upper=
IFS=, read -r -a parts <<< "$opts"
for p in "${parts[@]}"; do
  case $p in lowerdir=*) lower=${p#lowerdir=} ;; upperdir=*) upper=${p#upperdir=} ;; esac
done
want="$L/3-app:$L/2-runtime:$L/1-base"
if [ "$lower" != "$want" ]; then
  echo "The overlay at $C/merged has lowerdir=$lower, but it should stack the three layers, top first: lowerdir=$want"
  exit 1
fi
if [ "$upper" != "$C/upper" ]; then
  echo "The overlay at $C/merged uses upperdir=$upper instead of $C/upper."
  exit 1
fi

if [ ! -f "$R" ]; then
  echo "Both stacks are in place. Now write $R with the lines vfs_kib=... and overlay_kib=..."
  exit 1
fi
vfs= ovl=
while IFS= read -r line || [ -n "$line" ]; do
  line=${line// /}
  case $line in vfs_kib=*) vfs=${line#vfs_kib=} ;; overlay_kib=*) ovl=${line#overlay_kib=} ;; esac
done < "$R"
if ! [[ "$vfs" =~ ^[0-9]+$ ]] || ! [[ "$ovl" =~ ^[0-9]+$ ]]; then
  echo "$R needs two lines, vfs_kib=NUMBER and overlay_kib=NUMBER (whole KiB, no unit); found vfs_kib='$vfs' and overlay_kib='$ovl'."
  exit 1
fi

read -r real_vfs _ < <(timeout 10 du -sk "$V")
read -r real_ovl _ < <(timeout 10 du -sck "$L" "$C/upper" | tail -n 1)
# near A B: A is within 5 % of B.
near() { [ $(( ($1 - $2) * 100 )) -le $(( $2 * 5 )) ] && [ $(( ($2 - $1) * 100 )) -le $(( $2 * 5 )) ]; }
if ! near "$vfs" "$real_vfs"; then
  echo "$R says vfs_kib=$vfs, but du -sk $V reports $real_vfs KiB."
  exit 1
fi
if ! near "$ovl" "$real_ovl"; then
  echo "$R says overlay_kib=$ovl, but du -sck $L $C/upper reports $real_ovl KiB in total."
  exit 1
fi

echo "The vfs stack takes $real_vfs KiB, the overlay stack $real_ovl KiB: vfs needs $(( (real_vfs + real_ovl / 2) / real_ovl )) times the space for one image and one container."
exit 0
