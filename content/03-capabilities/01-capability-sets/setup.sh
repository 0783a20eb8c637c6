#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
# Returns within a second. It prepares:
#   - user alice (uid 1000) and /root/notes.txt, used by the lesson's examples
#   - /usr/local/bin/uploader   a long-running job for exercise drop-chown
#   - /usr/local/bin/archiver   a job for exercise least-privilege, which
#       copies alice's private report (/srv/inbox/report.txt, mode 600) into
#       /srv/archive and gives the copy back to alice. It needs exactly
#       CAP_DAC_OVERRIDE (to read the report) and CAP_CHOWN (to hand it over),
#       and records each round as "PID ok" or "PID failed: ..." in
#       /srv/archive/status.
set -u

if ! grep -q '^alice:' /etc/passwd; then
  echo 'alice:x:1000:1000:Alice:/home/alice:/bin/sh' >> /etc/passwd
  echo 'alice:x:1000:' >> /etc/group
fi

echo "Capabilities are attributes of processes, not of users." > /root/notes.txt

# --- exercise drop-chown ----------------------------------------------------
cat > /usr/local/bin/uploader <<'SCRIPT'
#!/bin/sh
# Uploader: a third-party job that runs forever. Nobody trusts it to change
# the owner of any file, so it should run without CAP_CHOWN.
while :; do
  sleep 5
done
SCRIPT
chmod 755 /usr/local/bin/uploader

# --- exercise least-privilege ------------------------------------------------
mkdir -p /srv/inbox /srv/archive
echo "Q3 numbers: 42 widgets sold." > /srv/inbox/report.txt
chown 1000:1000 /srv/inbox/report.txt
chmod 600 /srv/inbox/report.txt
chmod 755 /srv/inbox /srv/archive

cat > /usr/local/bin/archiver <<'SCRIPT'
#!/bin/sh
# Archiver: every 2 seconds, copy alice's private report into /srv/archive
# and make the copy hers again (owner alice, mode 600). Runs until stopped.
src=/srv/inbox/report.txt
tmp=/srv/archive/.incoming
dst=/srv/archive/report.txt
while :; do
  rm -f "$tmp"
  if ! cat "$src" > "$tmp"; then
    result="failed: cannot read $src"
  elif ! chmod 600 "$tmp"; then
    result="failed: cannot set the mode of the copy"
  elif ! chown alice:alice "$tmp"; then
    result="failed: cannot give the copy to alice"
  elif ! mv -f "$tmp" "$dst"; then
    result="failed: cannot move the copy into place"
  else
    result=ok
  fi
  echo "$$ $result" > /srv/archive/status
  if [ "$result" = ok ]; then
    echo "archiver: copied the report for alice"
  else
    echo "archiver: $result" >&2
  fi
  sleep 2
done
SCRIPT
chmod 755 /usr/local/bin/archiver
exit 0
