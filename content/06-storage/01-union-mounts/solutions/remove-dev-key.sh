#!/bin/bash
# Deleting through the merged view leaves a whiteout in the upper directory.
rm /srv/containers/web/merged/etc/app/dev-key.pem
