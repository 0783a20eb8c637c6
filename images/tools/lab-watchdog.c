/*
 * lab-watchdog: bounds how long one sandbox outlives the backend that owns it.
 *
 * The driver starts one per sandbox, right after the sandbox runs, detached
 * in a session of its own (lab-backend/src/sandbox/watchdog.ts):
 *
 *   lab-watchdog --owner PID:START --sandbox PID:START --grace-ms N --interval-ms N
 *                [--cgroup DIR]... [--cmdline TEXT]... [--arg WORD]...
 *
 * PID:START is a host pid and its start time (field 22 of /proc/PID/stat),
 * so a reused pid never passes for the process it replaced. Every interval:
 *  - the sandbox's main process (runsc's sandbox process, QEMU) is gone:
 *    the sandbox is gone, and so is our job; exit (killing what is left of
 *    it first if the owner is gone too);
 *  - the owner (the backend) is alive: nothing to do;
 *  - the owner has been gone for --grace-ms: kill every process of the
 *    sandbox and exit. The grace lets a restarted backend adopt the sandbox
 *    (it then replaces this watchdog with its own).
 * "Every process of the sandbox": the main process, every pid in each
 * --cgroup DIR's cgroup.procs, and every host process whose command line
 * (NULs read as spaces) contains each --cmdline TEXT and has each --arg WORD
 * as a whole argument. Our own argv carries the same markers, so the
 * driver's reapers, which look for them, kill this watchdog too when they
 * stop or reap the sandbox.
 *
 * It only reads /proc and cgroup files and sends SIGKILL; nothing read from
 * the sandbox is interpreted. Small on purpose (one per sandbox): static
 * buffers, no allocation in the loop.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 32

struct proc_ref { pid_t pid; unsigned long long start; };

static struct proc_ref owner, sandbox;
static long long grace_ms = -1, interval_ms = 1000;
static const char *cgroups[MAX_ITEMS], *cmdlines[MAX_ITEMS], *args[MAX_ITEMS];
static int n_cgroups, n_cmdlines, n_args;
static pid_t self;
static char buf[64 * 1024];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* Read up to sizeof buf - 1 bytes of `path` into buf; -1 when it cannot be read. */
static ssize_t slurp(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = 0, r;
  while (n < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += r;
  close(fd);
  buf[n] = 0;
  return n;
}

/* Start time of a live (not zombie) process; 0 when it is gone. */
static unsigned long long start_time(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (slurp(path) <= 0) return 0;
  char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses; the last ')' ends it */
  if (!p || !p[1] || !p[2]) return 0;
  p += 2; /* field 3: state */
  if (*p == 'Z' || *p == 'X') return 0;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

static int alive(const struct proc_ref *r) { return r->pid > 0 && r->start && start_time(r->pid) == r->start; }

static int cmdline_matches(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
  ssize_t n = slurp(path);
  if (n <= 0) return 0;
  for (int i = 0; i < n_args; i++) {
    int found = 0;
    for (char *a = buf; a < buf + n; a += strlen(a) + 1) if (strcmp(a, args[i]) == 0) { found = 1; break; }
    if (!found) return 0;
  }
  for (ssize_t i = 0; i < n; i++) if (!buf[i]) buf[i] = ' ';
  for (int i = 0; i < n_cmdlines; i++) if (!strstr(buf, cmdlines[i])) return 0;
  return 1;
}

/* SIGKILL every live process of the sandbox once; returns how many were found. */
static int kill_round(void) {
  int found = 0;
  if (alive(&sandbox)) { kill(sandbox.pid, SIGKILL); found++; }
  for (int i = 0; i < n_cgroups; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/cgroup.procs", cgroups[i]);
    if (slurp(path) <= 0) continue;
    /* Copy the pids out first: start_time() reuses buf. */
    static pid_t pids[4096];
    int n = 0;
    for (char *p = buf; *p && n < 4096; ) {
      char *end;
      long v = strtol(p, &end, 10);
      if (end == p) break;
      if (v > 0) pids[n++] = (pid_t)v;
      p = end;
      while (*p == '\n') p++;
    }
    for (int j = 0; j < n; j++) {
      if (pids[j] == self || !start_time(pids[j])) continue;
      kill(pids[j], SIGKILL);
      found++;
    }
  }
  if (n_cmdlines + n_args > 0) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      char *end;
      long v = strtol(e->d_name, &end, 10);
      if (*end || v <= 0 || (pid_t)v == self) continue;
      if (cmdline_matches((pid_t)v) && start_time((pid_t)v)) { kill((pid_t)v, SIGKILL); found++; }
    }
    if (d) closedir(d);
  }
  return found;
}

/* Kill until nothing of the sandbox is left (bounded: a process can only fork so fast under SIGKILL). */
static void kill_all(void) {
  for (int round = 0; round < 100 && kill_round() > 0; round++) sleep_ms(100);
}

static int parse_ref(const char *s, struct proc_ref *r) {
  char *end;
  long pid = strtol(s, &end, 10);
  if (*end != ':' || pid <= 0) return -1;
  r->pid = (pid_t)pid;
  r->start = strtoull(end + 1, &end, 10);
  return *end ? -1 : 0;
}

static int usage(void) {
  fprintf(stderr, "usage: lab-watchdog --owner PID:START --sandbox PID:START --grace-ms N [--interval-ms N]"
                  " [--cgroup DIR]... [--cmdline TEXT]... [--arg WORD]...\n");
  return 2;
}

int main(int argc, char **argv) {
  int have_owner = 0, have_sandbox = 0;
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) return usage();
    i++;
    if (!strcmp(k, "--owner")) { if (parse_ref(v, &owner)) return usage(); have_owner = 1; }
    else if (!strcmp(k, "--sandbox")) { if (parse_ref(v, &sandbox)) return usage(); have_sandbox = 1; }
    else if (!strcmp(k, "--grace-ms")) grace_ms = atoll(v);
    else if (!strcmp(k, "--interval-ms")) interval_ms = atoll(v) > 0 ? atoll(v) : 1000;
    else if (!strcmp(k, "--cgroup") && n_cgroups < MAX_ITEMS) cgroups[n_cgroups++] = v;
    else if (!strcmp(k, "--cmdline") && n_cmdlines < MAX_ITEMS) cmdlines[n_cmdlines++] = v;
    else if (!strcmp(k, "--arg") && n_args < MAX_ITEMS) args[n_args++] = v;
    else return usage();
  }
  if (!have_owner || !have_sandbox || grace_ms < 0) return usage();
  self = getpid();
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  if (chdir("/") < 0) { /* keep going: the cwd only pins a directory */ }

  long long orphaned_at = -1;
  for (;;) {
    int owner_alive = alive(&owner);
    if (!alive(&sandbox)) {
      if (!owner_alive) kill_all(); /* what is left of it (runsc's gofer) has no one else to end it */
      return 0;
    }
    if (owner_alive) orphaned_at = -1;
    else if (orphaned_at < 0) orphaned_at = now_ms();
    else if (now_ms() - orphaned_at >= grace_ms) { kill_all(); return 0; }
    long long wait = interval_ms;
    if (orphaned_at >= 0 && grace_ms - (now_ms() - orphaned_at) < wait) wait = grace_ms - (now_ms() - orphaned_at);
    sleep_ms(wait > 0 ? wait : 1);
  }
}
