#!/bin/bash
# Passes when the batch-job process that setup.sh started (PID and start time
# in /run/lab/batch-job) is a member of a cpu cgroup named "batch" directly
# under the root of the cpu hierarchy, and that cgroup holds what Docker's
# --cpus 0.5 --cpu-shares 512 would write: cpu.cfs_quota_us equal to half of
# cpu.cfs_period_us, and cpu.shares 512.
# Uses shell builtins only, so it neither forks much nor can hang.

lab_process batch-job throttled || exit 1
cg_dir cpu batch "cpu,cpuacct at /sys/fs/cgroup/cpu,cpuacct" || exit 1
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
