/* The rank's environment program (mpiwrap/plan/envprog.go), run on the
 * environment of the run that replays a cached plan: the launcher's
 * variables are this run's, the edits the plan's. Every step kind does
 * exactly what the Go interpreter does; a test runs both. */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nsexec.h"
#include "nsexec_int.h"

static int has_name(const char *kv, const char *name)
{
	size_t n = strlen(name);

	return strncmp(kv, name, n) == 0 && kv[n] == '=';
}

static void grow(struct nsx_env *e)
{
	if (e->n + 2 <= e->cap)
		return;
	e->cap = e->cap ? e->cap * 2 : 64;
	e->v = realloc(e->v, e->cap * sizeof *e->v);
	if (e->v == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate the environment");
}

/* nsx_env_init copies in, keeping NAME=VALUE entries that are not mpiwrap's. */
void nsx_env_init(struct nsx_env *e, char **in)
{
	e->n = 0;
	for (; in != NULL && *in != NULL; in++) {
		if (strchr(*in, '=') == NULL || strncmp(*in, "_MPIWRAP_", 9) == 0)
			continue;
		grow(e);
		e->v[e->n++] = *in;
	}
	grow(e);
	e->v[e->n] = NULL;
}

static long find(const struct nsx_env *e, const char *name, int last)
{
	long found = -1;

	for (size_t i = 0; i < e->n; i++)
		if (has_name(e->v[i], name)) {
			found = (long)i;
			if (!last)
				break;
		}
	return found;
}

/* a, b and c joined, in one allocation (asprintf's formatting costs every
 * rank more than the copy). */
static char *join3(const char *a, const char *b, const char *c)
{
	size_t na = strlen(a), nb = strlen(b), nc = strlen(c);
	char *s = malloc(na + nb + nc + 1);

	if (s == NULL)
		nsx_die(EXIT_MPIWRAP, "can't allocate the environment");
	memcpy(s, a, na);
	memcpy(s + na, b, nb);
	memcpy(s + na + nb, c, nc + 1);
	return s;
}

static void put(struct nsx_env *e, long i, const char *name, const char *value)
{
	char *kv = join3(name, "=", value);

	if (i < 0) {
		grow(e);
		i = (long)e->n++;
		e->v[e->n] = NULL;
	}
	e->v[i] = kv;
}

static void drop(struct nsx_env *e, size_t i)
{
	memmove(&e->v[i], &e->v[i + 1], (e->n - i) * sizeof *e->v); /* with the NULL */
	e->n--;
}

/* Apart from unset_glob, so that a plain name's frame holds no name[]: the
 * deeper a rank's stack goes, the more of its pages fault. */
static __attribute__((noinline)) void unset_pattern(struct nsx_env *e, const char *glob)
{
	char name[1024];

	for (size_t i = 0; i < e->n;) {
		size_t n = (size_t)(strchr(e->v[i], '=') - e->v[i]);
		snprintf(name, sizeof name, "%.*s", (int)n, e->v[i]);
		if (n < sizeof name && fnmatch(glob, name, FNM_PATHNAME) == 0)
			drop(e, i);
		else
			i++;
	}
}

static void unset_glob(struct nsx_env *e, const char *glob)
{
	if (strpbrk(glob, "*?[\\") != NULL) {
		unset_pattern(e, glob);
		return;
	}
	for (long i; (i = find(e, glob, 0)) >= 0;) /* a plain name: no fnmatch per entry */
		drop(e, (size_t)i);
}

/* nsx_env_step runs one step: kind, name, value, separator. */
void nsx_env_step(struct nsx_env *e, const char *kind, const char *name, const char *value, const char *sep)
{
	int first = strcmp(kind, "set-first") == 0;
	long i = find(e, name, !first);
	const char *old = i >= 0 ? strchr(e->v[i], '=') + 1 : "";

	if (strcmp(kind, "unset-glob") == 0)
		unset_glob(e, name);
	else if (first || strcmp(kind, "set") == 0)
		put(e, i, name, value);
	else if (strcmp(kind, "default") == 0 || strcmp(kind, "hint") == 0) {
		if (i < 0)
			put(e, i, name, value);
	} else if (strcmp(kind, "unset") == 0) {
		if (i >= 0)
			drop(e, (size_t)i);
	} else if (strcmp(kind, "prepend") == 0 || strcmp(kind, "append") == 0) {
		int pre = kind[0] == 'p';
		if (*old == '\0')
			put(e, i, name, value);
		else
			put(e, i, name, join3(pre ? value : old, sep, pre ? old : value));
	} else
		nsx_die(EXIT_MPIWRAP, "unknown environment step %s in plan", kind);
}

/* nsx_env_run runs nsteps steps (4 strings each) on in, for the test that
 * the Go and C interpreters agree. */
char **nsx_env_run(char **in, char **steps, size_t nsteps)
{
	struct nsx_env e = {0};

	nsx_env_init(&e, in);
	for (size_t i = 0; i < nsteps; i++)
		nsx_env_step(&e, steps[4 * i], steps[4 * i + 1], steps[4 * i + 2], steps[4 * i + 3]);
	return e.v;
}
