/* The last step: exec the command in place, searching PATH from the
 * command's own environment, inside the container. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsexec.h"
#include "nsexec_int.h"

static const char *env_path(char **envp)
{
	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return "/usr/local/bin:/usr/bin:/bin";
}

/* tried is the path that execve refused with err (NULL if none). */
static void __attribute__((noreturn)) fail(const char *image, const char *cmd,
					   const char *tried, int err)
{
	struct stat st;
	char cwd[4096];

	if (getcwd(cwd, sizeof cwd) == NULL)
		snprintf(cwd, sizeof cwd, "?");
	if (err == ENOENT || err == ENOTDIR)
		nsx_die(EXIT_NOT_FOUND,
			"can't run %s: command not found in image %s (cwd %s)",
			cmd, image, cwd);
	/* execve says EACCES for a directory: say what it is. */
	if (err == EACCES && tried != NULL && stat(tried, &st) == 0 && S_ISDIR(st.st_mode))
		nsx_die(EXIT_CANNOT_EXEC, "can't run %s in image %s: %s is a directory",
			cmd, image, tried);
	nsx_die(EXIT_CANNOT_EXEC, "can't run %s in image %s: %s", cmd, image,
		strerror(err));
}

/* PATH entry dir (n bytes; empty for the working directory) joined to cmd. */
static void path_in(char *out, size_t len, const char *dir, size_t n, const char *cmd)
{
	if (n == 0)
		snprintf(out, len, "%s", cmd);
	else
		snprintf(out, len, "%.*s/%s", (int)n, dir, cmd);
}

/* The search of PATH, apart from nsx_exec so that a command given as a path
 * execs from a shallow stack (each page deeper is a fault in every rank). */
static __attribute__((noinline, noreturn)) void exec_path(const char *image, char **argv,
							  char **envp)
{
	const char *cmd = argv[0], *p, *refused = NULL;
	char path[4096];
	size_t refused_n = 0;

	for (p = env_path(envp);; p++) {
		const char *end = strchrnul(p, ':');
		size_t n = (size_t)(end - p);

		path_in(path, sizeof path, p, n, cmd);
		execve(path, argv, envp);
		if (errno == EACCES && refused == NULL) /* kept as where in PATH */
			refused = p, refused_n = n;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP && errno != EACCES)
			fail(image, cmd, path, errno);
		if (*end == '\0')
			break;
		p = end;
	}
	if (refused != NULL) {
		path_in(path, sizeof path, refused, refused_n, cmd);
		fail(image, cmd, path, EACCES);
	}
	fail(image, cmd, NULL, ENOENT);
}

void nsx_exec(const char *image, char **argv, char **envp)
{
	const char *cmd = argv[0];

	nsx_restore_signals();
	if (*cmd == '\0')
		fail(image, cmd, NULL, ENOENT);
	if (strchr(cmd, '/') == NULL)
		exec_path(image, argv, envp);
	execve(cmd, argv, envp);
	fail(image, cmd, cmd, errno);
}
