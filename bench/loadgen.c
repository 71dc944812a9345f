/*
 * loadgen.c: drives incidentd from outside, as fast as it can take it.
 *
 * Plays Slack (Web API, apps.connections.open and the Socket Mode
 * WebSocket), Jira and PagerDuty on loopback with canned answers, at 0 ms
 * or a set delay, starts the daemon on them (pinned to core 0, itself on
 * core 1) and measures it: ack latency of every envelope, command to
 * first reply, the daemon's CPU per envelope (/proc/PID/stat), both
 * processes' CPU use, its memory (/proc/PID/smaps: LMDB's mapped pages
 * apart from heap and stack) and exec to hello. Prints one JSON line.
 *
 * It is a benchmark tool, not a fake: it checks nothing the daemon sends
 * beyond what it needs to answer (the sandbox in t/sandbox does that),
 * and it shares no code with src/ so it measures the daemon, not itself.
 *
 * Modes: idle (start, hello, quiet: memory), ingest (a mix of channel
 * messages, timeline reactions, edits and a DM help in a hundred, at
 * --rate envelopes/s or flat out with --window outstanding), commands
 * (--command help|new-incident|page|mention at --concurrency).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#define LG_MAX_HEADER	65536
#define LG_MAX_BODY	(8 * 1024 * 1024)
#define LG_MAX_ENV	8192
#define LG_MAX_WS	10
#define LG_MAX_WRAP	32
#define LG_QUIET_MS	300	/* idle: no API call for this long */
#define LG_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define LG_TEAM		"T0LG"
#define LG_APP		"A0LG"
#define LG_BOT		"U0LGBOT"
#define LG_USER		"U0LGUSER"
#define LG_USER2	"U0LGTAGR"
#define LG_USERS	500	/* distinct command senders */

enum lg_service { LG_SLACK, LG_JIRA, LG_PD, LG_NSERVICES };
enum lg_mode { LG_IDLE, LG_INGEST, LG_COMMANDS };
enum lg_command { LG_HELP, LG_NEW_INCIDENT, LG_PAGE, LG_MENTION };

struct lg_conn {
	enum lg_service		 svc;
	struct bufferevent	*bev;
	wslay_event_context_ptr	 ws;
	int			 busy;	/* an answer is being delayed */
};

struct lg_late {
	struct lg_conn		*c;
	struct evbuffer		*out;
	struct event		*ev;
};

static struct event_base	*base;
static int			 ports[LG_NSERVICES];
static const char		*opt_daemon, *opt_dir, *opt_state, *opt_label;
static const char		*opt_log_level = "warning";
static int			 opt_settle_ms;
static char			*opt_wrap[LG_MAX_WRAP];
static int			 opt_nwrap;
static enum lg_mode		 opt_mode = LG_INGEST;
static enum lg_command		 opt_command = LG_HELP;
static unsigned			 opt_count = 1000, opt_window = 256;
static unsigned			 opt_concurrency = 1, opt_channels = 10;
static double			 opt_rate;	/* 0: flat out */
static int			 opt_delay_ms, opt_pin = 1, opt_timeout = 120;

static pid_t			 daemon_pid;
static double			 t_exec, t_hello, t_start, t_end, t_last_api;
static struct lg_conn		*ws_conns[LG_MAX_WS];
static int			 nws;

static unsigned			 sent, acked, replies_done;
static double			*sent_at, *done_at;	/* by envelope/command */
static unsigned			 ncmd_sent;
static unsigned long		 api_calls, unknown_calls, next_id;
static long			 ts_base;
static struct event		*tick_ev, *quiet_ev, *deadline_ev, *child_ev;
static struct event		*settle_ev;
static struct lg_cpu		 settle_cpu;
static double			 t_settled;
static int			 incomplete, daemon_reaped, daemon_status;
static int			 running, finished;

struct lg_cpu {
	double	user, sys;	/* seconds */
};
static struct lg_cpu		 d_cpu0, self_cpu0;

static void	lg_finish(int);

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	if (daemon_pid > 0)
		kill(daemon_pid, SIGKILL);
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* ------------------------------------------------------------ process */

static int
lg_pin(pid_t pid, int cpu)
{
	cpu_set_t	set;

	if (!opt_pin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return (0);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return (sched_setaffinity(pid, sizeof(set), &set));
}

static void
lg_write_config(const char *conf, const char *shortcuts)
{
	FILE	*f;

	if ((f = fopen(shortcuts, "w")) == NULL)
		die("%s: %s", shortcuts, strerror(errno));
	fprintf(f, "db: {service: PLGDB01, description: \"Database\"}\n");
	fclose(f);
	if ((f = fopen(conf, "w")) == NULL)
		die("%s: %s", conf, strerror(errno));
	(void)fchmod(fileno(f), 0600);	/* it holds (fake) secrets */
	fprintf(f,
	    "state_dir: %s\n"
	    "log_level: %s\n"
	    "map_size: 4G\n"
	    "access:\n  commands_per_minute: 10000\n"
	    "slack:\n"
	    "  api_url: http://127.0.0.1:%d/api\n"
	    "  app_token: xapp-loadgen-app-token\n"
	    "  bot_token: xoxb-loadgen-bot-token\n"
	    "  incident_managers: [%s]\n"
	    "jira:\n"
	    "  url: http://127.0.0.1:%d\n"
	    "  email: bot@example.com\n"
	    "  api_token: loadgen-jira-token\n"
	    "  project: INC\n"
	    "pagerduty:\n"
	    "  api_url: http://127.0.0.1:%d\n"
	    "  api_token: loadgen-pd-token\n"
	    "  from: alice@example.com\n"
	    "  incident_manager_service: PLGIM01\n"
	    "  shortcuts_file: %s\n",
	    opt_state, opt_log_level, ports[LG_SLACK], LG_USER,
	    ports[LG_JIRA], ports[LG_PD], shortcuts);
	fclose(f);
}

static void
lg_spawn(void)
{
	char	 conf[1024], shortcuts[1024], log[1024];
	static char	 dash_c[] = "-c";
	char		*argv[LG_MAX_WRAP + 4];
	int		 argc = 0, i, fd;

	snprintf(conf, sizeof(conf), "%s/incidentd.yaml", opt_dir);
	snprintf(shortcuts, sizeof(shortcuts), "%s/shortcuts.yaml", opt_dir);
	snprintf(log, sizeof(log), "%s/incidentd.log", opt_dir);
	lg_write_config(conf, shortcuts);
	for (i = 0; i < opt_nwrap; i++)
		argv[argc++] = opt_wrap[i];
	argv[argc++] = (char *)opt_daemon;
	argv[argc++] = dash_c;
	argv[argc++] = conf;
	argv[argc] = NULL;

	t_exec = now();
	if ((daemon_pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (daemon_pid == 0) {
		if (lg_pin(0, 0) != 0)
			perror("sched_setaffinity");
		if ((fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
			_exit(127);
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (lg_pin(0, 1) != 0)
		perror("sched_setaffinity");
}

static int
lg_read_cpu(pid_t pid, struct lg_cpu *c)
{
	char		 path[64], buf[2048], *p, *save;
	FILE		*f;
	size_t		 n;
	int		 i;
	double		 hz = (double)sysconf(_SC_CLK_TCK);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return (-1);
	/* Fields from 3 (state) on; utime is 14, stime 15. */
	p = strtok_r(p + 1, " ", &save);
	for (i = 3; p != NULL && i < 14; i++)
		p = strtok_r(NULL, " ", &save);
	if (p == NULL)
		return (-1);
	c->user = strtod(p, NULL) / hz;
	if ((p = strtok_r(NULL, " ", &save)) == NULL)
		return (-1);
	c->sys = strtod(p, NULL) / hz;
	return (0);
}

static void
lg_self_cpu(struct lg_cpu *c)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	c->user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	c->sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

struct lg_mem {
	long	rss, hwm, heap, anon, stack, lmdb, files;	/* kB */
};

/* Resident kB per kind of mapping, from /proc/PID/smaps. */
static int
lg_read_mem(pid_t pid, struct lg_mem *m)
{
	char	 path[64], line[1024];
	FILE	*f;
	long	*cur = NULL, kb;
	char	*name;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* Mappings start with a lowercase hex address, fields not. */
		if (line[0] != '\0' && strchr("0123456789abcdef", line[0]) !=
		    NULL) {
			line[strcspn(line, "\n")] = '\0';
			name = strrchr(line, ' ');
			name = name != NULL ? name + 1 : line;
			if (strstr(name, "data.mdb") != NULL)
				cur = &m->lmdb;
			else if (strcmp(name, "[heap]") == 0)
				cur = &m->heap;
			else if (strcmp(name, "[stack]") == 0)
				cur = &m->stack;
			else if (name[0] == '/')
				cur = &m->files;
			else
				cur = &m->anon;
			continue;
		}
		if (cur != NULL && sscanf(line, "Rss: %ld kB", &kb) == 1) {
			*cur += kb;
			m->rss += kb;
		}
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		(void)sscanf(line, "VmHWM: %ld kB", &m->hwm);
	fclose(f);
	return (0);
}

/* ------------------------------------------------------------ web APIs */

static const char *
lg_header(const char *hdrs, const char *name, char *out, size_t len)
{
	const char	*p = hdrs;
	size_t		 nlen = strlen(name), n;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ')
				p++;
			n = strcspn(p, "\r\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			return (out);
		}
	}
	return (NULL);
}

/* A field of a JSON or form body, roughly: enough to route an answer. */
static int
lg_field(const char *body, const char *name, char *out, size_t len)
{
	char		 pat[64];
	const char	*p;
	size_t		 n;

	snprintf(pat, sizeof(pat), "\"%s\":\"", name);
	if ((p = strstr(body, pat)) == NULL) {
		snprintf(pat, sizeof(pat), "\"%s\": \"", name);
		p = strstr(body, pat);
	}
	if (p == NULL) {
		snprintf(pat, sizeof(pat), "%s=", name);
		if ((p = strstr(body, pat)) != NULL && p != body &&
		    p[-1] != '&' && p[-1] != '?')
			p = NULL;
		if (p == NULL)
			return (0);
		p += strlen(pat);
		n = strcspn(p, "&");
	} else {
		p += strlen(pat);
		n = strcspn(p, "\"");
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return (1);
}

static void lg_command_reply(const char *channel);

static int
lg_slack_answer(const char *method, const char *body, struct evbuffer *out)
{
	char	ch[64] = "C0LGNONE", ts[32], user[64] = LG_USER;
	unsigned long id = ++next_id;

	snprintf(ts, sizeof(ts), "%ld.%06lu", ts_base + (long)(id / 1000000),
	    id % 1000000);
	(void)lg_field(body, "channel", ch, sizeof(ch));
	(void)lg_field(body, "user", user, sizeof(user));
	if (strcmp(method, "auth.test") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"url\":\"https://lg."
		    "example.com/\",\"team\":\"Loadgen\",\"user\":\"incidentbot\","
		    "\"team_id\":\"%s\",\"user_id\":\"%s\",\"bot_id\":\"B0LGBOT\","
		    "\"is_enterprise_install\":false}", LG_TEAM, LG_BOT);
	else if (strcmp(method, "apps.connections.open") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"url\":\"ws://127.0.0.1:"
		    "%d/link/?ticket=lg%lu&app_id=%s\"}", ports[LG_SLACK], id,
		    LG_APP);
	else if (strcmp(method, "chat.postMessage") == 0 ||
	    strcmp(method, "chat.postEphemeral") == 0 ||
	    strcmp(method, "views.open") == 0) {
		lg_command_reply(ch);
		evbuffer_add_printf(out, "{\"ok\":true,\"channel\":\"%s\","
		    "\"ts\":\"%s\",\"message_ts\":\"%s\",\"view\":{\"id\":"
		    "\"V0LG%lu\"},\"message\":{\"type\":\"message\",\"user\":"
		    "\"%s\",\"bot_id\":\"B0LGBOT\",\"text\":\"\",\"ts\":\"%s\"}}",
		    ch, ts, ts, id, LG_BOT, ts);
	} else if (strcmp(method, "chat.update") == 0) {
		(void)lg_field(body, "ts", ts, sizeof(ts));
		evbuffer_add_printf(out, "{\"ok\":true,\"channel\":\"%s\","
		    "\"ts\":\"%s\",\"text\":\"\"}", ch, ts);
	} else if (strcmp(method, "conversations.create") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"channel\":{\"id\":"
		    "\"C0LGNEW%lu\",\"name\":\"inc-lg-%lu\",\"is_channel\":true,"
		    "\"is_private\":false,\"is_archived\":false,\"is_member\":"
		    "true,\"created\":%ld,\"creator\":\"%s\"}}", id, id,
		    ts_base, LG_BOT);
	else if (strcmp(method, "conversations.info") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"channel\":{\"id\":"
		    "\"%s\",\"name\":\"lg-%s\",\"is_channel\":%s,\"is_im\":%s,"
		    "\"is_private\":false,\"is_archived\":false,\"is_member\":"
		    "true,\"created\":%ld,\"user\":\"%s\"}}", ch, ch,
		    ch[0] == 'C' ? "true" : "false",
		    ch[0] == 'D' ? "true" : "false", ts_base, LG_USER);
	else if (strcmp(method, "users.info") == 0 ||
	    strcmp(method, "users.lookupByEmail") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"user\":{\"id\":\"%s\","
		    "\"team_id\":\"%s\",\"name\":\"user\",\"real_name\":\"A User\","
		    "\"deleted\":false,\"is_bot\":false,\"is_admin\":false,"
		    "\"is_restricted\":false,\"is_ultra_restricted\":false,"
		    "\"tz\":\"UTC\",\"tz_label\":\"UTC\",\"tz_offset\":0,"
		    "\"profile\":{\"email\":\"alice@example.com\",\"real_name\":"
		    "\"A User\",\"display_name\":\"user\",\"team\":\"%s\"}}}",
		    user, LG_TEAM, LG_TEAM);
	else if (strcmp(method, "conversations.members") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"members\":[\"%s\","
		    "\"%s\"],\"response_metadata\":{\"next_cursor\":\"\"}}",
		    LG_USER, LG_BOT);
	else if (strcmp(method, "users.conversations") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"channels\":[],"
		    "\"response_metadata\":{\"next_cursor\":\"\"}}");
	else if (strcmp(method, "conversations.history") == 0 ||
	    strcmp(method, "conversations.replies") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"messages\":[],"
		    "\"has_more\":false,\"response_metadata\":{\"next_cursor\":"
		    "\"\"}}");
	else if (strcmp(method, "conversations.invite") == 0 ||
	    strcmp(method, "conversations.setTopic") == 0 ||
	    strcmp(method, "conversations.archive") == 0 ||
	    strcmp(method, "conversations.unarchive") == 0 ||
	    strcmp(method, "pins.add") == 0)
		evbuffer_add_printf(out, "{\"ok\":true,\"channel\":{\"id\":"
		    "\"%s\"}}", ch);
	else {
		evbuffer_add_printf(out, "{\"ok\":true}");
		return (0);
	}
	return (1);
}

static int
lg_jira_answer(const char *method, const char *path, struct evbuffer *out,
    int *status)
{
	unsigned long	id = ++next_id;

	if (strcmp(method, "POST") == 0 && strcmp(path, "/rest/api/2/issue")
	    == 0) {
		*status = 201;
		evbuffer_add_printf(out, "{\"id\":\"%lu\",\"key\":\"INC-%lu\","
		    "\"self\":\"http://127.0.0.1:%d/rest/api/2/issue/%lu\"}",
		    id, id, ports[LG_JIRA], id);
		return (1);
	}
	if (strncmp(path, "/rest/api/2/search", 18) == 0) {
		/* No duplicate: every new incident is new. */
		evbuffer_add_printf(out, "{\"issues\":[],\"total\":0,"
		    "\"isLast\":true}");
		return (1);
	}
	if (strcmp(method, "GET") == 0 &&
	    strncmp(path, "/rest/api/2/issue/", 18) == 0) {
		evbuffer_add_printf(out, "{\"id\":\"%lu\",\"key\":\"%.*s\","
		    "\"fields\":{\"summary\":\"loadgen\",\"status\":{\"name\":"
		    "\"Open\",\"statusCategory\":{\"key\":\"new\"}}}}", id,
		    (int)strcspn(path + 18, "/?"), path + 18);
		return (1);
	}
	if (strcmp(method, "GET") != 0)
		*status = 204;
	else
		evbuffer_add_printf(out, "{}");
	return (0);
}

static int
lg_pd_answer(const char *method, const char *path, struct evbuffer *out,
    int *status)
{
	unsigned long	id = ++next_id;

	if (strcmp(method, "POST") == 0 && strcmp(path, "/incidents") == 0) {
		*status = 201;
		evbuffer_add_printf(out, "{\"incident\":{\"id\":\"PLG%lu\","
		    "\"incident_number\":%lu,\"status\":\"triggered\","
		    "\"html_url\":\"https://lg.example.com/incidents/PLG%lu\","
		    "\"assignments\":[]}}", id, id, id);
		return (1);
	}
	if (strncmp(path, "/services/", 10) == 0) {
		evbuffer_add_printf(out, "{\"service\":{\"id\":\"%.*s\","
		    "\"name\":\"Database\",\"status\":\"active\",\"html_url\":"
		    "\"https://lg.example.com/services\"}}",
		    (int)strcspn(path + 10, "/?"), path + 10);
		return (1);
	}
	if (strncmp(path, "/incidents", 10) == 0) {
		evbuffer_add_printf(out, "{\"incidents\":[],\"more\":false,"
		    "\"limit\":25,\"offset\":0}");
		return (1);
	}
	if (strncmp(path, "/users", 6) == 0) {
		evbuffer_add_printf(out, "{\"users\":[{\"id\":\"PLGU1\","
		    "\"email\":\"alice@example.com\",\"name\":\"A User\"}],"
		    "\"more\":false}");
		return (1);
	}
	if (strncmp(path, "/oncalls", 8) == 0) {
		evbuffer_add_printf(out, "{\"oncalls\":[],\"more\":false}");
		return (1);
	}
	evbuffer_add_printf(out, "{}");
	return (0);
}

static void lg_ws_upgrade(struct lg_conn *, const char *);

static int lg_http_one(struct lg_conn *);
static void lg_read_cb(struct bufferevent *, void *);

static void
lg_late_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_late	*l = arg;
	struct lg_conn	*c = l->c;

	(void)fd;
	(void)what;
	bufferevent_write_buffer(c->bev, l->out);
	c->busy = 0;
	evbuffer_free(l->out);
	event_free(l->ev);
	free(l);
	/* The next request may already be waiting. */
	lg_read_cb(c->bev, c);
}

static void
lg_read_cb(struct bufferevent *bev, void *arg)
{
	struct lg_conn	*c = arg;

	(void)bev;
	while (!c->busy && c->ws == NULL && lg_http_one(c) == 1)
		;
	if (c->ws != NULL) {
		if (wslay_event_recv(c->ws) != 0 || wslay_event_send(c->ws) != 0)
			die("websocket error");
	}
}

/* Handle one HTTP request if a whole one is in; 1 if one was. */
static int
lg_http_one(struct lg_conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev), *out;
	struct evbuffer_ptr	 p;
	char			*hdrs, *body, method[16], path[2048], cl[32],
				 up[32];
	const char		*m;
	size_t			 hlen, blen = 0;
	int			 status = 200, known;
	struct lg_late		*l;
	struct timeval		 tv;

	p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (p.pos == -1) {
		if (evbuffer_get_length(in) > LG_MAX_HEADER)
			die("request header too long");
		return (0);
	}
	hlen = (size_t)p.pos + 4;
	hdrs = (char *)evbuffer_pullup(in, (ssize_t)hlen);
	hdrs = strndup(hdrs, hlen);
	if (lg_header(hdrs, "Content-Length", cl, sizeof(cl)) != NULL)
		blen = strtoul(cl, NULL, 10);
	if (blen > LG_MAX_BODY)
		die("request body too long");
	if (evbuffer_get_length(in) < hlen + blen) {
		free(hdrs);
		return (0);
	}
	if (sscanf(hdrs, "%15s %2047s", method, path) != 2)
		die("bad request line");
	evbuffer_drain(in, hlen);
	body = calloc(1, blen + 1);
	evbuffer_remove(in, body, blen);
	api_calls++;
	t_last_api = now();

	if (c->svc == LG_SLACK && lg_header(hdrs, "Upgrade", up,
	    sizeof(up)) != NULL && strcasecmp(up, "websocket") == 0) {
		lg_ws_upgrade(c, hdrs);
		free(hdrs);
		free(body);
		return (1);
	}
	out = evbuffer_new();
	if (c->svc == LG_SLACK) {
		m = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
		path[strcspn(path, "?")] = '\0';
		known = lg_slack_answer(m, body, out);
	} else if (c->svc == LG_JIRA)
		known = lg_jira_answer(method, path, out, &status);
	else
		known = lg_pd_answer(method, path, out, &status);
	if (!known && unknown_calls++ < 20) {
		fprintf(stderr, "loadgen: canned default for %s %s\n",
		    method, path);
	}
	{
		struct evbuffer	*resp = evbuffer_new();

		evbuffer_add_printf(resp, "HTTP/1.1 %d %s\r\nContent-Type: "
		    "application/json\r\nContent-Length: %zu\r\n"
		    "Connection: keep-alive\r\n\r\n", status,
		    status == 201 ? "Created" : status == 204 ? "No Content" :
		    "OK", evbuffer_get_length(out));
		evbuffer_add_buffer(resp, out);
		evbuffer_free(out);
		if (opt_delay_ms > 0) {
			l = calloc(1, sizeof(*l));
			l->c = c;
			l->out = resp;
			l->ev = evtimer_new(base, lg_late_cb, l);
			tv.tv_sec = opt_delay_ms / 1000;
			tv.tv_usec = (opt_delay_ms % 1000) * 1000;
			c->busy = 1;
			evtimer_add(l->ev, &tv);
		} else {
			bufferevent_write_buffer(c->bev, resp);
			evbuffer_free(resp);
		}
	}
	free(hdrs);
	free(body);
	return (1);
}

static void
lg_conn_free(struct lg_conn *c)
{
	int	i;

	for (i = 0; i < nws; i++) {
		if (ws_conns[i] == c) {
			ws_conns[i] = ws_conns[--nws];
			break;
		}
	}
	if (c->ws != NULL)
		wslay_event_context_free(c->ws);
	bufferevent_free(c->bev);
	free(c);
}

static void
lg_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct lg_conn	*c = arg;

	(void)bev;
	if ((what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) == 0)
		return;
	if (c->ws != NULL && !finished)
		fprintf(stderr, "loadgen: the daemon closed its WebSocket "
		    "(%s)\n", what & BEV_EVENT_EOF ? "EOF" : "error");
	lg_conn_free(c);
}

static void
lg_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct lg_conn	*c;

	(void)l;
	(void)sa;
	(void)len;
	c = calloc(1, sizeof(*c));
	c->svc = (enum lg_service)(intptr_t)arg;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, lg_read_cb, NULL, lg_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	{
		int	one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	}
}

static int
lg_listen(enum lg_service svc)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct evconnlistener	*l;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = evconnlistener_new_bind(base, lg_accept_cb, (void *)(intptr_t)svc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL)
		die("listen: %s", strerror(errno));
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
	return (ntohs(sin.sin_port));
}

/* ------------------------------------------------------------ socket mode */

static ssize_t
lg_ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
    void *arg)
{
	struct lg_conn	*c = arg;
	int		 n;

	(void)flags;
	n = evbuffer_remove(bufferevent_get_input(c->bev), buf, len);
	if (n <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return (-1);
	}
	return (n);
}

static ssize_t
lg_ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len,
    int flags, void *arg)
{
	struct lg_conn	*c = arg;

	(void)ctx;
	(void)flags;
	if (bufferevent_write(c->bev, data, len) != 0)
		return (-1);
	return ((ssize_t)len);
}

static void
lg_ack(const char *msg, size_t len)
{
	const char	*p;
	char		 buf[256];
	unsigned long	 idx;

	if (len >= sizeof(buf))
		return;		/* an ack is small; nothing else expected */
	memcpy(buf, msg, len);
	buf[len] = '\0';
	if ((p = strstr(buf, "\"envelope_id\"")) == NULL ||
	    (p = strstr(p, "lg-")) == NULL)
		return;
	idx = strtoul(p + 3, NULL, 10);
	if (idx >= sent || done_at[idx] != 0)
		return;
	done_at[idx] = now();
	acked++;
}

static void
lg_ws_msg(wslay_event_context_ptr ctx,
    const struct wslay_event_on_msg_recv_arg *m, void *arg)
{
	(void)ctx;
	(void)arg;
	if (m->opcode == WSLAY_TEXT_FRAME)
		lg_ack((const char *)m->msg, m->msg_length);
}

static const struct wslay_event_callbacks lg_ws_cbs = {
	lg_ws_recv, lg_ws_send, NULL, NULL, NULL, NULL, lg_ws_msg
};

static void
lg_ws_text(struct lg_conn *c, const char *text, size_t len)
{
	struct wslay_event_msg	msg;

	msg.opcode = WSLAY_TEXT_FRAME;
	msg.msg = (const uint8_t *)text;
	msg.msg_length = len;
	if (wslay_event_queue_msg(c->ws, &msg) != 0 ||
	    wslay_event_send(c->ws) != 0)
		die("websocket send failed");
}

static void lg_begin(void);
static void lg_settle(void);

static void
lg_ws_upgrade(struct lg_conn *c, const char *hdrs)
{
	char		 key[128], src[256], accept[64];
	unsigned char	 md[SHA_DIGEST_LENGTH];
	static const char hello[] = "{\"type\":\"hello\",\"num_connections\":1,"
	    "\"debug_info\":{\"host\":\"loadgen\"},\"connection_info\":"
	    "{\"app_id\":\"" LG_APP "\"}}";

	if (lg_header(hdrs, "Sec-WebSocket-Key", key, sizeof(key)) == NULL)
		die("upgrade without Sec-WebSocket-Key");
	if (nws == LG_MAX_WS)
		die("more than %d WebSocket connections", LG_MAX_WS);
	snprintf(src, sizeof(src), "%s%s", key, LG_GUID);
	SHA1((const unsigned char *)src, strlen(src), md);
	EVP_EncodeBlock((unsigned char *)accept, md, sizeof(md));
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
	if (wslay_event_context_server_init(&c->ws, &lg_ws_cbs, c) != 0)
		die("wslay_event_context_server_init");
	ws_conns[nws++] = c;
	lg_ws_text(c, hello, sizeof(hello) - 1);
	if (t_hello == 0) {
		t_hello = now();
		lg_settle();
	}
}

/*
 * --settle MS: the load begins once the daemon's start-up work is over
 * (the repair pass a second after start walks the whole store), so the
 * figures are steady state: at least MS after the hello, and then once
 * a 200 ms window went by without a clock tick of daemon CPU.
 */
static void
lg_settle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg_cpu	c;

	(void)fd;
	(void)what;
	(void)arg;
	if (lg_read_cpu(daemon_pid, &c) != 0)
		return;
	if (now() - t_hello >= opt_settle_ms / 1000.0 &&
	    c.user + c.sys == settle_cpu.user + settle_cpu.sys) {
		event_free(settle_ev);
		settle_ev = NULL;
		t_settled = now();
		lg_begin();
		return;
	}
	settle_cpu = c;
}

static void
lg_settle(void)
{
	struct timeval	tv = { 0, 200000 };

	if (opt_settle_ms <= 0) {
		t_settled = t_hello;
		lg_begin();
		return;
	}
	(void)lg_read_cpu(daemon_pid, &settle_cpu);
	settle_ev = event_new(base, -1, EV_PERSIST, lg_settle_cb, NULL);
	event_add(settle_ev, &tv);
}

/* ------------------------------------------------------------ load */

static size_t
lg_event_envelope(char *buf, size_t len, unsigned idx, const char *type,
    const char *event)
{
	return ((size_t)snprintf(buf, len, "{\"envelope_id\":\"lg-%u\","
	    "\"type\":\"%s\",\"accepts_response_payload\":false,"
	    "\"retry_attempt\":0,\"retry_reason\":\"\",\"payload\":{"
	    "\"token\":\"lg\",\"team_id\":\"%s\",\"api_app_id\":\"%s\","
	    "\"type\":\"event_callback\",\"event_id\":\"EvLG%u\","
	    "\"event_time\":%ld,\"event\":%s}}", idx, type, LG_TEAM, LG_APP,
	    idx, ts_base, event));
}

static void
lg_ts(char *buf, size_t len, unsigned idx)
{
	snprintf(buf, len, "%ld.%06u", ts_base + (long)(idx / 1000000),
	    idx % 1000000);
}

/* The idx-th envelope of the ingest mix. */
static size_t
lg_ingest_envelope(char *buf, size_t len, unsigned idx)
{
	char		 ev[2048], ts[32], ts2[32], ch[32];
	unsigned	 k = idx % 100;

	snprintf(ch, sizeof(ch), "C0LG%05u", idx / 10 % opt_channels + 1);
	lg_ts(ts, sizeof(ts), idx);
	if (k == 99) {
		snprintf(ev, sizeof(ev), "{\"type\":\"message\",\"channel\":"
		    "\"D0LGI%07u\",\"user\":\"%s\",\"text\":\"help\",\"ts\":"
		    "\"%s\",\"event_ts\":\"%s\",\"channel_type\":\"im\"}", idx,
		    LG_USER, ts, ts);
	} else if (k % 10 == 3) {
		lg_ts(ts2, sizeof(ts2), idx - 3);
		snprintf(ev, sizeof(ev), "{\"type\":\"reaction_added\","
		    "\"user\":\"%s\",\"reaction\":\"memo\",\"item\":{\"type\":"
		    "\"message\",\"channel\":\"%s\",\"ts\":\"%s\"},"
		    "\"item_user\":\"%s\",\"event_ts\":\"%s\"}", LG_USER2, ch,
		    ts2, LG_USER, ts);
	} else if (k % 10 == 7) {
		lg_ts(ts2, sizeof(ts2), idx - 1);
		snprintf(ev, sizeof(ev), "{\"type\":\"message\",\"subtype\":"
		    "\"message_changed\",\"hidden\":true,\"channel\":\"%s\","
		    "\"message\":{\"type\":\"message\",\"user\":\"%s\",\"text\":"
		    "\"edited: the error rate is back to normal (%u)\",\"ts\":"
		    "\"%s\",\"edited\":{\"user\":\"%s\",\"ts\":\"%s\"}},\"ts\":"
		    "\"%s\",\"event_ts\":\"%s\",\"channel_type\":\"channel\"}",
		    ch, LG_USER, idx, ts2, LG_USER, ts, ts, ts);
	} else {
		snprintf(ev, sizeof(ev), "{\"type\":\"message\",\"channel\":"
		    "\"%s\",\"user\":\"%s\",\"text\":\"checking the dashboards"
		    ", p99 is at 840 ms on <https://grafana.example.com/d/%u|"
		    "api> (%u)\",\"ts\":\"%s\",\"event_ts\":\"%s\","
		    "\"channel_type\":\"channel\",\"client_msg_id\":\"lg-%u\"}",
		    ch, LG_USER, idx, idx, ts, ts, idx);
	}
	return (lg_event_envelope(buf, len, idx, "events_api", ev));
}

static struct lg_conn *
lg_ws_pick(unsigned idx)
{
	if (nws == 0)
		die("no WebSocket connection");
	return (ws_conns[idx % (unsigned)nws]);
}

static void
lg_send_ingest(void)
{
	char	buf[LG_MAX_ENV];
	size_t	len;

	len = lg_ingest_envelope(buf, sizeof(buf), sent);
	sent_at[sent] = now();
	lg_ws_text(lg_ws_pick(sent), buf, len);
	sent++;
}

/* Command k: a DM (or a channel, for a mention) of its own, D0LGC<k>. */
static void
lg_send_command(void)
{
	char		 buf[LG_MAX_ENV], ev[1024], ts[32], ch[32], user[32];
	const char	*text;
	unsigned	 k = ncmd_sent++;
	size_t		 len;

	switch (opt_command) {
	case LG_NEW_INCIDENT:
		text = "new incident loadgen checkout is down";
		break;
	case LG_PAGE:
		text = "page db";
		break;
	default:
		text = "help";
		break;
	}
	/* Spread over users: access.c budgets commands per user. */
	snprintf(user, sizeof(user), "U0LGU%04u", k % LG_USERS);
	lg_ts(ts, sizeof(ts), k);
	sent_at[k] = now();
	if (opt_command == LG_MENTION) {
		snprintf(ch, sizeof(ch), "C0LGC%07u", k);
		snprintf(ev, sizeof(ev), "{\"type\":\"app_mention\",\"channel\":"
		    "\"%s\",\"user\":\"%s\",\"text\":\"<@%s> %s\",\"ts\":\"%s\","
		    "\"event_ts\":\"%s\"}", ch, user, LG_BOT, text, ts, ts);
		len = lg_event_envelope(buf, sizeof(buf), 2 * k, "events_api",
		    ev);
		lg_ws_text(lg_ws_pick(k), buf, len);
		snprintf(ev, sizeof(ev), "{\"type\":\"message\",\"channel\":"
		    "\"%s\",\"user\":\"%s\",\"text\":\"<@%s> %s\",\"ts\":\"%s\","
		    "\"event_ts\":\"%s\",\"channel_type\":\"channel\"}", ch,
		    user, LG_BOT, text, ts, ts);
		len = lg_event_envelope(buf, sizeof(buf), 2 * k + 1,
		    "events_api", ev);
		lg_ws_text(lg_ws_pick(k), buf, len);
		return;
	}
	snprintf(ch, sizeof(ch), "D0LGC%07u", k);
	snprintf(ev, sizeof(ev), "{\"type\":\"message\",\"channel\":\"%s\","
	    "\"user\":\"%s\",\"text\":\"%s\",\"ts\":\"%s\",\"event_ts\":"
	    "\"%s\",\"channel_type\":\"im\"}", ch, user, text, ts, ts);
	len = lg_event_envelope(buf, sizeof(buf), k, "events_api", ev);
	lg_ws_text(lg_ws_pick(k), buf, len);
}

/* A post in a command's channel: that command got its first reply. */
static void
lg_command_reply(const char *channel)
{
	unsigned long	k;

	if (opt_mode != LG_COMMANDS || strncmp(channel + 1, "0LGC", 4) != 0)
		return;
	k = strtoul(channel + 5, NULL, 10);
	if (k >= ncmd_sent || done_at[k] != 0)
		return;
	done_at[k] = now();
	replies_done++;
	if (ncmd_sent < opt_count)
		lg_send_command();
	if (replies_done == opt_count)
		lg_finish(1);
}

static void
lg_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned	due;

	(void)fd;
	(void)what;
	(void)arg;
	if (opt_mode == LG_INGEST) {
		if (acked == opt_count) {
			lg_finish(1);
			return;
		}
		if (opt_rate > 0) {
			due = (unsigned)((now() - t_start) * opt_rate);
			if (due > opt_count)
				due = opt_count;
		} else {
			due = acked + opt_window;
			if (due > opt_count)
				due = opt_count;
		}
		while (sent < due)
			lg_send_ingest();
	}
}

static void
lg_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (now() - t_last_api >= LG_QUIET_MS / 1000.0)
		lg_finish(1);
}

static void
lg_child_cb(evutil_socket_t fd, short what, void *arg)
{
	int	status;

	(void)fd;
	(void)what;
	(void)arg;
	if (waitpid(daemon_pid, &status, WNOHANG) != daemon_pid)
		return;
	if (!finished)
		die("the daemon exited (status %d) before the end; see %s/"
		    "incidentd.log", status, opt_dir);
	daemon_status = status;
	daemon_reaped = 1;
	event_base_loopbreak(base);
}

static void
lg_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv;

	(void)fd;
	(void)what;
	(void)arg;
	if (finished) {
		/* SIGTERM was sent a deadline ago. */
		fprintf(stderr, "loadgen: the daemon did not stop\n");
		kill(daemon_pid, SIGKILL);
		return;
	}
	fprintf(stderr, "loadgen: deadline of %d s passed\n", opt_timeout);
	lg_finish(0);
	tv.tv_sec = opt_timeout;
	tv.tv_usec = 0;
	evtimer_add(deadline_ev, &tv);
}

static void
lg_begin(void)
{
	struct timeval	tv = { 0, 1000 };
	unsigned	i;

	running = 1;
	t_start = now();
	lg_read_cpu(daemon_pid, &d_cpu0);
	lg_self_cpu(&self_cpu0);
	switch (opt_mode) {
	case LG_IDLE:
		quiet_ev = event_new(base, -1, EV_PERSIST, lg_quiet_cb, NULL);
		tv.tv_usec = 50000;
		event_add(quiet_ev, &tv);
		break;
	case LG_INGEST:
		/* Acks drive the window; the tick keeps the offered rate. */
		tick_ev = event_new(base, -1, EV_PERSIST, lg_tick_cb, NULL);
		event_add(tick_ev, &tv);
		lg_tick_cb(-1, 0, NULL);
		break;
	case LG_COMMANDS:
		for (i = 0; i < opt_concurrency && i < opt_count; i++)
			lg_send_command();
		break;
	}
}

static int
lg_cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static void
lg_print_latency(const char *name, unsigned n)
{
	double		*v;
	unsigned	 i, m = 0;

	v = calloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		if (done_at[i] != 0)
			v[m++] = (done_at[i] - sent_at[i]) * 1000.0;
	}
	qsort(v, m, sizeof(*v), lg_cmp);
	if (m == 0)
		printf(",\"%s\":null", name);
	else
		printf(",\"%s\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", name,
		    v[m / 2], v[m * 99 / 100 < m ? m * 99 / 100 : m - 1],
		    v[m - 1]);
	free(v);
}

static void
lg_finish(int complete)
{
	struct lg_cpu	d1, s1;
	struct lg_mem	mem;
	double		wall, du, ds;
	unsigned	units;

	if (finished)
		return;
	finished = 1;
	t_end = now();
	lg_read_cpu(daemon_pid, &d1);
	lg_self_cpu(&s1);
	lg_read_mem(daemon_pid, &mem);
	wall = t_end - t_start;
	du = d1.user - d_cpu0.user;
	ds = d1.sys - d_cpu0.sys;
	units = opt_mode == LG_INGEST ? acked : opt_mode == LG_COMMANDS ?
	    (opt_command == LG_MENTION ? 2 : 1) * replies_done : 0;

	printf("{\"bench\":\"%s\",\"mode\":\"%s\",\"complete\":%s",
	    opt_label != NULL ? opt_label : "loadgen",
	    opt_mode == LG_IDLE ? "idle" : opt_mode == LG_INGEST ? "ingest" :
	    "commands", complete ? "true" : "false");
	printf(",\"exec_to_hello_ms\":%.2f", (t_hello - t_exec) * 1000.0);
	printf(",\"settled_after_hello_ms\":%.0f", (t_settled - t_hello) *
	    1000.0);
	printf(",\"seconds\":%.3f", wall);
	if (opt_mode == LG_INGEST) {
		printf(",\"envelopes\":%u,\"acked\":%u,\"offered_per_s\":%s",
		    sent, acked, opt_rate > 0 ? "" : "null");
		if (opt_rate > 0)
			printf("%.0f", opt_rate);
		printf(",\"window\":%u,\"envelopes_per_s\":%.0f",
		    opt_rate > 0 ? 0 : opt_window, acked / wall);
		lg_print_latency("ack_ms", sent);
	} else if (opt_mode == LG_COMMANDS) {
		printf(",\"command\":\"%s\",\"concurrency\":%u,\"commands\":%u,"
		    "\"commands_per_s\":%.1f,\"envelopes\":%u",
		    opt_command == LG_HELP ? "help" : opt_command ==
		    LG_NEW_INCIDENT ? "new incident" : opt_command == LG_PAGE ?
		    "page db" : "mention help", opt_concurrency, replies_done,
		    replies_done / wall, units);
		lg_print_latency("reply_ms", ncmd_sent);
	}
	if (units > 0)
		printf(",\"daemon_cpu_us_per_envelope\":{\"user\":%.2f,"
		    "\"system\":%.2f,\"total\":%.2f}", du * 1e6 / units,
		    ds * 1e6 / units, (du + ds) * 1e6 / units);
	printf(",\"daemon_cpu_pct\":%.1f,\"loadgen_cpu_pct\":%.1f",
	    wall > 0 ? (du + ds) * 100.0 / wall : 0.0, wall > 0 ?
	    ((s1.user - self_cpu0.user) + (s1.sys - self_cpu0.sys)) * 100.0 /
	    wall : 0.0);
	printf(",\"mem_kb\":{\"rss\":%ld,\"peak_rss\":%ld,\"heap\":%ld,"
	    "\"anon\":%ld,\"stack\":%ld,\"heap_anon_stack\":%ld,\"lmdb\":%ld,"
	    "\"files\":%ld}", mem.rss, mem.hwm, mem.heap, mem.anon,
	    mem.stack, mem.heap + mem.anon + mem.stack, mem.lmdb, mem.files);
	printf(",\"api_calls\":%lu,\"unknown_calls\":%lu,\"daemon_pid\":%d}\n",
	    api_calls, unknown_calls, (int)daemon_pid);
	fflush(stdout);
	/*
	 * Stop the daemon while still answering its calls: a peer that goes
	 * silent at the end would leave its drain waiting on requests that
	 * a real service answers. lg_child_cb ends the loop once it exits.
	 */
	incomplete = !complete;
	if (tick_ev != NULL)
		event_del(tick_ev);
	if (quiet_ev != NULL)
		event_del(quiet_ev);
	kill(daemon_pid, SIGTERM);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen --daemon PATH --dir DIR [--state DIR] "
	    "[--mode idle|ingest|commands]\n"
	    "\t[--count N] [--rate N] [--window N] [--channels N]\n"
	    "\t[--command help|new-incident|page|mention] [--concurrency N]\n"
	    "\t[--delay-ms N] [--wrap 'CMD ARGS'] [--no-pin] [--label NAME]\n"
	    "\t[--log-level LEVEL] [--timeout SECONDS] [--settle MS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option	 longopts[] = {
		{ "daemon", required_argument, NULL, 'd' },
		{ "dir", required_argument, NULL, 'D' },
		{ "state", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' },
		{ "window", required_argument, NULL, 'w' },
		{ "channels", required_argument, NULL, 'C' },
		{ "command", required_argument, NULL, 'c' },
		{ "concurrency", required_argument, NULL, 'j' },
		{ "delay-ms", required_argument, NULL, 'L' },
		{ "wrap", required_argument, NULL, 'W' },
		{ "no-pin", no_argument, NULL, 'P' },
		{ "label", required_argument, NULL, 'l' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "settle", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	static char	 state[1024];
	struct timeval	 tv;
	char		*w, *save;
	int		 ch, status;
	unsigned	 n;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd': opt_daemon = optarg; break;
		case 'D': opt_dir = optarg; break;
		case 's': opt_state = optarg; break;
		case 'm':
			if (strcmp(optarg, "idle") == 0)
				opt_mode = LG_IDLE;
			else if (strcmp(optarg, "ingest") == 0)
				opt_mode = LG_INGEST;
			else if (strcmp(optarg, "commands") == 0)
				opt_mode = LG_COMMANDS;
			else
				usage();
			break;
		case 'n': opt_count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': opt_rate = strtod(optarg, NULL); break;
		case 'w': opt_window = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'C': opt_channels = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			if (strcmp(optarg, "help") == 0)
				opt_command = LG_HELP;
			else if (strcmp(optarg, "new-incident") == 0)
				opt_command = LG_NEW_INCIDENT;
			else if (strcmp(optarg, "page") == 0)
				opt_command = LG_PAGE;
			else if (strcmp(optarg, "mention") == 0)
				opt_command = LG_MENTION;
			else
				usage();
			break;
		case 'j': opt_concurrency = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'L': opt_delay_ms = atoi(optarg); break;
		case 'W':
			for (w = strtok_r(optarg, " ", &save); w != NULL &&
			    opt_nwrap < LG_MAX_WRAP - 1;
			    w = strtok_r(NULL, " ", &save))
				opt_wrap[opt_nwrap++] = w;
			break;
		case 'P': opt_pin = 0; break;
		case 'l': opt_label = optarg; break;
		case 'v': opt_log_level = optarg; break;
		case 't': opt_timeout = atoi(optarg); break;
		case 'S': opt_settle_ms = atoi(optarg); break;
		default: usage();
		}
	}
	if (opt_daemon == NULL || opt_dir == NULL || opt_count == 0 ||
	    opt_count > 10000000 || opt_window == 0 || opt_channels == 0 ||
	    opt_concurrency == 0 || opt_delay_ms < 0 || opt_timeout < 1 ||
	    opt_settle_ms < 0)
		usage();
	if (opt_state == NULL) {
		snprintf(state, sizeof(state), "%s/state", opt_dir);
		opt_state = state;
	}
	signal(SIGPIPE, SIG_IGN);
	ts_base = (long)time(NULL);
	n = opt_mode == LG_COMMANDS && opt_command == LG_MENTION ?
	    2 * opt_count : opt_count;
	sent_at = calloc(n, sizeof(*sent_at));
	done_at = calloc(n, sizeof(*done_at));
	if (sent_at == NULL || done_at == NULL)
		die("out of memory");
	if ((base = event_base_new()) == NULL)
		die("event_base_new");
	ports[LG_SLACK] = lg_listen(LG_SLACK);
	ports[LG_JIRA] = lg_listen(LG_JIRA);
	ports[LG_PD] = lg_listen(LG_PD);
	child_ev = evsignal_new(base, SIGCHLD, lg_child_cb, NULL);
	event_add(child_ev, NULL);
	lg_spawn();
	deadline_ev = evtimer_new(base, lg_deadline_cb, NULL);
	tv.tv_sec = opt_timeout;
	tv.tv_usec = 0;
	evtimer_add(deadline_ev, &tv);
	event_base_dispatch(base);

	event_del(child_ev);
	if (daemon_reaped)
		status = daemon_status;
	else {
		kill(daemon_pid, SIGTERM);
		if (waitpid(daemon_pid, &status, 0) == -1)
			die("waitpid: %s", strerror(errno));
	}
	if (incomplete)
		return (1);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "loadgen: the daemon exited with status %d\n",
		    status);
		return (1);
	}
	return (0);
}
