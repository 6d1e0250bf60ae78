/* Strings and numbers for the per-rank path, without stdio: printf's deep
 * frames and strtol's tables cost every rank of a wide job page faults of
 * their own. */
#include <limits.h>
#include <string.h>

#include "nsexec_int.h"

void nsx_sb_init(struct nsx_sb *b, char *buf, size_t len)
{
	b->p = buf;
	b->end = buf + len - 1; /* room for the NUL */
	b->bad = len == 0;
}

void nsx_sb_mem(struct nsx_sb *b, const char *s, size_t n)
{
	if (b->bad || n > (size_t)(b->end - b->p)) {
		b->bad = 1;
		return;
	}
	memcpy(b->p, s, n);
	b->p += n;
}

void nsx_sb_str(struct nsx_sb *b, const char *s)
{
	nsx_sb_mem(b, s, strlen(s));
}

char *nsx_utoa(char *end, unsigned long long v)
{
	do
		*--end = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	return end;
}

void nsx_sb_num(struct nsx_sb *b, unsigned long long v)
{
	char buf[24], *p = nsx_utoa(buf + sizeof buf, v);

	nsx_sb_mem(b, p, (size_t)(buf + sizeof buf - p));
}

void nsx_sb_int(struct nsx_sb *b, long long v)
{
	if (v < 0) {
		nsx_sb_mem(b, "-", 1);
		nsx_sb_num(b, 0 - (unsigned long long)v);
	} else
		nsx_sb_num(b, (unsigned long long)v);
}

int nsx_sb_done(struct nsx_sb *b)
{
	if (b->bad)
		return -1;
	*b->p = '\0';
	return 0;
}

int nsx_whole(const char *s, long *out)
{
	unsigned long v = 0, limit = LONG_MAX;
	int neg = *s == '-';

	if (*s == '+' || *s == '-')
		s++;
	limit += (unsigned long)neg;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (d > 9 || v > (limit - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? (long)(0 - v) : (long)v;
	return 0;
}

int nsx_atoi(const char *s)
{
	int neg = 0;
	unsigned v = 0;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (unsigned)(*s - '0');
	return neg ? -(int)v : (int)v;
}

void nsx_copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}
