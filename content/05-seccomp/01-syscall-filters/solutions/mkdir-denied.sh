#!/bin/bash
# Deny both system calls that can create a directory, and keep both output
# streams. (strace -o /dev/null -e inject=mkdir:error=EPERM would produce the
# same log by fault injection instead of a filter.)
seccomp-deny mkdir,mkdirat /root/prepare-cache.sh > /root/denied.log 2>&1
true
