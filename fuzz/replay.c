/*
 * replay.c: every fuzz target's seeds (fuzz/corpus/<target>/) and past
 * findings (fuzz/regress/<target>/) run through the same entry points in
 * make check, built with the daemon's compiler and no libFuzzer, so a
 * fixed finding stays fixed in the plain and the sanitizer builds.
 * TAP: one test per input; a crash or a failed invariant aborts.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_DECLARE(socket);
FUZZ_DECLARE(interactive);
FUZZ_DECLARE(http);
FUZZ_DECLARE(ws);
FUZZ_DECLARE(jira);
FUZZ_DECLARE(pd);
FUZZ_DECLARE(mrkdwn);
FUZZ_DECLARE(timeline);
FUZZ_DECLARE(text);
FUZZ_DECLARE(config);

static const struct {
	const char	*name;
	int		(*fn)(const uint8_t *, size_t);
} replay_targets[] = {
	{ "socket", fuzz_socket },
	{ "interactive", fuzz_interactive },
	{ "http", fuzz_http },
	{ "ws", fuzz_ws },
	{ "jira", fuzz_jira },
	{ "pd", fuzz_pd },
	{ "mrkdwn", fuzz_mrkdwn },
	{ "timeline", fuzz_timeline },
	{ "text", fuzz_text },
	{ "config", fuzz_config },
};

#define REPLAY_MAX_INPUT	(1024 * 1024)

static int	replay_n;

static int
replay_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* Every regular file of dir, in name order, through fn. */
static void
replay_dir(const char *name, int (*fn)(const uint8_t *, size_t),
    const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		**v = NULL, *path;
	size_t		 n = 0, i, len;
	uint8_t		*buf;
	FILE		*f;

	if ((d = opendir(dir)) == NULL) {
		if (errno != ENOENT)
			printf("not ok %d - %s: %s\n", ++replay_n, dir,
			    strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		xasprintf(&v[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), replay_cmp);
	for (i = 0; i < n; i++) {
		path = v[i];
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
		    st.st_size > REPLAY_MAX_INPUT) {
			printf("not ok %d - %s: not a file under 1 MiB\n",
			    ++replay_n, path);
			free(path);
			continue;
		}
		buf = xmalloc((size_t)st.st_size + 1);
		if ((f = fopen(path, "rb")) == NULL ||
		    (len = fread(buf, 1, (size_t)st.st_size, f)) !=
		    (size_t)st.st_size) {
			printf("not ok %d - %s: unreadable\n", ++replay_n,
			    path);
		} else {
			fn(buf, len);
			printf("ok %d - %s %s\n", ++replay_n, name,
			    strrchr(path, '/') + 1);
		}
		if (f != NULL)
			fclose(f);
		free(buf);
		free(path);
	}
	free(v);
}

int
main(int argc, char **argv)
{
	const char	*top = getenv("top_srcdir");
	char		*dir;
	size_t		 i;

	if (top == NULL)
		top = ".";
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(replay_targets) / sizeof(replay_targets[0]);
	    i++) {
		if (argc > 1 && strcmp(argv[1], replay_targets[i].name) != 0)
			continue;
		xasprintf(&dir, "%s/fuzz/corpus/%s", top,
		    replay_targets[i].name);
		replay_dir(replay_targets[i].name, replay_targets[i].fn, dir);
		free(dir);
		xasprintf(&dir, "%s/fuzz/regress/%s", top,
		    replay_targets[i].name);
		replay_dir(replay_targets[i].name, replay_targets[i].fn, dir);
		free(dir);
	}
	/* No input at all is a misplaced tree, not a pass. */
	if (replay_n == 0)
		printf("not ok %d - no seeds under %s/fuzz\n", ++replay_n, top);
	printf("1..%d\n", replay_n);
	return (0);
}
