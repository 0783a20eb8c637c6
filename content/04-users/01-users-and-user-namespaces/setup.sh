#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
#   1. the unprivileged account "app" (UID/GID 1000). useradd also gives it
#      the first subordinate ID range in /etc/subuid and /etc/subgid
#      (app:100000:65536), which exercise map-app-range uses.
#   2. /srv/shared, a directory owned by the sandbox's real root (0755), for
#      exercise shared-report.
set -u
if ! getent passwd app >/dev/null; then
  useradd --create-home --uid 1000 --shell /bin/bash app
fi
mkdir -p /srv/shared
chown root:root /srv/shared
chmod 755 /srv/shared
exit 0
