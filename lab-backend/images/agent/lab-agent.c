/*
 * lab-agent: PID 1 of a `microvm` sandbox guest. It mounts the pseudo
 * filesystems, opens the virtio-serial port named "lab.agent" and runs the
 * host's exec requests over it, several at once.
 *
 * Wire protocol (both directions): frames of
 *     [type u8][stream id u32 BE][len u32 BE][payload: len bytes]
 * host -> guest
 *   EXEC   0x01  u8 tty, u16 cols, u16 rows, u64 capability mask (bounding set),
 *                u32 argc, u32 envc, then NUL-terminated strings: cwd, argv..., env...
 *   STDIN  0x02  bytes for the process (len 0 = close stdin)
 *   RESIZE 0x03  u16 cols, u16 rows (TIOCSWINSZ on the pty master; the kernel sends SIGWINCH)
 *   SIGNAL 0x04  u8 signal number (sent to the process group)
 *   PAUSE  0x05  stop reading the process's output (it blocks once its buffers fill)
 *   RESUME 0x06  read it again
 *   HELLO  0x07  id 0, 32-byte key; only the first one counts (sent before any exec)
 *   PING   0x08  id 0, 8-byte nonce
 *   ADOPT  0x09  id 0, 8-byte nonce: a new host takes over (a restarted backend). Every
 *                process the agent runs is killed (held terminals live on in their dtach
 *                masters, which are not the agent's), stream ids start afresh, and ADOPTED
 *                answers; only after HELLO
 * guest -> host
 *   READY   0x80 id 0, once the agent listens
 *   STARTED 0x81 the process runs (its exec frame was accepted)
 *   DATA    0x82 u8 stream (1 stdout, 2 stderr), then bytes
 *   EXIT    0x83 i32 code (-1 when signalled), u8 signal, the key; after all output
 *   ERROR   0x84 text: the exec could not be started (no STARTED/EXIT follow)
 *   STDIN_ACK 0x85 u32: this many of the stream's stdin bytes were written to the process
 *   PONG    0x86 id 0, the PING's nonce, then the key
 *   ADOPTED 0x87 id 0, the ADOPT's nonce, then the key
 * Nothing in a frame is trusted beyond its bounds; malformed frames are dropped.
 *
 * The agent never blocks on one process: input waits in a per-process buffer
 * and is written as the terminal takes it (the host sends at most its window
 * of unacknowledged bytes). The key proves to the host that EXIT and PONG come
 * from this agent and not from a learner's process that took the port; the
 * agent is not dumpable, and learners' processes hold fewer capabilities, so
 * they cannot read its memory. If the port goes away (unbound), the agent
 * keeps trying to open it again.
 *
 * The host may go away and come back (a backend restarts; QEMU and this guest
 * live on). While no host is connected (the port polls POLLHUP) the agent
 * writes nothing and reads no process output, so processes block on their
 * terminals; what the old host had sent is dropped, so the next host's first
 * frame starts a frame here. A frame cut short by the host going is never
 * finished for the next one; the next host finds its place in our output by
 * the ADOPTED frame, which only this agent can write (it carries the key).
 * READY is sent once a host is connected and no key has been given. After a
 * host hung up, the agent reads nothing of the next one but from its ADOPT
 * frame on (data can reach the guest before the news that a host connected, so
 * the old host's bytes and the new one's cannot be told apart by time), and
 * the new host sends ADOPT again until it is answered.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

enum { F_EXEC = 1, F_STDIN = 2, F_RESIZE = 3, F_SIGNAL = 4, F_PAUSE = 5, F_RESUME = 6, F_HELLO = 7, F_PING = 8,
       F_ADOPT = 9,
       F_READY = 0x80, F_STARTED = 0x81, F_DATA = 0x82, F_EXIT = 0x83, F_ERROR = 0x84, F_STDIN_ACK = 0x85, F_PONG = 0x86, F_ADOPTED = 0x87 };

#define MAX_PROCS 64
#define MAX_FRAME (1u << 20)
#define KEY_BYTES 32
/* More than the host's window (128 KiB), so a well-behaved host never overflows it. */
#define INBUF_MAX (256u * 1024)

static unsigned char key[KEY_BYTES];
static int have_key = 0;

struct proc {
  int used;
  uint32_t id;
  pid_t pid;
  int tty;
  int in_fd;          /* stdin pipe write end, or pty master (tty) */
  int out_fd, err_fd; /* pipes; for tty out_fd is the master (same as in_fd) */
  int reaped;
  int status;
  int paused;         /* F_PAUSE: stop reading its output, so the process blocks once its buffers fill */
  unsigned char *inbuf; /* stdin waiting for the process to take it (non-blocking writes) */
  size_t inlen;
  int eof_pending;    /* STDIN len 0 arrived: close (pipe) or send ^D (tty) once inbuf is written */
};

static struct proc procs[MAX_PROCS];
static int port = -1;
/* A host is connected to the port (QEMU's chardev socket has a client). */
static int host_up = 0;
/* The host went away (hung up): the next one is a new backend, whose first frame is ADOPT. */
static int host_hung_up = 0;
/* Reading a new backend's frames: skip to its ADOPT (what comes before is the old host's, or torn). */
static int awaiting_adopt = 0;
static const unsigned char ADOPT_HEADER[9] = { F_ADOPT, 0, 0, 0, 0, 0, 0, 0, 8 };

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { dprintf(fd, "lab-agent: %s\n", buf); close(fd); }
}

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) { struct pollfd pf = { fd, POLLOUT, 0 }; poll(&pf, 1, 1000); continue; }
      return -1;
    }
    p += w; n -= (size_t)w;
  }
  return 0;
}

static int write_file(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = write_all(fd, value, strlen(value));
  close(fd);
  return r;
}

static int sandbox_cgroup = 0; /* execs go to the guest cgroup /sandbox (pids limit) */

static void put32(unsigned char *b, uint32_t v) { b[0] = v >> 24; b[1] = v >> 16; b[2] = v >> 8; b[3] = v; }
static uint32_t get32(const unsigned char *b) { return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3]; }
static uint16_t get16(const unsigned char *b) { return (uint16_t)((b[0] << 8) | b[1]); }

/*
 * Write to the port (non-blocking). A host that is connected but not reading
 * is waited for, as before; a host that goes away (POLLHUP without POLLOUT)
 * ends the write: host_up drops and the rest of the frame is never sent.
 */
static int port_write(const unsigned char *p, size_t n) {
  while (n > 0) {
    if (!host_up) return -1;
    ssize_t w = write(port, p, n);
    if (w > 0) { p += w; n -= (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = { port, POLLOUT, 0 };
      if (poll(&pf, 1, 1000) > 0 && (pf.revents & POLLHUP) && !(pf.revents & POLLOUT)) host_up = 0;
      continue;
    }
    return -1;
  }
  return 0;
}

static void send_frame(uint8_t type, uint32_t id, const void *a, size_t alen, const void *b, size_t blen) {
  unsigned char hdr[9];
  hdr[0] = type; put32(hdr + 1, id); put32(hdr + 5, (uint32_t)(alen + blen));
  /* One buffer so a frame is one write (the port is shared by all processes). */
  size_t n = 9 + alen + blen;
  unsigned char *buf = malloc(n);
  if (!buf) return;
  memcpy(buf, hdr, 9);
  if (alen) memcpy(buf + 9, a, alen);
  if (blen) memcpy(buf + 9 + alen, b, blen);
  port_write(buf, n);
  free(buf);
}

static void send_error(uint32_t id, const char *msg) { send_frame(F_ERROR, id, msg, strlen(msg), NULL, 0); }

static struct proc *find(uint32_t id) {
  for (int i = 0; i < MAX_PROCS; i++) if (procs[i].used && procs[i].id == id) return &procs[i];
  return NULL;
}

static void close_fd(int *fd) { if (*fd >= 0) close(*fd); *fd = -1; }

/* Send EXIT once the process is reaped and its output is drained. */
static void maybe_finish(struct proc *p) {
  if (!p->reaped || p->out_fd >= 0 || p->err_fd >= 0) return;
  unsigned char pl[5];
  int code = -1, sig = 0;
  if (WIFEXITED(p->status)) code = WEXITSTATUS(p->status);
  else if (WIFSIGNALED(p->status)) sig = WTERMSIG(p->status);
  put32(pl, (uint32_t)code); pl[4] = (unsigned char)sig;
  if (p->tty) p->in_fd = -1; else close_fd(&p->in_fd);
  send_frame(F_EXIT, p->id, pl, 5, key, KEY_BYTES);
  free(p->inbuf); p->inbuf = NULL; p->inlen = 0;
  p->used = 0;
}

static void send_ack(struct proc *p, size_t n) {
  unsigned char pl[4];
  put32(pl, (uint32_t)n);
  send_frame(F_STDIN_ACK, p->id, pl, 4, NULL, 0);
}

/* Write what the process will take now; acknowledge it to the host. Never blocks. */
static void flush_input(struct proc *p) {
  size_t done = 0;
  while (p->in_fd >= 0 && done < p->inlen) {
    ssize_t w = write(p->in_fd, p->inbuf + done, p->inlen - done);
    if (w > 0) { done += (size_t)w; continue; }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    /* The process closed its end: what is left can never be written; count it as taken. */
    done = p->inlen;
    if (!p->tty) close_fd(&p->in_fd);
    break;
  }
  if (done) {
    memmove(p->inbuf, p->inbuf + done, p->inlen - done);
    p->inlen -= done;
    send_ack(p, done);
  }
  if (p->inlen == 0 && p->eof_pending && p->in_fd >= 0) {
    p->eof_pending = 0;
    if (!p->tty) close_fd(&p->in_fd);
    else { unsigned char eot = 4; if (write(p->in_fd, &eot, 1) < 0) { /* full: dropped */ } }
  }
}

static void drop_caps(uint64_t mask) {
  for (int c = 0; c < 64; c++) {
    if (mask & (1ull << c)) continue;
    if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
  }
}

/*
 * The check toolbox: a read-only disk (QEMU readonly=on, so no remount can
 * make it writable) that initrd_stage mounts at TOOLBOX_DIR before any
 * learner process exists. Its mount ID is recorded then; an exec of a path
 * under TOOLBOX_DIR (a check or setup script's shell) runs only while that
 * path still leads into that very mount and nothing is mounted on anything
 * inside it. Otherwise guest root has put its own tools in the toolbox's
 * place, and the exec is refused with a "toolbox:" error.
 */
#define TOOLBOX_DIR "/.lab/toolbox"
static int toolbox_mounted;      /* set by initrd_stage */
static uint64_t toolbox_mnt;     /* its mount ID, recorded before the first exec; 0: none */

static int mnt_id(int dirfd, const char *path, int flags, uint64_t *id) {
  struct statx st;
  if (statx(dirfd, path, flags, STATX_MNT_ID, &st) != 0 || !(st.stx_mask & STATX_MNT_ID)) return -1;
  *id = st.stx_mnt_id;
  return 0;
}

/* Nothing is mounted on top of a file or directory inside the toolbox mount (mountinfo field 2 is the parent's ID). */
static int toolbox_has_submounts(void) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return 1;
  char line[4096];
  int found = 0;
  unsigned long long mid, parent;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "%llu %llu", &mid, &parent) == 2 && parent == toolbox_mnt) { found = 1; break; }
  }
  fclose(f);
  return found;
}

/* An O_PATH descriptor of `path` inside the intact toolbox, or -1 with why in `why`. */
static int open_toolbox_exec(const char *path, const char **why) {
  uint64_t got = 0;
  if (!toolbox_mnt) { *why = "toolbox: this sandbox has no check toolbox (its disk was not mounted at boot)"; return -1; }
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0 || mnt_id(fd, "", AT_EMPTY_PATH, &got) != 0 || got != toolbox_mnt) {
    if (fd >= 0) close(fd);
    *why = "toolbox: the check toolbox at " TOOLBOX_DIR " has been replaced or covered by another mount, so checks cannot run. Unmount what is mounted over it, or start a new sandbox.";
    return -1;
  }
  if (toolbox_has_submounts()) {
    close(fd);
    *why = "toolbox: something is mounted over a file or directory inside the check toolbox at " TOOLBOX_DIR ", so checks cannot run. Unmount it, or start a new sandbox.";
    return -1;
  }
  return fd;
}

static void do_exec(uint32_t id, const unsigned char *pl, uint32_t len) {
  if (find(id)) { send_error(id, "stream id in use"); return; }
  if (len < 21) { send_error(id, "short exec frame"); return; }
  int tty = pl[0];
  unsigned short cols = get16(pl + 1), rows = get16(pl + 3);
  uint64_t caps = ((uint64_t)get32(pl + 5) << 32) | get32(pl + 9);
  uint32_t argc = get32(pl + 13), envc = get32(pl + 17);
  if (argc == 0 || argc > 4096 || envc > 4096) { send_error(id, "bad argc/envc"); return; }
  /* Split the NUL-terminated strings: cwd, argv, env. */
  char **strs = calloc(1 + argc + envc + 2, sizeof(char *));
  if (!strs) { send_error(id, "out of memory"); return; }
  const char *s = (const char *)pl + 21, *end = (const char *)pl + len;
  for (uint32_t i = 0; i < 1 + argc + envc; i++) {
    const char *z = memchr(s, 0, (size_t)(end - s));
    if (!z) { free(strs); send_error(id, "malformed exec strings"); return; }
    strs[i] = (char *)s; s = z + 1;
  }
  char *cwd = strs[0];
  char **argv = malloc((argc + 1) * sizeof(char *));
  char **envp = malloc((envc + 1) * sizeof(char *));
  if (!argv || !envp) { free(strs); free(argv); free(envp); send_error(id, "out of memory"); return; }
  for (uint32_t i = 0; i < argc; i++) argv[i] = strs[1 + i];
  argv[argc] = NULL;
  for (uint32_t i = 0; i < envc; i++) envp[i] = strs[1 + argc + i];
  envp[envc] = NULL;

  struct proc *slot = NULL;
  for (int i = 0; i < MAX_PROCS; i++) if (!procs[i].used) { slot = &procs[i]; break; }
  if (!slot) { free(strs); free(argv); free(envp); send_error(id, "too many processes"); return; }
  /* A toolbox program is opened (and judged) here and run from this very descriptor: no path swap in between. */
  int exec_fd = -1;
  if (strncmp(argv[0], TOOLBOX_DIR "/", sizeof TOOLBOX_DIR) == 0) {
    const char *why = NULL;
    exec_fd = open_toolbox_exec(argv[0], &why);
    if (exec_fd < 0) { free(strs); free(argv); free(envp); send_error(id, why); return; }
  }

  int inp[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, master = -1;
  pid_t pid;
  if (tty) {
    struct winsize ws = { .ws_row = rows ? rows : 24, .ws_col = cols ? cols : 80 };
    pid = forkpty(&master, NULL, NULL, &ws);
  } else {
    if (pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
      free(strs); free(argv); free(envp); send_error(id, "pipe failed"); return;
    }
    pid = fork();
  }
  if (pid < 0) {
    if (exec_fd >= 0) close(exec_fd);
    free(strs); free(argv); free(envp);
    for (int i = 0; i < 2; i++) { close_fd(&inp[i]); close_fd(&outp[i]); close_fd(&errp[i]); }
    send_error(id, "fork failed");
    return;
  }
  if (pid == 0) {
    sigset_t all; sigemptyset(&all); sigprocmask(SIG_SETMASK, &all, NULL);
    for (int sgn = 1; sgn < NSIG; sgn++) signal(sgn, SIG_DFL);
    if (!tty) {
      setsid();
      dup2(inp[0], 0); dup2(outp[1], 1); dup2(errp[1], 2);
    }
    if (sandbox_cgroup) write_file("/sys/fs/cgroup/sandbox/cgroup.procs", "0\n");
    if (chdir(cwd) != 0) { dprintf(2, "lab-agent: cannot chdir to %s: %s\n", cwd, strerror(errno)); _exit(126); }
    drop_caps(caps);
    if (exec_fd >= 0) syscall(SYS_execveat, exec_fd, "", argv, envp, AT_EMPTY_PATH);
    else execvpe(argv[0], argv, envp);
    dprintf(2, "lab-agent: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  if (exec_fd >= 0) close(exec_fd);
  free(strs); free(argv); free(envp);
  memset(slot, 0, sizeof *slot);
  slot->used = 1; slot->id = id; slot->pid = pid; slot->tty = tty;
  if (tty) {
    fcntl(master, F_SETFD, FD_CLOEXEC);
    fcntl(master, F_SETFL, O_NONBLOCK);
    slot->in_fd = master; slot->out_fd = master; slot->err_fd = -1;
  } else {
    /* Non-tty execs get a closed stdin (EOF at once), like the other drivers. */
    close(inp[0]); close(outp[1]); close(errp[1]); close(inp[1]);
    slot->in_fd = -1; slot->out_fd = outp[0]; slot->err_fd = errp[0];
  }
  send_frame(F_STARTED, id, NULL, 0, NULL, 0);
}

static void handle_frame(uint8_t type, uint32_t id, const unsigned char *pl, uint32_t len) {
  struct proc *p;
  switch (type) {
  case F_EXEC: do_exec(id, pl, len); break;
  case F_STDIN:
    if (!(p = find(id))) break;
    if (p->in_fd < 0) { if (len) send_ack(p, len); break; }
    if (len == 0) { p->eof_pending = 1; flush_input(p); break; }
    if (p->inlen + len > INBUF_MAX) { logmsg("stdin over the window for stream %u: dropped", id); send_ack(p, len); break; }
    if (!p->inbuf && !(p->inbuf = malloc(INBUF_MAX))) { send_ack(p, len); break; }
    memcpy(p->inbuf + p->inlen, pl, len);
    p->inlen += len;
    flush_input(p);
    break;
  case F_HELLO:
    if (!have_key && id == 0 && len == KEY_BYTES) { memcpy(key, pl, KEY_BYTES); have_key = 1; }
    break;
  case F_PING:
    if (have_key && len == 8) send_frame(F_PONG, 0, pl, 8, key, KEY_BYTES);
    break;
  case F_ADOPT:
    if (!have_key || id != 0 || len != 8) break;
    /* The old host's processes go (their zombies are reaped as any child is); held shells stay with their dtach masters. */
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *q = &procs[i];
      if (!q->used) continue;
      if (!q->reaped) { kill(-q->pid, SIGKILL); kill(q->pid, SIGKILL); }
      close_fd(&q->out_fd);
      close_fd(&q->err_fd);
      if (q->tty) q->in_fd = -1; else close_fd(&q->in_fd);
      free(q->inbuf);
      memset(q, 0, sizeof *q);
    }
    send_frame(F_ADOPTED, 0, pl, 8, key, KEY_BYTES);
    break;
  case F_RESIZE:
    if (!(p = find(id)) || !p->tty || len < 4 || p->in_fd < 0) break;
    {
      struct winsize ws = { .ws_row = get16(pl + 2), .ws_col = get16(pl) };
      ioctl(p->in_fd, TIOCSWINSZ, &ws);
    }
    break;
  case F_PAUSE:
  case F_RESUME:
    if ((p = find(id))) p->paused = type == F_PAUSE;
    break;
  case F_SIGNAL:
    if (!(p = find(id)) || p->reaped || len < 1) break;
    kill(-p->pid, pl[0]);
    kill(p->pid, pl[0]);
    break;
  default: break;
  }
}

static void reap_children(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_PROCS; i++) {
      struct proc *p = &procs[i];
      if (!p->used || p->pid != pid || p->reaped) continue;
      p->reaped = 1; p->status = status;
      if (p->tty) {
        /* Drain what the pty still holds, then close; orphans keeping it open are not waited for. */
        char buf[16384];
        unsigned char st = 1;
        ssize_t n;
        while ((n = read(p->out_fd, buf, sizeof buf)) > 0) send_frame(F_DATA, p->id, &st, 1, buf, (size_t)n);
        close_fd(&p->out_fd);
        p->in_fd = -1;
      }
      maybe_finish(p);
    }
  }
}

static void mount_fs(void) {
  mkdir("/proc", 0555); mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mkdir("/sys", 0555); mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mkdir("/dev", 0755); mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
  mkdir("/dev/pts", 0755); mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  symlink("pts/ptmx", "/dev/ptmx");
  if (access("/dev/ptmx", F_OK) != 0) { unlink("/dev/ptmx"); symlink("pts/ptmx", "/dev/ptmx"); }
  mkdir("/dev/shm", 01777); mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mkdir("/run", 0755); mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mkdir("/tmp", 01777); mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
  mount(NULL, "/", NULL, MS_REMOUNT, NULL);
}

/* lab.hostname=NAME and lab.pids=N from the kernel command line. */
static void apply_cmdline(void) {
  char cmd[4096] = { 0 };
  int fd = open("/proc/cmdline", O_RDONLY);
  if (fd < 0) return;
  ssize_t n = read(fd, cmd, sizeof cmd - 1);
  close(fd);
  if (n <= 0) return;
  char *h = strstr(cmd, "lab.hostname=");
  if (h) {
    h += strlen("lab.hostname=");
    size_t l = strcspn(h, " \n");
    if (l > 0 && l < 64) sethostname(h, l);
  }
  char *p = strstr(cmd, "lab.pids=");
  if (p) {
    /* Every exec runs in the cgroup /sandbox whose pids.max is the sandbox's pid limit. */
    char val[32];
    snprintf(val, sizeof val, "%ld\n", strtol(p + strlen("lab.pids="), NULL, 10));
    write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids");
    mkdir("/sys/fs/cgroup/sandbox", 0755);
    if (write_file("/sys/fs/cgroup/sandbox/pids.max", val) == 0) sandbox_cgroup = 1;
    else logmsg("could not set the pid limit");
  }
}

/* Make /dev/NAME from /sys/class/virtio-ports/NAME/dev ("major:minor") when devtmpfs has not (yet). */
static void mknod_port(const char *name, const char *path) {
  char p[300], dev[32] = { 0 };
  snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/dev", name);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, dev, sizeof dev - 1);
  close(fd);
  unsigned maj, min;
  if (n > 0 && sscanf(dev, "%u:%u", &maj, &min) == 2) mknod(path, S_IFCHR | 0600, makedev(maj, min));
}

static void run_wait(char *const argv[]) {
  pid_t pid = fork();
  if (pid == 0) { execv(argv[0], argv); _exit(127); }
  if (pid > 0) { int st; waitpid(pid, &st, 0); }
}

/* One look for the port's device node, /dev/vportNpM whose sysfs name is "lab.agent"; -1 if it cannot be opened now. */
static int try_open_port(void) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int pfd = -1;
  while (pfd < 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[300], name[64] = { 0 };
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n > 0 && strncmp(name, "lab.agent", 9) == 0 && (name[9] == '\n' || name[9] == 0)) {
      snprintf(path, sizeof path, "/dev/%s", e->d_name);
      if (access(path, F_OK) != 0) mknod_port(e->d_name, path);
      pfd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    }
  }
  closedir(d);
  return pfd;
}

static int open_port(void) {
  for (int attempt = 0; attempt < 400; attempt++) {
    if (attempt == 1) {
      char *mp[] = { "/sbin/modprobe", "-q", "virtio_console", NULL };
      run_wait(mp);
    }
    int pfd = try_open_port();
    if (pfd >= 0) return pfd;
    usleep(25000);
  }
  return -1;
}

/*
 * The port stopped working (hung up, or gone because it was unbound): open it
 * again if it can be opened. While our descriptor is still the port's, a second
 * open fails (virtio-serial ports have one opener), so this only ever replaces
 * a dead descriptor.
 */
static void reopen_port(void) {
  int pfd = try_open_port();
  if (pfd < 0) return;
  close(port);
  port = pfd;
  logmsg("re-opened lab.agent");
}

/*
 * Initramfs stage (the agent is /init of a tiny initrd holding it and the
 * virtio modules): load the modules, mount /dev/vda, mount the toolbox disk
 * (/dev/vdb) inside it, move it to /, then carry on as PID 1 of the real
 * root. No shell, no udev.
 */
static void initrd_stage(void) {
  mkdir("/dev", 0755); mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  static const char *mods[] = { "virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "virtio_console" };
  for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
    char path[128];
    snprintf(path, sizeof path, "/modules/%s.ko", mods[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue; /* built in */
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) logmsg("loading %s: %s", mods[i], strerror(errno));
    close(fd);
  }
  for (int i = 0; i < 1000 && access("/dev/vda", F_OK) != 0; i++) usleep(10000);
  mkdir("/newroot", 0755);
  if (mount("/dev/vda", "/newroot", "ext4", 0, NULL) != 0) { logmsg("mounting /dev/vda: %s", strerror(errno)); for (;;) pause(); }
  /*
   * The check toolbox (its own read-only disk, the second virtio disk) at
   * /.lab/toolbox of the real root, before any learner process exists. It
   * moves with /newroot below. Without it, checks are refused with a message.
   */
  for (int i = 0; i < 300 && access("/dev/vdb", F_OK) != 0; i++) usleep(10000);
  mkdir("/newroot/.lab", 0755); mkdir("/newroot/.lab/toolbox", 0755);
  if (mount("/dev/vdb", "/newroot/.lab/toolbox", "ext4", MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) == 0) toolbox_mounted = 1;
  else logmsg("mounting the check toolbox (/dev/vdb): %s", strerror(errno));
  umount2("/dev", MNT_DETACH);
  if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) {
    logmsg("switching root: %s", strerror(errno)); for (;;) pause();
  }
}

int main(void) {
  if (getpid() == 1 && access("/lab-initrd", F_OK) == 0) initrd_stage();
  if (toolbox_mounted) {
    uint64_t rootmnt = 0;
    if (mnt_id(AT_FDCWD, TOOLBOX_DIR, 0, &toolbox_mnt) != 0 || (mnt_id(AT_FDCWD, "/", 0, &rootmnt) == 0 && rootmnt == toolbox_mnt)) toolbox_mnt = 0;
  }
  if (getpid() == 1) {
    mount_fs();
    apply_cmdline();
    setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  }
  /* Not dumpable: its memory (the key) is out of reach of /proc/1/mem for anyone not fully privileged. */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  port = open_port();
  if (port < 0) { logmsg("no virtio port named lab.agent"); for (;;) pause(); }
  logmsg("listening on lab.agent");

  sigset_t mask; sigemptyset(&mask); sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  static unsigned char in[MAX_FRAME + 9];
  size_t have = 0;
  for (;;) {
    if (!host_up) {
      /* No host: wait for one (reaping children meanwhile), then start clean. */
      struct pollfd w[2] = { { port, POLLIN, 0 }, { sfd, POLLIN, 0 } };
      poll(w, 2, 100);
      if (w[1].revents) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) {}
        reap_children();
      }
      struct pollfd pp = { port, POLLIN, 0 };
      if (poll(&pp, 1, 0) < 0 || (pp.revents & (POLLERR | POLLNVAL))) { reopen_port(); continue; }
      if (pp.revents & POLLHUP) {
        /* Drop what a host that has gone had sent (read returns 0 once none is left). */
        while (read(port, in, sizeof in) > 0) {}
        have = 0;
        reopen_port();
        continue;
      }
      host_up = 1;
      have = 0;
      awaiting_adopt = host_hung_up && have_key;
      host_hung_up = 0;
      if (!have_key) send_frame(F_READY, 0, NULL, 0, NULL, 0);
      continue;
    }
    struct pollfd pfds[2 + 3 * MAX_PROCS];
    struct { int slot; int which; } map[3 * MAX_PROCS];
    int n = 0;
    pfds[n++] = (struct pollfd){ port, POLLIN, 0 };
    pfds[n++] = (struct pollfd){ sfd, POLLIN, 0 };
    int m = 0;
    for (int i = 0; i < MAX_PROCS; i++) {
      if (!procs[i].used) continue;
      if (procs[i].inlen && procs[i].in_fd >= 0) { map[m] = (typeof(map[0])){ i, 3 }; pfds[n++] = (struct pollfd){ procs[i].in_fd, POLLOUT, 0 }; m++; }
      if (procs[i].paused && !procs[i].reaped) continue;
      if (procs[i].out_fd >= 0) { map[m] = (typeof(map[0])){ i, 1 }; pfds[n++] = (struct pollfd){ procs[i].out_fd, POLLIN, 0 }; m++; }
      if (procs[i].err_fd >= 0) { map[m] = (typeof(map[0])){ i, 2 }; pfds[n++] = (struct pollfd){ procs[i].err_fd, POLLIN, 0 }; m++; }
    }
    if (poll(pfds, (nfds_t)n, -1) < 0) { if (errno == EINTR) continue; logmsg("poll: %s", strerror(errno)); sleep(1); continue; }

    for (int k = 0; k < m; k++) {
      struct pollfd *pf = &pfds[2 + k];
      if (!pf->revents) continue;
      struct proc *p = &procs[map[k].slot];
      if (map[k].which == 3) { if (p->used && p->in_fd == pf->fd) flush_input(p); continue; }
      int *fd = map[k].which == 1 ? &p->out_fd : &p->err_fd;
      if (!p->used || *fd != pf->fd) continue;
      char buf[16384];
      ssize_t r = read(*fd, buf, sizeof buf);
      if (r > 0) { unsigned char st = (unsigned char)map[k].which; send_frame(F_DATA, p->id, &st, 1, buf, (size_t)r); }
      else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (p->tty) {
          /* EIO: every holder of the slave closed it. Wait for the reap to finish. */
          if (p->reaped) { close_fd(fd); p->in_fd = -1; maybe_finish(p); }
          else { close_fd(fd); p->in_fd = -1; }
        } else { close_fd(fd); maybe_finish(p); }
      }
    }
    if (pfds[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {}
      reap_children();
    }
    if (pfds[0].revents & POLLIN) {
      ssize_t r = read(port, in + have, sizeof in - have);
      if (r > 0) {
        have += (size_t)r;
        if (awaiting_adopt) {
          unsigned char *at = memmem(in, have, ADOPT_HEADER, sizeof ADOPT_HEADER);
          size_t from = at ? (size_t)(at - in) : (have > sizeof ADOPT_HEADER ? have - (sizeof ADOPT_HEADER - 1) : 0);
          memmove(in, in + from, have - from);
          have -= from;
          if (at) awaiting_adopt = 0;
          else continue;
        }
        size_t off = 0;
        while (have - off >= 9) {
          uint32_t len = get32(in + off + 5);
          if (len > MAX_FRAME) { logmsg("oversized frame dropped; resync"); off = have; break; }
          if (have - off < 9 + len) break;
          handle_frame(in[off], get32(in + off + 1), in + off + 9, len);
          off += 9 + len;
        }
        memmove(in, in + off, have - off);
        have -= off;
      } else if (r == 0) {
        host_up = 0; /* EOF: the host side is not connected */
        host_hung_up = 1;
      } else if (errno != EAGAIN && errno != EINTR) {
        /* The port went away (unbound): look for one to open. */
        host_up = 0;
        reopen_port();
        usleep(2000);
      }
    } else if (pfds[0].revents & POLLHUP) {
      host_up = 0;
      host_hung_up = 1;
    } else if (pfds[0].revents & (POLLERR | POLLNVAL)) {
      host_up = 0;
      reopen_port();
      usleep(2000);
    }
  }
}
