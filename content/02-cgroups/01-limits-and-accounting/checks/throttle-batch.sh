#!/bin/bash
# Passes when the batch-job process that setup.sh started (PID and start time
# in /run/lab/batch-job) is a member of a cpu cgroup named "batch" directly
# under the root of the cpu hierarchy, and that cgroup holds what Docker's
# --cpus 0.5 --cpu-shares 512 would write: cpu.cfs_quota_us equal to half of
# cpu.cfs_period_us, and cpu.shares 512.
# Uses shell builtins only, so it neither forks much nor can hang.

# Sets mnt to the mount point of the cgroup hierarchy that carries
# controller $1, from /proc/mounts (a hierarchy may carry several, as in
# "cpu,cpuacct"). Fails when no such hierarchy is mounted.
cg_mount() {
  local dev m type opts rest
  mnt=
  while read -r dev m type opts rest; do
    [ "$type" = cgroup ] || continue
    case ",$opts," in *",$1,"*) mnt=$m; return 0 ;; esac
  done < /proc/mounts
  return 1
}

# Sets path to the cgroup of PID $1 in the hierarchy that carries
# controller $2, from /proc/PID/cgroup (lines look like "3:memory:/cache").
cg_of() {
  local line rest ctls
  path=
  [ -r "/proc/$1/cgroup" ] || return 1
  while IFS= read -r line; do
    rest=${line#*:}; ctls=${rest%%:*}
    case ",$ctls," in *",$2,"*) path=${rest#*:}; return 0 ;; esac
  done 2>/dev/null < "/proc/$1/cgroup"
  return 1
}

if ! read -r pid start 2>/dev/null < /run/lab/batch-job || [ -z "$pid" ]; then
  echo "batch-job was never started (/run/lab/batch-job is missing). Restart the lab to get a fresh sandbox."
  exit 1
fi
alive=no
if read -r line 2>/dev/null < "/proc/$pid/stat"; then
  set -- ${line##*) }
  [ "${20}" = "$start" ] && [ "$1" != Z ] && alive=yes
fi
if [ "$alive" = no ]; then
  echo "batch-job (PID $pid) is no longer running, so it cannot be throttled. Restart the lab to get it back."
  exit 1
fi

if ! cg_mount cpu; then
  echo "No cgroup hierarchy with the cpu controller is mounted, so no cpu cgroup can exist yet. Mount one first (the lesson mounts cpu,cpuacct at /sys/fs/cgroup/cpu,cpuacct)."
  exit 1
fi
dir=$mnt/batch
if [ ! -d "$dir" ]; then
  echo "There is no cgroup named batch in the cpu hierarchy yet ($dir does not exist)."
  exit 1
fi
read -r quota 2>/dev/null < "$dir/cpu.cfs_quota_us"
read -r period 2>/dev/null < "$dir/cpu.cfs_period_us"
read -r shares 2>/dev/null < "$dir/cpu.shares"
case "$quota$period" in ''|*[!0-9-]*) echo "Cannot read the quota and period of $dir."; exit 1 ;; esac
if [ "$quota" -le 0 ]; then
  echo "$dir/cpu.cfs_quota_us is $quota, which means no CPU limit at all. Half a CPU is half of cpu.cfs_period_us ($period)."
  exit 1
fi
if [ $((quota * 2)) -ne "$period" ]; then
  echo "batch allows $quota us of CPU time per $period us period, which is not half a CPU. For --cpus 0.5 the quota must be half the period ($((period / 2)))."
  exit 1
fi
if [ "$shares" != 512 ]; then
  echo "The quota of batch is right, but $dir/cpu.shares is ${shares:-unreadable}, not 512."
  exit 1
fi
cg_of "$pid" cpu
if [ "$path" != /batch ]; then
  echo "The batch cgroup is set up right, but batch-job (PID $pid) is still in cpu cgroup ${path:-unknown}, not /batch."
  exit 1
fi
echo "batch-job (PID $pid) runs in cpu cgroup /batch: $quota us per $period us period (half a CPU) and cpu.shares 512."
exit 0
