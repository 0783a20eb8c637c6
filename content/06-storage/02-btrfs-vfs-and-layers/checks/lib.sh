# Shared by this lesson's checks (prepended to each). Builtins and short
# commands only; nothing here can hang.

L=/root/image/layers
M=/mnt/btrfs

# mount_of DIR: prints "FSTYPE SOURCE OPTIONS" of the topmost mount at DIR,
# or nothing.
mount_of() {
  local src mnt fs opts _ found=
  while read -r src mnt fs opts _; do
    [ "$mnt" = "$1" ] && found="$fs $src $opts"
  done < /proc/mounts
  echo "$found"
}

# subvol_field PATH FIELD: one field ("UUID", "Parent UUID", ...) of
# `btrfs subvolume show PATH`, or nothing.
subvol_field() {
  timeout 5 btrfs subvolume show "$1" 2>/dev/null | sed -n "s/^[[:space:]]*$2:[[:space:]]*//p" | head -n 1
}

# is_subvol PATH: true when PATH is the top directory of a Btrfs subvolume
# (inode 256 on a btrfs filesystem).
is_subvol() {
  # (by the file system's magic number, 0x9123683e: busybox's stat, which checks run, has no name for Btrfs)
  [ -d "$1" ] && [ "$(stat -f -c %t "$1" 2>/dev/null)" = 9123683e ] && [ "$(stat -c %i "$1" 2>/dev/null)" = 256 ]
}

# ro_of PATH: "true" or "false", the subvolume's read-only property.
ro_of() {
  local out
  out=$(timeout 5 btrfs property get -ts "$1" ro 2>/dev/null)
  echo "${out#ro=}"
}

# need_btrfs_mount: fails with a message unless /mnt/btrfs is a Btrfs
# filesystem mounted from /root/btrfs.img through a loop device.
need_btrfs_mount() {
  local img=/root/btrfs.img m fs src dev back magic
  if [ ! -f "$img" ]; then
    echo "$img does not exist yet. Create it with truncate -s 256M and put a Btrfs filesystem in it with mkfs.btrfs."
    return 1
  fi
  magic=$(dd if="$img" bs=1 skip=65600 count=8 2>/dev/null | tr -d '\0')
  if [ "$magic" != "_BHRfS_M" ]; then
    echo "$img holds no Btrfs filesystem (its superblock magic _BHRfS_M is missing at offset 64 KiB). Run mkfs.btrfs on it."
    return 1
  fi
  m=$(mount_of "$M")
  if [ -z "$m" ]; then
    echo "Nothing is mounted at $M. Mount the image with: mkdir -p $M; mount -o loop $img $M"
    return 1
  fi
  read -r fs src _ <<< "$m"
  if [ "$fs" != btrfs ]; then
    echo "$M is a $fs mount, not Btrfs. Unmount it and mount $img there with mount -o loop."
    return 1
  fi
  dev=${src#/dev/}
  back=
  [ -r "/sys/block/$dev/loop/backing_file" ] && read -r back < "/sys/block/$dev/loop/backing_file"
  if [ "$back" != "$img" ]; then
    echo "$M is a Btrfs filesystem from $src, whose backing file is '${back:-none}', not $img."
    return 1
  fi
}

# need_image_layer: fails with a message unless base and the read-only
# snapshot base@v1 exist in /mnt/btrfs, and base@v1 holds layer 1-base.
need_image_layer() {
  local s base_uuid parent ro
  for s in base base@v1; do
    if [ ! -e "$M/$s" ]; then
      echo "$M/$s does not exist yet."
      return 1
    fi
    if ! is_subvol "$M/$s"; then
      if [ "$s" = base ]; then
        echo "$M/base is an ordinary directory, not a subvolume. Remove it (rm -r $M/base) and create it with btrfs subvolume create."
      else
        echo "$M/base@v1 is an ordinary directory, not a subvolume. Remove it (rm -r) and take it with btrfs subvolume snapshot -r $M/base $M/base@v1."
      fi
      return 1
    fi
  done
  base_uuid=$(subvol_field "$M/base" UUID)
  parent=$(subvol_field "$M/base@v1" "Parent UUID")
  if [ -z "$base_uuid" ] || [ "$parent" != "$base_uuid" ]; then
    echo "$M/base@v1 is a subvolume, but not a snapshot of $M/base (its parent UUID is '${parent:--}', base's UUID is '${base_uuid:--}'). Delete it with btrfs subvolume delete and take it with btrfs subvolume snapshot -r $M/base $M/base@v1."
    return 1
  fi
  ro=$(ro_of "$M/base@v1")
  if [ "$ro" != true ]; then
    echo "$M/base@v1 is writable (ro=$ro). An image layer must be read-only: delete it and take the snapshot again with -r."
    return 1
  fi
  if ! timeout 10 diff -r -q "$L/1-base" "$M/base@v1" > /dev/null 2>&1; then
    echo "$M/base@v1 does not hold exactly the files of $L/1-base ($(timeout 10 diff -r -q "$L/1-base" "$M/base@v1" 2>&1 | head -n 1)). Copy them into base with cp -a $L/1-base/. $M/base/ before taking the snapshot."
    return 1
  fi
}
