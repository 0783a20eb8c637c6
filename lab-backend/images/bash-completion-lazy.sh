# /etc/profile.d/bash_completion.sh in every lesson image (replaces Debian's).
#
# Debian's version sources all of bash-completion when a login shell starts,
# before its first prompt: about 40 ms in gVisor and 150 ms or more in a
# microVM under TCG, on every terminal a learner opens. This one defers it to
# the first Tab on a command's arguments: the default completion (complete -D)
# loads bash-completion, then its loader for that command, which returns 124 so
# that bash retries (once) with the command's own completion.
if [ "x${BASH_VERSION-}" != x -a "x${PS1-}" != x -a "x${BASH_COMPLETION_VERSINFO-}" = x ] \
  && shopt -q progcomp && [ -r /usr/share/bash-completion/bash_completion ]; then
  _lab_load_completion() {
    complete -r -D
    unset -f _lab_load_completion
    . /usr/share/bash-completion/bash_completion || return 0
    _completion_loader "$@"
  }
  complete -D -F _lab_load_completion
fi
