/*
 * The pod sandbox's one process (the kubelet's "pause" container): it holds the pod's namespaces
 * open and does nothing else. As PID 1 of the pod's PID namespace it reaps the zombies of processes
 * re-parented to it. SIGINT and SIGTERM end it (the kubelet stops a sandbox that way; PID 1 of a
 * namespace ignores a signal it has no handler for, hence the handler); every other signal stays
 * blocked, so none interrupts it. Built static by Tether's image tooling (gcc -static -Os): the
 * pause image holds this file alone.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int signo) {
  (void)signo;
  _exit(0);
}

static void reap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static int handle(int signo, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = signo == SIGCHLD ? SA_NOCLDSTOP : 0;
  sigfillset(&sa.sa_mask);
  return sigaction(signo, &sa, NULL);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "-v") == 0) {
    puts("tether pause 1");
    return 0;
  }
  if (getpid() != 1) fputs("pause: warning: not PID 1 of its PID namespace\n", stderr);
  if (handle(SIGINT, stop) || handle(SIGTERM, stop) || handle(SIGCHLD, reap)) {
    perror("pause: sigaction");
    return 1;
  }

  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);

  /* Everything blocked but the three signals handled above, and only while waiting. */
  sigset_t waiting;
  sigfillset(&waiting);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGCHLD);
  for (;;) sigsuspend(&waiting);
}
