#!/bin/bash
# Passes when /root/survey.txt holds six key=value lines that match what the
# sandbox really is, read live from /proc when the check runs:
#   hostname   the UTS namespace's hostname   /proc/sys/kernel/hostname
#   pid1       the command name of PID 1      /proc/1/comm
#   kernel     the kernel release             uname -r
#   memory_kb  MemTotal in kB                 /proc/meminfo
#   caps       PID 1's effective capabilities, decoded into names (compared
#              as a set: any order, with or without the cap_ prefix)
#   seccomp    PID 1's seccomp mode           /proc/1/status
# Every wrong or missing line is reported at once. The expected values are
# not printed, so a failing check points at the line, not at the answer.

file=/root/survey.txt
if [ ! -f "$file" ]; then
  echo "$file does not exist yet. Write one key=value line for each of: hostname, pid1, kernel, memory_kb, caps, seccomp."
  exit 1
fi

read -r want_hostname < /proc/sys/kernel/hostname
read -r want_pid1 < /proc/1/comm
want_kernel=$(uname -r)   # gVisor has no /proc/sys/kernel/osrelease
want_memory_kb=
while read -r key val _; do
  [ "$key" = MemTotal: ] && want_memory_kb=$val
done < /proc/meminfo
want_seccomp=
while read -r key val _; do
  [ "$key" = Seccomp: ] && want_seccomp=$val
done < /proc/1/status
if ! read_caps /proc/1/status; then
  echo "The checker cannot read the capability sets of PID 1."
  exit 1
fi
pid1_eff=$eff

# Capability lists as sorted, lower-case names without the cap_ prefix.
norm_caps() {
  tr 'A-Z' 'a-z' | tr -d ' \t' | tr ',' '\n' | sed 's/^cap_//' | grep -v '^$' | sort -u
}
want_caps=$(names "$pid1_eff" | norm_caps)

declare -A got
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  case $line in ''|'#'*) continue ;; esac
  [[ $line == *=* ]] || continue
  key=${line%%=*}; val=${line#*=}
  key=$(echo "$key" | tr -d ' \t' | tr 'A-Z' 'a-z')
  val=$(echo "$val" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
  got[$key]=$val
done < "$file"

problems=()
for key in hostname pid1 kernel memory_kb caps seccomp; do
  if [ -z "${got[$key]+set}" ]; then
    problems+=("there is no $key= line")
    continue
  fi
  val=${got[$key]}
  case $key in
    hostname) [ "$val" = "$want_hostname" ] || problems+=("hostname '$val' is not the name the sandbox's UTS namespace holds") ;;
    pid1) [ "$val" = "$want_pid1" ] || problems+=("pid1 '$val' is not the command name of PID 1 (the name ps shows in its COMMAND column, as in /proc/1/comm)") ;;
    kernel) [ "$val" = "$want_kernel" ] || problems+=("kernel '$val' is not the release the kernel reports (uname -r)") ;;
    memory_kb)
      num=${val%%[!0-9]*}
      [ "$num" = "$want_memory_kb" ] || problems+=("memory_kb '$val' is not the MemTotal of /proc/meminfo, in kB") ;;
    seccomp) [ "$val" = "$want_seccomp" ] || problems+=("seccomp '$val' is not the mode in the Seccomp: line of PID 1's status") ;;
    caps)
      have=$(echo "$val" | norm_caps)
      extra=$(comm -13 <(echo "$want_caps") <(echo "$have") | sed 's/^/cap_/' | paste -sd, - | sed 's/,/, /g')
      missing=$(comm -23 <(echo "$want_caps") <(echo "$have") | grep -c .)
      msg=
      [ -n "$extra" ] && msg="caps names $extra, which PID 1's effective set does not hold"
      if [ "$missing" -gt 0 ]; then
        msg="${msg:+$msg, and }caps leaves out $missing capabilities that PID 1's effective set does hold"
      fi
      [ -n "$msg" ] && problems+=("$msg")
      ;;
  esac
done

if [ ${#problems[@]} -gt 0 ]; then
  out="$file is not right yet: ${problems[0]}"
  for p in "${problems[@]:1}"; do out="$out; $p"; done
  echo "$out."
  exit 1
fi
echo "$file matches the sandbox: hostname, PID 1, kernel, memory, PID 1's capabilities and its seccomp mode are all right."
exit 0
