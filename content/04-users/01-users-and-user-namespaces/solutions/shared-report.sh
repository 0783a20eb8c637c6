#!/bin/bash
# Root inside the namespace is really app (UID 1000) outside, so the
# directory has to let UID 1000 write first. Then start a user namespace as
# app with root mapped onto it, and let "root" write the report.
chown app:app /srv/shared
setpriv --reuid=app --regid=app --clear-groups \
  unshare --user --map-root-user sh -c 'id > /srv/shared/report.txt'
