/* A rank that mpiwrap refuses after the launcher started it tells the
 * launcher's PMI-1 server, so the job ends instead of leaving the other
 * ranks waiting in MPI_Init (hydra waits for a rank that exits without a
 * word). The Go half does the same (mpiwrap/abort.go). Best effort, each
 * wait bounded: the rank is failing anyway. */
#define _GNU_SOURCE
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

static int send_line(int fd, const char *line)
{
	size_t n = strlen(line);

	return write(fd, line, n) == (ssize_t)n ? 0 : -1;
}

/* skip_lines reads and drops n reply lines, waiting at most 5 s for each. */
static int skip_lines(int fd, int n)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	while (n > 0) {
		if (poll(&p, 1, 5000) != 1 || read(fd, &c, 1) != 1)
			return -1;
		if (c == '\n')
			n--;
	}
	return 0;
}

/* port_conn connects to PMI_PORT (host:port) and does the initack
 * handshake with PMI_ID. */
static int port_conn(const char *port, const char *id)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	char host[256], line[64];
	const char *colon = strrchr(port, ':');
	int fd;

	if (colon == NULL || id == NULL || (size_t)(colon - port) >= sizeof host)
		return -1;
	snprintf(host, sizeof host, "%.*s", (int)(colon - port), port);
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	snprintf(line, sizeof line, "cmd=initack pmiid=%s\n", id);
	if (fd >= 0 && (send_line(fd, line) < 0 || skip_lines(fd, 4) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

void nsx_pmi_abort(int code)
{
	const char *fdstr = getenv("PMI_FD"), *port = getenv("PMI_PORT");
	char line[64];
	struct stat st;
	int fd = -1;

	if (fdstr != NULL && *fdstr != '\0') {
		fd = atoi(fdstr);
		if (fd < 3 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			return;
	} else if (port != NULL && *port != '\0') {
		if ((fd = port_conn(port, getenv("PMI_ID"))) < 0)
			return;
	} else
		return;
	snprintf(line, sizeof line, "cmd=abort exitcode=%d\n", code);
	if (send_line(fd, "cmd=init pmi_version=1 pmi_subversion=1\n") == 0 && skip_lines(fd, 1) == 0)
		send_line(fd, line);
}
