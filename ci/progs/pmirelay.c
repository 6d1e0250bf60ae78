/* pmirelay: the least any PMI proxy can do, for the proxy benchmark.
 *
 * usage: pmirelay PROGRAM [ARGS...]
 *
 * Runs PROGRAM with PMI_FD set to one end of a socketpair and copies bytes
 * between the other end and the launcher's PMI_FD until either side
 * closes, without parsing anything. Timing a job with and without it shows
 * what one extra process and one extra hop per PMI message cost on this
 * machine, whatever the proxy does with the messages.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* copy moves what is readable on from to to; 0 at end of stream. */
static int copy(int from, int to)
{
    char buf[4096];
    ssize_t n = read(from, buf, sizeof buf);

    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = write(to, buf + off, (size_t)(n - off));

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return 0;
        off += w;
    }
    return n > 0;
}

int main(int argc, char **argv)
{
    const char *upenv = getenv("PMI_FD");
    int sv[2], up, status;
    char fdstr[16];
    pid_t pid;

    if (argc < 2 || upenv == NULL) {
        fprintf(stderr, "usage: pmirelay PROGRAM [ARGS...] (under a launcher that sets PMI_FD)\n");
        return 2;
    }
    up = atoi(upenv);
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        perror("pmirelay: socketpair");
        return 1;
    }
    pid = fork();
    if (pid < 0) {
        perror("pmirelay: fork");
        return 1;
    }
    if (pid == 0) {
        close(sv[0]);
        close(up);
        snprintf(fdstr, sizeof fdstr, "%d", sv[1]);
        setenv("PMI_FD", fdstr, 1);
        execvp(argv[1], argv + 1);
        perror("pmirelay: exec");
        _exit(127);
    }
    close(sv[1]);
    for (;;) {
        struct pollfd fds[2] = {{sv[0], POLLIN, 0}, {up, POLLIN, 0}};

        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[0].revents && !copy(sv[0], up))
            break;
        if (fds[1].revents && !copy(up, sv[0]))
            break;
    }
    close(sv[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
