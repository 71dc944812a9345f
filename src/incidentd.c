/*
 * incidentd.c: command line, startup, signals and shutdown.
 *
 * The daemon runs in the foreground and logs to stderr (systemd captures
 * both). SIGHUP re-reads the configuration and swaps it in only if it is
 * valid; the Slack connection stays up. SIGTERM and SIGINT stop taking new
 * envelopes, give in-flight calls a few seconds, then exit 0.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "incidentd.h"

#define INCIDENTD_DEFAULT_CONF	SYSCONFDIR "/incidentd/incidentd.yaml"
#define INCIDENTD_DRAIN_MS	5000

static struct event	*main_sigev[4];
static struct event	*main_drain_ev;
static uint64_t		 main_drain_deadline;

static __dead void	main_usage(int);
static int		main_check_config(const char *);
static int		main_open_reader(const char *, struct config **,
			    struct store **);
static int		main_dump(const char *, int);
static int		main_backup(const char *, const char *);
static int		main_run(const char *, int);
static struct config	*main_load_config(const char *);
static void		main_reload(void);
static void		main_reload_config(void);
static void		main_signal_cb(evutil_socket_t, short, void *);
static void		main_shutdown(void);
static void		main_drain_cb(evutil_socket_t, short, void *);
static void		main_identified_cb(void *);
static void		main_free_config_cb(void *);

static __dead void
main_usage(int status)
{
	fprintf(status == 0 ? stdout : stderr,
	    "usage: %s [-dh] [-c file] [command]\n"
	    "\n"
	    "commands:\n"
	    "  run           run the daemon in the foreground (default)\n"
	    "  check-config  validate the configuration and exit\n"
	    "  dump [--messages]\n"
	    "                print the stored state as JSON (safe while "
	    "running);\n"
	    "                message text only with --messages\n"
	    "  backup FILE   write a compacted copy of the store to FILE "
	    "(safe while\n"
	    "                running)\n"
	    "  version       print the version\n"
	    "\n"
	    "options:\n"
	    "  -c file       configuration file (default %s)\n"
	    "  -d            log at debug level\n"
	    "  -h            this help\n",
	    INCIDENTD_NAME, INCIDENTD_DEFAULT_CONF);
	exit(status);
}

/* Load the configuration, printing every problem; NULL on failure. */
static struct config *
main_load_config(const char *path)
{
	struct strlist	 errors = { NULL, 0 };
	struct config	*c;
	size_t		 i;

	c = config_load(path, &errors);
	for (i = 0; i < errors.n; i++)
		fprintf(stderr, "%s\n", errors.v[i]);
	for (i = 0; c != NULL && i < c->warnings.n; i++)
		fprintf(stderr, "%s\n", c->warnings.v[i]);
	strlist_free(&errors);
	return (c);
}

static int
main_check_config(const char *path)
{
	struct config		*c;
	struct proxy_setting	*ps;
	char			*cause;

	if ((c = main_load_config(path)) == NULL)
		return (1);
	/* The proxy may come from the environment: check that too. */
	if ((ps = proxy_prepare(c, &cause)) == NULL) {
		fprintf(stderr, "%s: %s\n", path, cause);
		free(cause);
		config_free(c);
		return (1);
	}
	proxy_discard(ps);
	printf("%s: configuration OK\n", path);
	config_free(c);
	return (0);
}

/* Open the store read-only beside a running daemon, for dump and backup. */
static int
main_open_reader(const char *path, struct config **cp, struct store **stp)
{
	char	*cause;

	if ((*cp = main_load_config(path)) == NULL)
		return (-1);
	if (store_open((*cp)->state_dir, (*cp)->map_size, STORE_RDONLY, stp,
	    &cause) != 0) {
		fprintf(stderr, "%s: %s\n", INCIDENTD_NAME, cause);
		free(cause);
		config_free(*cp);
		return (-1);
	}
	/* Read-only: only shown in the dump's "size". */
	(void)store_set_map_max(*stp, config_map_size_max(*cp));
	return (0);
}

static int
main_dump(const char *path, int flags)
{
	struct config	*c;
	struct store	*st;
	int		 rv;

	if (main_open_reader(path, &c, &st) != 0)
		return (1);
	rv = store_dump(st, STDOUT_FILENO, flags);
	if (rv != 0)
		fprintf(stderr, "%s: dump: %s\n", INCIDENTD_NAME,
		    store_strerror(rv));
	store_close(st);
	config_free(c);
	return (rv != 0);
}

/* A compacted, consistent copy of the store; safe while the daemon runs. */
static int
main_backup(const char *path, const char *file)
{
	struct config	*c;
	struct store	*st;
	struct stat	 sb;
	char		*cause;
	int		 rv;

	if (main_open_reader(path, &c, &st) != 0)
		return (1);
	if ((rv = store_backup(st, file, &cause)) != 0) {
		fprintf(stderr, "%s: backup: %s\n", INCIDENTD_NAME, cause);
		free(cause);
	} else if (stat(file, &sb) == 0)
		printf("%s: backup of %s (%lld KiB)\n", file, c->state_dir,
		    (long long)sb.st_size >> 10);
	store_close(st);
	config_free(c);
	return (rv != 0);
}

static void
main_free_config_cb(void *arg)
{
	config_free(arg);
}

/* SIGHUP: swap in a new configuration if it is valid. */
static void
main_reload(void)
{
	notify_reloading();
	main_reload_config();
	notify_reloaded();
}

/* The reload proper: every way out leaves the running one or the new. */
static void
main_reload_config(void)
{
	struct strlist		 errors = { NULL, 0 };
	struct config		*c, *old = cfg;
	struct ssl_ctx_st	*ctx;
	struct proxy_setting	*ps;
	char			*cause;
	size_t			 i;

	log_info("SIGHUP: reloading %s", cfg->path);
	if ((c = config_load(cfg->path, &errors)) == NULL) {
		for (i = 0; i < errors.n; i++)
			log_error("%s", errors.v[i]);
		log_error("reload rejected: keeping the running configuration");
		strlist_free(&errors);
		return;
	}
	config_redact_secrets(c);
	for (i = 0; i < c->warnings.n; i++)
		log_warnx("%s", c->warnings.v[i]);
	if (strcmp(c->state_dir, old->state_dir) != 0 ||
	    c->map_size != old->map_size ||
	    c->map_size_max != old->map_size_max)
		log_warnx("state_dir, map_size and map_size_max changes take "
		    "effect at the next restart");
	/*
	 * Build the TLS context and the proxy setting both, and swap only
	 * when both are good: a rejected reload leaves every part of the
	 * running configuration as it was.
	 */
	ps = NULL;
	if ((ctx = tls_prepare(c->tls_ca_file, &cause)) == NULL ||
	    (ps = proxy_prepare(c, &cause)) == NULL) {
		log_error("reload rejected: %s; keeping the running "
		    "configuration", cause);
		free(cause);
		tls_discard(ctx);
		config_free(c);
		return;
	}
	tls_apply(ctx);
	proxy_apply(ps);
	/* Idle connections dialled the old way must not be reused. */
	http_reroute();
	cfg = c;
	log_setlevel(c->log_level);
	http_set_max_per_host((int)c->limits.http_max_per_host);
	metrics_reload();
	pd_webhook_reload();
	timeline_expire();	/* cache_days may have shrunk */
	/* Callbacks of this turn may still hold strings of the old one. */
	reactor_defer(main_free_config_cb, old);
	log_info("configuration reloaded");
}

static void
main_drain_cb(evutil_socket_t fd, short events, void *arg)
{
	struct timeval	tv = { 0, 50 * 1000 };

	if (http_inflight() == 0 || now_ms() >= main_drain_deadline) {
		if (http_inflight() != 0)
			log_warnx("shutdown: abandoning %d in-flight "
			    "request(s)", http_inflight());
		reactor_stop();
		return;
	}
	evtimer_add(main_drain_ev, &tv);
}

/* Stop taking envelopes and drain in-flight calls for a bounded time. */
static void
main_shutdown(void)
{
	if (main_drain_ev != NULL)
		return;
	log_info("shutting down");
	notify_stopping();
	socket_stop();
	jobs_drain();
	main_drain_deadline = now_ms() + INCIDENTD_DRAIN_MS;
	main_drain_ev = evtimer_new(reactor_base, main_drain_cb, NULL);
	main_drain_cb(-1, 0, NULL);
}

static void
main_signal_cb(evutil_socket_t sig, short events, void *arg)
{
	switch (sig) {
	case SIGHUP:
		main_reload();
		break;
	case SIGTERM:
	case SIGINT:
		main_shutdown();
		break;
	}
}

static void
main_identified_cb(void *arg)
{
	if (reactor_stopping() || main_drain_ev != NULL)
		return;
	socket_start();
}

static int
main_run(const char *path, int debug)
{
	static const int	 sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct store_size	 sz;
	char			*cause;
	size_t			 i;
	int			 rv;

	if ((cfg = main_load_config(path)) == NULL)
		return (1);
	log_setlevel(debug ? LOG_LEVEL_DEBUG : cfg->log_level);
	config_redact_secrets(cfg);
	signal(SIGPIPE, SIG_IGN);

	if (store_open(cfg->state_dir, cfg->map_size, 0, &store,
	    &cause) != 0)
		fatalx("%s", cause);
	if ((rv = store_set_map_max(store, config_map_size_max(cfg))) != 0)
		fatalx("%s: map size: %s", cfg->state_dir, store_strerror(rv));
	if (tls_init(cfg->tls_ca_file, &cause) != 0)
		fatalx("tls: %s", cause);
	if (proxy_configure(cfg, &cause) != 0)
		fatalx("%s", cause);
	reactor_init();
	notify_init();
	notify_watchdog_start();
	http_init();
	http_set_max_per_host((int)cfg->limits.http_max_per_host);
	if (metrics_init(&cause) != 0)
		fatalx("%s", cause);
	if (pd_webhook_init(&cause) != 0)
		fatalx("%s", cause);
	schedule_init();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		main_sigev[i] = event_new(reactor_base, sigs[i],
		    EV_SIGNAL | EV_PERSIST, main_signal_cb, NULL);
		evsignal_add(main_sigev[i], NULL);
	}
	schedule_housekeeping();
	jobs_init();
	page_init();
	follow_init();
	pd_watch_init();
	timeline_init();
	(void)store_size(store, &sz);
	log_info("%s %s starting (state in %s: %llu KiB used, map %llu KiB, "
	    "ceiling %llu KiB)", INCIDENTD_NAME, PACKAGE_VERSION,
	    cfg->state_dir, (unsigned long long)sz.used >> 10,
	    (unsigned long long)sz.map >> 10,
	    (unsigned long long)sz.max >> 10);
	/* Config loaded, store open: READY=1 once Slack says hello. */
	notify_wait_ready("Slack Socket Mode to say hello");
	slack_identify(main_identified_cb, NULL);

	if (reactor_run() != 0)
		log_error("event loop failed");

	socket_stop();
	page_shutdown();
	pd_watch_shutdown();
	follow_shutdown();
	jobs_shutdown();
	slack_shutdown();
	http_shutdown();
	cmd_get_timeline_shutdown();
	cmd_shutdown();
	timeline_shutdown();
	events_shutdown();
	schedule_free();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		event_free(main_sigev[i]);
		/* A second SIGTERM (timeout(1) sends two) must not kill us. */
		signal(sigs[i], SIG_IGN);
	}
	if (main_drain_ev != NULL)
		event_free(main_drain_ev);
	/* Run deferred frees (old configs, closed sockets). */
	event_base_loop(reactor_base, EVLOOP_NONBLOCK);
	/* What the deferred frees wrote; the turn's acks are gone. */
	if ((rv = store_commit(store)) != 0)
		log_warnx("store: the last writes were lost: %s",
		    store_strerror(rv));
	store_abort(store);
	store_close(store);
	store = NULL;
	pd_webhook_shutdown();
	metrics_shutdown();
	notify_shutdown();
	reactor_free();
	tls_free();
	proxy_free();
	config_free(cfg);
	cfg = NULL;
	log_redact_clear();
	log_info("stopped");
	return (0);
}

int
main(int argc, char **argv)
{
	const char	*path = INCIDENTD_DEFAULT_CONF, *cmd = "run";
	int		 ch, debug = 0;

	log_init(LOG_LEVEL_INFO, INCIDENTD_NAME);
	/* "+": options stop at the command, which has its own. */
	while ((ch = getopt(argc, argv, "+c:dh")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			main_usage(0);
		default:
			main_usage(1);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 1)
		cmd = argv[0];
	if (argc == 2 && strcmp(cmd, "dump") == 0 &&
	    strcmp(argv[1], "--messages") == 0)
		return (main_dump(path, STORE_DUMP_MESSAGES));
	if (argc == 2 && strcmp(cmd, "backup") == 0)
		return (main_backup(path, argv[1]));
	if (argc > 1)
		main_usage(1);

	if (strcmp(cmd, "version") == 0) {
		printf("%s %s\n", INCIDENTD_NAME, PACKAGE_VERSION);
		return (0);
	}
	if (strcmp(cmd, "check-config") == 0)
		return (main_check_config(path));
	if (strcmp(cmd, "dump") == 0)
		return (main_dump(path, 0));
	if (strcmp(cmd, "run") != 0)
		main_usage(1);
	return (main_run(path, debug));
}
