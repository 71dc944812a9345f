/*
 * harness.c: the daemon, set up once per fuzzing process the way
 * incidentd.c's main_run does, against a store in a fresh temporary
 * directory and a configuration whose every service URL is
 * 127.0.0.1:1, so whatever a fuzz input makes the daemon call fails to
 * connect and nothing leaves the machine.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "incidentd.h"
#include "harness.h"

static const char harness_yaml[] =
    "state_dir: %s/state\n"
    "access:\n"
    "  commands_per_minute: 10000\n"
    "slack:\n"
    "  api_url: http://127.0.0.1:1/api\n"
    "  app_token: xapp-fuzz\n"
    "  bot_token: xoxb-fuzz\n"
    "  incident_managers: [U0CAROL]\n"
    "jira:\n"
    "  url: http://127.0.0.1:1\n"
    "  email: bot@example.com\n"
    "  api_token: jira-fuzz\n"
    "  project: INC\n"
    "pagerduty:\n"
    "  api_url: http://127.0.0.1:1\n"
    "  api_token: pd-fuzz\n"
    "  from: alice@example.com\n"
    "  incident_manager_service: PSVCIM\n";

static char	harness_dir[PATH_MAX];

void
harness_fail(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz: invariant failed: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* Remove the temporary directory when the process ends. */
static void
harness_cleanup(void)
{
	char	*cmd;

	if (store != NULL) {
		store_abort(store);
		store_close(store);
		store = NULL;
	}
	xasprintf(&cmd, "rm -rf '%s'", harness_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", harness_dir);
	free(cmd);
}

void
harness_init(void)
{
	static int	 done;
	struct strlist	 errors = { NULL, 0 };
	char		*path, *cause;
	FILE		*f;
	size_t		 i;

	if (done)
		return;
	done = 1;
	log_init(LOG_LEVEL_ERROR, "fuzz");
	if (getenv("FUZZ_DEBUG") != NULL)
		log_setlevel(LOG_LEVEL_DEBUG);
	signal(SIGPIPE, SIG_IGN);
	/* $TMPDIR, else the system's temporary directory. */
	snprintf(harness_dir, sizeof(harness_dir), "%s/incidentd-fuzz.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : P_tmpdir);
	if (mkdtemp(harness_dir) == NULL)
		fatal("mkdtemp");
	atexit(harness_cleanup);
	xasprintf(&path, "%s/incidentd.yaml", harness_dir);
	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	if (fchmod(fileno(f), 0600) != 0)
		fatal("%s", path);
	fprintf(f, harness_yaml, harness_dir);
	if (fclose(f) != 0)
		fatal("%s", path);
	if ((cfg = config_load(path, &errors)) == NULL) {
		for (i = 0; i < errors.n; i++)
			fprintf(stderr, "fuzz: %s\n", errors.v[i]);
		fatalx("fuzz: the harness configuration does not load");
	}
	free(path);
	if (store_open(cfg->state_dir, cfg->map_size, 0, &store, &cause) != 0)
		fatalx("%s", cause);
	if (tls_init(cfg->tls_ca_file, &cause) != 0)
		fatalx("tls: %s", cause);
	if (proxy_configure(cfg, &cause) != 0)
		fatalx("%s", cause);
	reactor_init();
	http_init();
	if (metrics_init(&cause) != 0)
		fatalx("%s", cause);
	schedule_init();
	jobs_init();
	page_init();
	follow_init();
	pd_watch_init();
	timeline_init();
	/* Who auth.test would have said we are, as in the sandbox. */
	slack_self.user_id = xstrdup("U0BOT");
	slack_self.bot_id = xstrdup("B0BOT");
	slack_self.team_id = xstrdup("T0SANDBOX");
	slack_self.url = xstrdup("https://sandbox.slack.com/");
	harness_turn();
}

struct http_req *
harness_response(const uint8_t *data, size_t size, struct http_response *res)
{
	struct http_req	*req;
	const char	*errstr;

	req = http_parse_pieces((const char *)data, size, NULL, 0, 0, 1, res,
	    &errstr);
	if (errstr != NULL) {
		/* A transport failure: what the callbacks see then. */
		memset(res, 0, sizeof(*res));
		res->error = errstr;
	}
	return (req);
}

void
harness_turn(void)
{
	reactor_turn();
}
