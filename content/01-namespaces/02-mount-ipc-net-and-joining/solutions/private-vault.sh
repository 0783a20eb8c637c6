#!/bin/bash
# A shell in a new mount namespace mounts the tmpfs, writes the token and
# then becomes sleep, which keeps the namespace (and the mount) alive.
# In a terminal the line would simply end with `&`; setsid and the
# redirections only let this script return at once.
mkdir -p /srv/vault
setsid unshare --mount sh -c 'mount -t tmpfs vault /srv/vault && echo "for my eyes only" > /srv/vault/token && exec sleep 3600' >/dev/null 2>&1 < /dev/null &
sleep 1
