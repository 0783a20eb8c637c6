# Shared by this lesson's checks (prepended to each of them).

# label_of NAME: the label of profile NAME as the kernel reports it,
# "NAME (enforce)" or "NAME (complain)"; empty when no such profile is
# loaded. Reads AppArmor's profile list when securityfs is mounted; without
# it, starts cat under the profile (aa-exec fails for a missing profile) and
# lets it print its own label.
label_of() {
  local list=/sys/kernel/security/apparmor/profiles line
  if [ -r "$list" ]; then
    while read -r line; do
      case "$line" in "$1 ("*) echo "$line"; return ;; esac
    done < "$list"
    return
  fi
  timeout 5 aa-exec -p "$1" -- cat /proc/self/attr/current 2>/dev/null | tr -d '\0'
}
