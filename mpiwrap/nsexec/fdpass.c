/* Descriptor passing over Unix sockets (SCM_RIGHTS). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "nsexec_int.h"

#define MAX_FDS 8

int nsx_send_fds(int sock, const int *fds, int n)
{
	return nsx_send_fds_with(sock, fds, n, "F", 1) == 1 ? 0 : -1;
}

/* Send buf with the descriptors, in one sendmsg: the number of bytes it
 * took (all of a small buf), or -1. */
ssize_t nsx_send_fds_with(int sock, const int *fds, int n, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {0};
	struct cmsghdr *c;

	if (n < 1 || n > MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	memset(&u, 0, sizeof u);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	for (;;) {
		ssize_t w = sendmsg(sock, &msg, MSG_NOSIGNAL);

		if (w >= 0 || errno != EINTR)
			return w;
	}
}

/* Receive up to max descriptors plus *buflen bytes of payload. Returns the
 * number of descriptors; *buflen is set to the bytes read (0 at EOF). */
int nsx_recv_fds(int sock, int *fds, int max, void *buf, size_t *buflen)
{
	struct iovec iov = {.iov_base = buf, .iov_len = *buflen};
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {0};
	struct cmsghdr *c;
	ssize_t r;
	int n = 0;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = u.buf;
	msg.msg_controllen = sizeof u.buf;
	do
		r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	*buflen = (size_t)r;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k && n < max; i++)
			memcpy(&fds[n++], CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
	}
	return n;
}
