/*
 * lab-console-relay: gives `runc exec --tty` a terminal from the host side.
 *
 * runc hands a container terminal's PTY master over a unix socket
 * (--console-socket) as an SCM_RIGHTS message, which Node cannot receive.
 * This relay runs on the host under the backend's own PTY (node-pty):
 *
 *   lab-console-relay SOCKET PIDFILE -- runc exec -d --tty --console-socket SOCKET --pid-file PIDFILE ...
 *
 * runc only uses a console socket when it detaches, so it exits as soon as
 * the process runs. The relay is a child subreaper: the detached process is
 * re-parented to it, and it exits with that process's status. Meanwhile it
 * listens on SOCKET, receives the master, puts its own terminal in raw mode,
 * copies bytes both ways and window-size changes (SIGWINCH) to the master.
 * Nothing read from the container is interpreted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t winch = 1;
static void on_winch(int s) { (void)s; winch = 1; }

static int recv_fd(int sock) {
  char buf[256];
  char ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = { buf, sizeof buf };
  struct msghdr msg = { 0 };
  msg.msg_iov = &iov; msg.msg_iovlen = 1; msg.msg_control = ctl; msg.msg_controllen = sizeof ctl;
  if (recvmsg(sock, &msg, 0) < 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd; memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

static int write_all(int fd, const char *p, ssize_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w; n -= w;
  }
  return 0;
}

static int exit_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

static pid_t read_pid(const char *file) {
  char b[32] = { 0 };
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n > 0 ? (pid_t)atoi(b) : -1;
}

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0) { fprintf(stderr, "usage: %s SOCKET PIDFILE -- COMMAND...\n", argv[0]); return 2; }
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen(argv[1]) >= sizeof addr.sun_path) { fprintf(stderr, "socket path too long\n"); return 2; }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(ls, 1) < 0) { perror("console socket"); return 2; }
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  pid_t runc = fork();
  if (runc == 0) { execvp(argv[4], argv + 4); perror(argv[4]); _exit(127); }

  /* Wait for the master, or for runc to fail before it sends one. */
  int master = -1, st = 0;
  for (;;) {
    struct pollfd p = { ls, POLLIN, 0 };
    int r = poll(&p, 1, 200);
    if (r > 0) { int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC); if (c >= 0) { master = recv_fd(c); close(c); } break; }
    if (waitpid(runc, &st, WNOHANG) == runc) { unlink(argv[1]); return exit_status(st); }
  }
  close(ls); unlink(argv[1]);
  if (master < 0) { fprintf(stderr, "no terminal from the runtime\n"); waitpid(runc, &st, 0); return exit_status(st); }
  while (waitpid(runc, &st, 0) < 0 && errno == EINTR) {}
  if (exit_status(st) != 0) return exit_status(st);
  pid_t target = read_pid(argv[2]);
  if (target <= 0) { fprintf(stderr, "the runtime wrote no pid\n"); return 125; }

  struct termios saved, raw;
  int have_tty = tcgetattr(0, &saved) == 0;
  if (have_tty) { raw = saved; cfmakeraw(&raw); tcsetattr(0, TCSANOW, &raw); }
  struct sigaction sa = { 0 };
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, NULL);

  char buf[16384];
  int in_open = 1, master_open = 1, done = 0, status = 0;
  while (!done || master_open) {
    if (winch) { winch = 0; struct winsize ws; if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws); }
    /* Reap re-parented orphans; the target's status is ours. Once it is gone, drain what is left and stop. */
    pid_t w;
    while ((w = waitpid(-1, &st, WNOHANG)) > 0) if (w == target) { done = 1; status = exit_status(st); }
    struct pollfd p[2] = { { master_open ? master : -1, POLLIN, 0 }, { in_open && !done ? 0 : -1, POLLIN, 0 } };
    int r = poll(p, 2, done ? 50 : 200);
    if (r < 0) { if (errno == EINTR) continue; break; }
    if (r == 0 && done) break;
    if (p[0].revents) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) { if (n < 0 && errno == EINTR) continue; master_open = 0; continue; } /* EIO: the container side closed */
      if (write_all(1, buf, n) < 0) break;
    }
    if (p[1].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) { if (n < 0 && errno == EINTR) continue; in_open = 0; continue; }
      if (write_all(master, buf, n) < 0) break;
    }
    if (!master_open && !done) { /* the terminal closed before the process exited: wait for it */
      while (waitpid(target, &st, 0) < 0 && errno == EINTR) {}
      status = exit_status(st); done = 1;
    }
  }
  if (have_tty) tcsetattr(0, TCSANOW, &saved);
  return status;
}
