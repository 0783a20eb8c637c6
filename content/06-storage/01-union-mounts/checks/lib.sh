# Shared by this lesson's checks (prepended to each). Expects $c (the web
# container's directory) and $m (its merged mount point) to be set.

# Fails with a message unless the web container's overlay is still mounted at $m.
need_web_mounted() {
  local mounted=no _ mnt fs
  while read -r _ mnt fs _; do
    [ "$mnt" = "$m" ] && [ "$fs" = overlay ] && mounted=yes
  done < /proc/mounts
  if [ "$mounted" = no ]; then
    echo "The web container's overlay is no longer mounted at $m. Remount it with the command in $c/mount-command."
    return 1
  fi
}
