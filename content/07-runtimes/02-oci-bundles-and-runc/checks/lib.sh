# Shared by this lesson's checks (prepended to each of them).

# state_of ID: prints "STATUS PID" of the runc container ID, or nothing when
# runc does not know the container. Reads runc's own state, as `runc list`
# does, through `runc state` (a short-lived command; timeout in case).
state_of() {
  timeout 5 runc state "$1" 2>/dev/null | jq -r '"\(.status) \(.pid)"' 2>/dev/null
}

# alive PID: true when PID exists and is not a zombie.
alive() {
  local line
  read -r line 2>/dev/null < "/proc/$1/stat" || return 1
  set -- ${line##*) }
  [ "$1" != Z ] && [ "$1" != X ]
}
