/* The last step: exec the command in place, searching PATH from the
 * command's own environment, inside the container. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void __attribute__((noreturn)) fail(const char *image, const char *cmd, int err)
{
	char cwd[4096];

	if (getcwd(cwd, sizeof cwd) == NULL)
		snprintf(cwd, sizeof cwd, "?");
	if (err == ENOENT || err == ENOTDIR)
		nsx_die(EXIT_NOT_FOUND,
			"can't run %s: command not found in image %s (cwd %s)",
			cmd, image, cwd);
	nsx_die(EXIT_CANNOT_EXEC, "can't run %s in image %s: %s", cmd, image,
		strerror(err));
}

void nsx_exec(const char *image, char **argv, char **envp)
{
	const char *cmd = argv[0], *p;
	char path[4096];
	int saw_eacces = 0;

	nsx_restore_signals();
	if (*cmd == '\0')
		fail(image, cmd, ENOENT);
	if (strchr(cmd, '/') != NULL) {
		execve(cmd, argv, envp);
		fail(image, cmd, errno);
	}
	for (p = env_path(envp);; p++) {
		const char *end = strchrnul(p, ':');
		size_t n = (size_t)(end - p);
		if (n == 0)
			snprintf(path, sizeof path, "%s", cmd);
		else
			snprintf(path, sizeof path, "%.*s/%s", (int)n, p, cmd);
		execve(path, argv, envp);
		if (errno == EACCES)
			saw_eacces = 1;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			fail(image, cmd, errno);
		if (*end == '\0')
			break;
		p = end;
	}
	fail(image, cmd, saw_eacces ? EACCES : ENOENT);
}
