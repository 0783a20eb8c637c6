#!/bin/bash
# Edit the file through the merged view. The first write copies the whole
# file up into /srv/containers/web/upper; the layer underneath is untouched.
sed -i 's/^workers = 1$/workers = 4/' /srv/containers/web/merged/etc/app/server.conf
