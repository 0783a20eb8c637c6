#!/bin/bash
# Shared by every check of this lesson (the loader prepends it to each one).
# Definitions only. Every network test has a short timeout, so nothing here
# can hang. Commands run inside a container's namespace through nsenter
# --net, which is lighter than ip netns exec (no new mount namespace).

# Succeeds when the "ip -o link" line $1 shows an interface that is up.
is_up() {
  case "$1" in
    *"<UP"*">"*|*"<"*",UP,"*">"*|*"<"*",UP>"*) return 0 ;;
  esac
  return 1
}

# Runs a command inside network namespace $1.
in_ns() {
  local ns=$1
  shift
  nsenter --net="/run/netns/$ns" "$@"
}

# Fails with a message unless network namespace $1 exists and has address $2
# on an interface that is up, whose other end sits in the root namespace,
# is up and is attached to br0.
container_ok() {
  local ns=$1 addr=$2 ifc= line peer num rest
  if [ ! -e "/run/netns/$ns" ]; then
    echo "There is no network namespace called $ns (ip netns add $ns creates it)."
    return 1
  fi
  # Lines look like "2: eth0    inet 10.0.0.2/24 brd ... scope global eth0 ...".
  while read -r num name _ cidr rest; do
    [ "${cidr%/*}" = "$addr" ] && { ifc=$name; break; }
  done < <(ip -n "$ns" -o -4 addr show 2>/dev/null)
  if [ -z "$ifc" ]; then
    echo "No interface in $ns has the address $addr yet."
    return 1
  fi
  line=$(ip -n "$ns" -o link show dev "$ifc" 2>/dev/null)
  if ! is_up "$line"; then
    echo "$ifc in $ns has $addr but is down (ip -n $ns link set $ifc up)."
    return 1
  fi
  peer=${line#*@if}; peer=${peer%%:*}
  case "$peer" in
    ''|*[!0-9]*) echo "$ifc in $ns is not one end of a veth pair."; return 1 ;;
  esac
  [ -n "$root_links" ] || root_links=$(ip -o link show 2>/dev/null)
  line=
  while IFS= read -r rest; do
    [ "${rest%%:*}" = "$peer" ] && { line=$rest; break; }
  done <<< "$root_links"
  if [ -z "$line" ]; then
    echo "The other end of $ifc in $ns is not in the host's namespace."
    return 1
  fi
  peer=${line#*: }; peer=${peer%%@*}
  case "$line" in
    *" master br0 "*) ;;
    *) echo "The host's end of $ns's cable, $peer, is not attached to br0 (ip link set $peer master br0)."; return 1 ;;
  esac
  if ! is_up "$line"; then
    echo "The host's end of $ns's cable, $peer, is attached to br0 but down (ip link set $peer up)."
    return 1
  fi
}
root_links=

# Fails with a message unless br0 exists as a bridge, is up and has 10.0.0.1/24.
bridge_ok() {
  local line
  line=$(ip -d -o link show br0 2>/dev/null)
  case "$line" in
    *" bridge "*) ;;
    *) echo "There is no bridge called br0 in the host's namespace (ip link add br0 type bridge)."; return 1 ;;
  esac
  if ! is_up "$line"; then
    echo "br0 exists but is down (ip link set br0 up)."
    return 1
  fi
  case "$(ip -o -4 addr show dev br0 2>/dev/null)" in
    *" 10.0.0.1/24 "*) ;;
    *) echo "br0 does not have the gateway address 10.0.0.1/24."; return 1 ;;
  esac
}

# Succeeds when namespace $1 gets an answer to one ping to $2 within a second.
pings() {
  in_ns "$1" ping -n -c1 -W1 -q "$2" >/dev/null 2>&1
}

# Runs pings in parallel, one per argument NS/ADDRESS, and sets
# answered[NS/ADDRESS] to yes or no for each.
declare -A answered
ping_all() {
  local a
  local -A job
  for a in "$@"; do
    pings "${a%%/*}" "${a#*/}" &
    job[$a]=$!
  done
  for a in "$@"; do
    if wait "${job[$a]}"; then answered[$a]=yes; else answered[$a]=no; fi
  done
}

# Prints what GET $2 returns when fetched from namespace $1 ("host" means
# the root namespace), giving up after two seconds.
fetch() {
  if [ "$1" = host ]; then
    timeout 2 busybox wget -qO- "$2" 2>/dev/null
  else
    timeout 2 nsenter --net="/run/netns/$1" busybox wget -qO- "$2" 2>/dev/null
  fi
}

# Fails with a message unless namespace $1 has a default route via 10.0.0.1.
default_route_ok() {
  case "$(ip -n "$1" route show default 2>/dev/null)" in
    *"via 10.0.0.1 "*) ;;
    *) echo "$1 has no default route via 10.0.0.1, so it does not know where to send packets for other networks."; return 1 ;;
  esac
}

# Fails with a message unless the host forwards IPv4 packets.
forwarding_ok() {
  local f
  read -r f < /proc/sys/net/ipv4/ip_forward
  if [ "$f" != 1 ]; then
    echo "The host does not forward packets between its interfaces: /proc/sys/net/ipv4/ip_forward is $f."
    return 1
  fi
}
