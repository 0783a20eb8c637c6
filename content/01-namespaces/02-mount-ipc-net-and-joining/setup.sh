#!/bin/bash
# Runs once when the microVM starts, as root, outside the learner's shell.
# It installs three small Perl programs and starts two of them, each in a
# namespace of its own, the way a runtime starts two containers:
#   producer  (exercise share-ipc) in a new IPC namespace. It creates the
#             System V shared memory segment with key 0x00c0ffee there,
#             stays attached to it and writes a new reading every second.
#   consumer  (exercise share-ipc) not started. It attaches to the segment
#             with key 0x00c0ffee and prints each new reading, or exits at
#             once when its IPC namespace has no such segment.
#   greeter   (exercise wake-the-greeter) in a new network namespace, whose
#             loopback device is down. It answers every TCP connection to
#             127.0.0.1:8080 with one line, once it can listen there.
# Returns as soon as both processes have started (well under a second).
set -u
mkdir -p /run/lab

cat > /usr/local/bin/producer <<'PERL'
#!/usr/bin/perl
# producer: publishes a reading every second in the System V shared memory
# segment with key 0x00c0ffee, which it creates in its own IPC namespace.
use strict;
use warnings;
use IPC::SysV qw(IPC_CREAT shmat memwrite);
my $key = 0x00c0ffee;
my $id = shmget($key, 4096, IPC_CREAT | 0600);
defined $id or die "producer: cannot create the segment: $!\n";
my $addr = shmat($id, undef, 0);
defined $addr or die "producer: cannot attach the segment: $!\n";
my $n = 0;
while (1) {
  $n++;
  memwrite($addr, "reading $n from the producer\0", 0, 64);
  sleep 1;
}
PERL

cat > /usr/local/bin/consumer <<'PERL'
#!/usr/bin/perl
# consumer: attaches to the System V shared memory segment with key
# 0x00c0ffee and prints every new reading it finds there.
use strict;
use warnings;
use IPC::SysV qw(SHM_RDONLY shmat memread);
$| = 1;
my $key = 0x00c0ffee;
my $id = shmget($key, 0, 0);
defined $id or die sprintf("consumer: no shared memory segment with key 0x%08x in this IPC namespace\n", $key);
my $addr = shmat($id, undef, SHM_RDONLY);
defined $addr or die "consumer: cannot attach the segment: $!\n";
my $last = '';
while (1) {
  my $buf = '';
  memread($addr, $buf, 0, 64);
  $buf =~ s/\0.*//s;
  if ($buf ne $last) { print "consumer got: $buf\n"; $last = $buf; }
  sleep 1;
}
PERL

cat > /usr/local/bin/greeter <<'PERL'
#!/usr/bin/perl
# greeter: answers every TCP connection to 127.0.0.1:8080 with one line.
# Until it can listen there, it tries again every second.
use strict;
use warnings;
use IO::Socket::INET;
while (1) {
  my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 8080,
                                  Listen => 8, ReuseAddr => 1);
  unless ($srv) { sleep 1; next; }
  while (my $c = $srv->accept) {
    print $c "hello from the greeter\n";
    close $c;
  }
}
PERL
chmod 755 /usr/local/bin/producer /usr/local/bin/consumer /usr/local/bin/greeter

# unshare without --fork executes the program itself, so each program is
# the first process of its new namespace, and its name is its own. (setsid
# does not fork here either, so $! is the program's PID.)
setsid unshare --ipc /usr/local/bin/producer >/dev/null 2>&1 < /dev/null &
prod=$!
setsid unshare --net /usr/local/bin/greeter >/dev/null 2>&1 < /dev/null &
greet=$!

# Wait (at most ~3 s) until both have become their programs. Perl needs a
# second or two more under TCG before the producer's segment exists; the
# learner is still reading by then.
for _ in $(seq 30); do
  a= b=
  read -r a 2>/dev/null < "/proc/$prod/comm"
  read -r b 2>/dev/null < "/proc/$greet/comm"
  [ "$a" = producer ] && [ "$b" = greeter ] && exit 0
  sleep 0.1
done
echo "setup: the producer or the greeter did not start" >&2
exit 1
