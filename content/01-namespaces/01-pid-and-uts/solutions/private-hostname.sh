#!/bin/bash
# Rewrite the job so that all of it runs in one fresh UTS namespace. The
# rename then only exists inside that namespace, which disappears when the
# job ends. (A learner would typically do the same edit in nano or vim.)
cat > /root/build.sh <<'EOF'
#!/bin/sh
# Build job. Our release tooling stamps every artifact with the machine's
# hostname, and the release team wants that stamp to read "build-42".
# The whole job runs in its own UTS namespace, so the rename stays private.
exec unshare --uts sh -c '
hostname build-42
echo "compiling on $(hostname)"
sleep 1
echo "packaging on $(hostname)"
'
EOF
