#!/bin/bash
# Runs once when the sandbox starts, as root, outside the learner's shell.
# Returns within a second or two. It prepares:
#   /srv                          a tmpfs (see below why not the root fs)
#   /srv/image/Dockerfile         the recipe the three layers "came from"
#   /srv/image/layers/1-base      layer 1 (about 6 MB)
#   /srv/image/layers/2-runtime   layer 2 (about 3 MB)
#   /srv/image/layers/3-app       layer 3 (a few small files)
#   /srv/containers/web           a running "container": overlay of the
#                                 three layers mounted at .../merged, with
#                                 its own upper/ and work/
#   /usr/local/bin/xattrs         lists extended attributes (the image has
#                                 no getfattr)
# In this gVisor release an overlay whose upperdir sits on the sandbox's root
# filesystem (itself an in-memory overlay) brings the whole sandbox down on
# a delete through it, so all of this lives on a tmpfs.
set -eu
mkdir -p /srv
grep -qs ' /srv tmpfs ' /proc/mounts || mount -t tmpfs -o mode=0755 tmpfs /srv

L=/srv/image/layers
mkdir -p /srv/image "$L"

cat > /srv/image/Dockerfile <<'EOF'
# The recipe behind the layers in /srv/image/layers. Every instruction that
# changes files produced one layer; the others only changed metadata.
FROM scratch
ADD base-rootfs.tar /                       # -> layers/1-base
RUN install-runtime /opt/runtime            # -> layers/2-runtime
COPY app/ /                                 # -> layers/3-app
ENV APP_PORT=8080
CMD ["/app/start.sh"]
EOF

# --- layer 1: the base system ------------------------------------------------
b=$L/1-base
mkdir -p $b/etc $b/usr/lib $b/usr/share/doc/base $b/bin $b/root
printf 'PRETTY_NAME="Lab Linux 1.0"\nID=lablinux\nVERSION_ID=1.0\n' > $b/etc/os-release
echo 'Welcome to Lab Linux (base image)' > $b/etc/motd
echo 'Lab Linux base system. Documentation lives here.' > $b/usr/share/doc/base/README
echo 'This base image is for training purposes only.' > $b/usr/share/doc/base/LICENSE
head -c 6291456 /dev/urandom > $b/usr/lib/libbase.so.1
echo 'PATH=/bin:/usr/bin' > $b/etc/paths
printf '#!/bin/sh\necho hello from the base layer\n' > $b/bin/hello
chmod 755 $b/bin/hello

# --- layer 2: what "RUN install-runtime" added --------------------------------
r=$L/2-runtime
mkdir -p $r/opt/runtime/bin $r/opt/runtime/lib/plugins
printf '#!/bin/sh\necho runtime 2.4\n' > $r/opt/runtime/bin/runtime
chmod 755 $r/opt/runtime/bin/runtime
head -c 3145728 /dev/urandom > $r/opt/runtime/lib/libruntime.so.2
for p in gzip metrics tracing; do echo "plugin $p" > $r/opt/runtime/lib/plugins/$p.so; done
echo '2.4' > $r/opt/runtime/VERSION
mkdir -p $r/etc
echo 'PATH=/opt/runtime/bin:/bin:/usr/bin' > $r/etc/paths   # replaces the base's file

# --- layer 3: what "COPY app/ /" added -----------------------------------------
a=$L/3-app
mkdir -p $a/app $a/etc/app
printf '#!/bin/sh\nexec /opt/runtime/bin/runtime --config /etc/app/server.conf\n' > $a/app/start.sh
chmod 755 $a/app/start.sh
printf '# web server settings\nport = 8080\nworkers = 1\n' > $a/etc/app/server.conf
printf -- '-----BEGIN PRIVATE KEY-----\nMIIEdevelopment-only-key-do-not-ship\n-----END PRIVATE KEY-----\n' > $a/etc/app/dev-key.pem
chmod 600 $a/etc/app/dev-key.pem
echo 'Welcome to the web app image' > $a/etc/motd

# --- a running container made from the image -----------------------------------
c=/srv/containers/web
mkdir -p $c/upper $c/work $c/merged
opts="lowerdir=$L/3-app:$L/2-runtime:$L/1-base,upperdir=$c/upper,workdir=$c/work"
echo "mount -t overlay overlay -o $opts $c/merged" > $c/mount-command
mount -t overlay overlay -o "$opts" $c/merged

# --- a small stand-in for getfattr -------------------------------------------
cat > /usr/local/bin/xattrs <<'EOF'
#!/usr/bin/perl
# xattrs PATH...: print the extended attributes of each PATH with their
# values (symlinks are not followed), much like `getfattr -d -m - PATH`.
# This image has no getfattr, so this calls llistxattr/lgetxattr directly.
use strict; use warnings;
my ($LLISTXATTR, $LGETXATTR) = (195, 192);   # x86_64 system call numbers
my $rc = 0;
for my $path (@ARGV) {
    my $p = "$path";
    my $list = "\0" x 65536;
    my $n = syscall($LLISTXATTR, $p, $list, length $list);
    if ($n < 0) { print STDERR "$path: $!\n"; $rc = 1; next; }
    print "# file: $path\n";
    for my $name (split /\0/, substr($list, 0, $n)) {
        my $nm = "$name";
        my $val = "\0" x 65536;
        my $m = syscall($LGETXATTR, $p, $nm, $val, length $val);
        if ($m < 0) { print "$name: ($!)\n"; next; }
        print "$name=\"", substr($val, 0, $m), "\"\n";
    }
}
exit $rc;
EOF
chmod 755 /usr/local/bin/xattrs
