/*
 * metrics.c: counters, gauges and histograms, and the optional listener
 * that serves them to Prometheus (GET /metrics) with a health check for a
 * load balancer or systemd's watchdog script (GET /healthz).
 *
 * Why a registry of our own: the daemon has a dozen families with a few
 * series each, and one thread. A metric is a sorted array of series
 * (label values to a number, or to bucket counts for a histogram); the
 * text exposition format 0.0.4 is written on each scrape. The modules
 * that know a thing feed it with one call each (metrics_envelope in
 * slack-socket.c, metrics_api_call in each service client, ...); what
 * other modules already count (jobs waiting, store size, commits) is read
 * from their accessors at scrape time, not copied on every change. A
 * metric holds at most METRICS_MAX_SERIES series: label values that come
 * from outside (an envelope type) cannot grow it without bound; the rest
 * are counted under "other".
 *
 * The listener (listen.c, shared with pd-webhook.c) answers each request
 * from memory in its callback, in one piece. Requests are bounded
 * (headers, body, a timeout per connection); any method but GET and HEAD
 * is answered 405, any other path 404. A non-loopback address needs
 * metrics.listen_public, checked by config.c: there is no authentication.
 *
 * /healthz says 200 "ok" only while Socket Mode is connected (hello
 * received) and, once the Jira poller has succeeded, while its last good
 * poll is recent (3 x schedule.poll_interval + 60 s); else 503 and the
 * reason on one line.
 *
 * SIGHUP: metrics_reload rebinds when metrics.listen changed (listen.c).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "incidentd.h"

#define METRICS_MAX_VALUE	128	/* bytes of a label value */
#define METRICS_OTHER		"other"
#define METRICS_MAX_HEADERS	8192	/* bytes of a request's head */
#define METRICS_MAX_BODY	1024
#define METRICS_TIMEOUT_S	10	/* per connection, read and write */
#define METRICS_POLL_SLACK	60	/* seconds past 3 poll intervals */

/* Why cmd.c refuses a command, shown as 0 before the first. */
static const char *const metrics_refusals[] = {
	"rate", "backlog", "access", NULL
};

struct metrics_series {
	char		*values[METRICS_MAX_LABELS];
	double		 value;		/* histogram: the sum */
	uint64_t	 count;		/* histogram */
	uint64_t	*buckets;	/* histogram: per bound, not summed */
};

struct metric {
	enum metrics_type	 type;
	char			*name;
	char			*help;
	char			*labels[METRICS_MAX_LABELS];
	size_t			 nlabels;
	double			*bounds;
	size_t			 nbounds;
	struct metrics_series	*series;	/* sorted by label values */
	size_t			 nseries;
	TAILQ_ENTRY(metric)	 entry;
};
TAILQ_HEAD(metrics_list, metric);

struct metrics {
	struct metrics_list	 list;		/* in registration order */
};

/* The daemon's metrics, registered on first use. */
static struct {
	struct metrics	*reg;
	struct metric	*envelopes;
	struct metric	*acks;
	struct metric	*ack_seconds;
	struct metric	*ack_batches;
	struct metric	*api_calls;
	struct metric	*api_seconds;
	struct metric	*commands;
	struct metric	*jobs_queued;
	struct metric	*jobs_running;
	struct metric	*jobs_ended;
	struct metric	*store_bytes;
	struct metric	*store_commits;
	struct metric	*socket_up;
	struct metric	*poll_time;
	struct metric	*start_time;
	struct metric	*build;
	struct metric	*pd_webhooks;
	struct metric	*refused;
} metrics_d;

static time_t			 metrics_last_poll;
static time_t			 metrics_started;
static struct listen_srv	*metrics_listen;

static const double	metrics_ack_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
static const double	metrics_api_bounds[] = {
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
};

static int	 metrics_valid_name(const char *, int);
static int	 metrics_cmp(const char *const *, char *const *, size_t);
static struct metrics_series *metrics_series(struct metric *,
		    const char *const *);
static struct metrics_series *metrics_find(struct metric *,
		    const char *const *, size_t *);
static const char *metrics_fmt(double, char *, size_t);
static void	 metrics_escape(struct evbuffer *, const char *, int);
static void	 metrics_labels(struct evbuffer *, const struct metric *,
		    const struct metrics_series *, const char *);
static void	 metrics_render_one(struct evbuffer *, const struct metric *);
static void	 metrics_render_buf(struct metrics *, struct evbuffer *);
static char	*metrics_buf_text(struct evbuffer *, size_t *);
static void	 metrics_daemon(void);
static void	 metrics_scrape(void);
static void	 metrics_http_cb(struct evhttp_request *, void *);
static void	 metrics_reply(struct evhttp_request *, int, const char *,
		    const char *, size_t);

/* An empty registry. */
struct metrics *
metrics_new(void)
{
	struct metrics	*reg;

	reg = xcalloc(1, sizeof(*reg));
	TAILQ_INIT(&reg->list);
	return (reg);
}

/* Free a registry and its metrics; NULL is fine. */
void
metrics_free(struct metrics *reg)
{
	struct metric	*m;
	size_t		 i, k;

	if (reg == NULL)
		return;
	while ((m = TAILQ_FIRST(&reg->list)) != NULL) {
		TAILQ_REMOVE(&reg->list, m, entry);
		for (i = 0; i < m->nseries; i++) {
			for (k = 0; k < m->nlabels; k++)
				free(m->series[i].values[k]);
			free(m->series[i].buckets);
		}
		for (k = 0; k < m->nlabels; k++)
			free(m->labels[k]);
		free(m->series);
		free(m->bounds);
		free(m->name);
		free(m->help);
		free(m);
	}
	free(reg);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for a metric, without ':' for a label. */
static int
metrics_valid_name(const char *s, int label)
{
	const char	*p;

	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return (0);
	for (p = s; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' ||
		    (!label && *p == ':')))
			return (0);
	}
	/* Reserved: "__" labels, and le for histograms' buckets. */
	return (!label || (strncmp(s, "__", 2) != 0 && strcmp(s, "le") != 0));
}

/* Register a metric; bad names and bounds are programming errors. */
struct metric *
metrics_add(struct metrics *reg, enum metrics_type type, const char *name,
    const char *help, const char *labels, const double *bounds,
    size_t nbounds)
{
	struct metric	*m;
	char		*copy, *word, *next;
	size_t		 i;

	if (!metrics_valid_name(name, 0))
		fatalx("%s: bad metric name %s", __func__, name);
	m = xcalloc(1, sizeof(*m));
	m->type = type;
	m->name = xstrdup(name);
	m->help = xstrdup(help);
	if (labels != NULL) {
		copy = xstrdup(labels);
		for (word = copy; word != NULL; word = next) {
			if ((next = strchr(word, ',')) != NULL)
				*next++ = '\0';
			if (m->nlabels == METRICS_MAX_LABELS ||
			    !metrics_valid_name(word, 1))
				fatalx("%s: %s: bad labels %s", __func__, name,
				    labels);
			m->labels[m->nlabels++] = xstrdup(word);
		}
		free(copy);
	}
	if (type == METRICS_HISTOGRAM) {
		for (i = 0; i < nbounds; i++) {
			if (isnan(bounds[i]) || isinf(bounds[i]) ||
			    (i > 0 && bounds[i] <= bounds[i - 1]))
				fatalx("%s: %s: bounds not ascending",
				    __func__, name);
		}
		m->bounds = xreallocarray(NULL, nbounds + 1,
		    sizeof(*m->bounds));
		if (nbounds > 0)
			memcpy(m->bounds, bounds, nbounds * sizeof(*bounds));
		m->nbounds = nbounds;
	}
	TAILQ_INSERT_TAIL(&reg->list, m, entry);
	/* Without labels there is one series, shown from the start. */
	if (m->nlabels == 0)
		(void)metrics_series(m, NULL);
	return (m);
}

static int
metrics_cmp(const char *const *a, char *const *b, size_t n)
{
	size_t	i;
	int	c;

	for (i = 0; i < n; i++) {
		if ((c = strcmp(a[i], b[i])) != 0)
			return (c);
	}
	return (0);
}

/* Binary search; *at is where the series is or would go. */
static struct metrics_series *
metrics_find(struct metric *m, const char *const *v, size_t *at)
{
	size_t	lo = 0, hi = m->nseries, mid;
	int	c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = metrics_cmp(v, m->series[mid].values, m->nlabels);
		if (c == 0) {
			*at = mid;
			return (&m->series[mid]);
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*at = lo;
	return (NULL);
}

/* The series for these label values, created if new (or "other"). */
static struct metrics_series *
metrics_series(struct metric *m, const char *const *values)
{
	struct metrics_series	*s;
	char			 cut[METRICS_MAX_LABELS][METRICS_MAX_VALUE + 1];
	const char		*v[METRICS_MAX_LABELS];
	size_t			 i, at, len;

	for (i = 0; i < m->nlabels; i++) {
		v[i] = values != NULL && values[i] != NULL ? values[i] : "";
		if (strlen(v[i]) > METRICS_MAX_VALUE) {
			len = utf8_cut(v[i], METRICS_MAX_VALUE);
			memcpy(cut[i], v[i], len);
			cut[i][len] = '\0';
			v[i] = cut[i];
		}
	}
	if ((s = metrics_find(m, v, &at)) != NULL)
		return (s);
	if (m->nseries >= METRICS_MAX_SERIES) {
		for (i = 0; i < m->nlabels; i++)
			v[i] = METRICS_OTHER;
		if ((s = metrics_find(m, v, &at)) != NULL)
			return (s);
	}
	m->series = xreallocarray(m->series, m->nseries + 1,
	    sizeof(*m->series));
	memmove(&m->series[at + 1], &m->series[at],
	    (m->nseries - at) * sizeof(*m->series));
	m->nseries++;
	s = &m->series[at];
	memset(s, 0, sizeof(*s));
	for (i = 0; i < m->nlabels; i++)
		s->values[i] = xstrdup(v[i]);
	if (m->type == METRICS_HISTOGRAM)
		s->buckets = xcalloc(m->nbounds + 1, sizeof(*s->buckets));
	return (s);
}

/* Add to a counter or gauge (0 makes the series visible). */
void
metrics_inc(struct metric *m, const char *const *values, double by)
{
	metrics_series(m, values)->value += by;
}

/* Set a gauge, or a counter mirrored from a count kept elsewhere. */
void
metrics_set(struct metric *m, const char *const *values, double v)
{
	metrics_series(m, values)->value = v;
}

/* Count an observation in a histogram. */
void
metrics_observe(struct metric *m, const char *const *values, double v)
{
	struct metrics_series	*s;
	size_t			 i;

	if (m->type != METRICS_HISTOGRAM)
		fatalx("%s: %s is not a histogram", __func__, m->name);
	s = metrics_series(m, values);
	for (i = 0; i < m->nbounds && v > m->bounds[i]; i++)
		;
	s->buckets[i]++;	/* the +Inf bucket when past every bound */
	s->count++;
	s->value += v;
}

/* Go's strconv style: shortest round-trip digits, +Inf, -Inf, NaN. */
static const char *
metrics_fmt(double v, char *buf, size_t size)
{
	if (isnan(v))
		return ("NaN");
	if (isinf(v))
		return (v > 0 ? "+Inf" : "-Inf");
	snprintf(buf, size, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, size, "%.17g", v);
	return (buf);
}

/* Label values escape \, " and newline; HELP text only \ and newline. */
static void
metrics_escape(struct evbuffer *b, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(b, "\\n", 2);
		else if (*s == '"' && quote)
			evbuffer_add(b, "\\\"", 2);
		else
			evbuffer_add(b, s, 1);
	}
}

/* {a="x",le="0.5"}, or nothing without labels; le may be NULL. */
static void
metrics_labels(struct evbuffer *b, const struct metric *m,
    const struct metrics_series *s, const char *le)
{
	size_t	i;

	if (m->nlabels == 0 && le == NULL)
		return;
	evbuffer_add(b, "{", 1);
	for (i = 0; i < m->nlabels; i++) {
		evbuffer_add_printf(b, "%s%s=\"", i > 0 ? "," : "",
		    m->labels[i]);
		metrics_escape(b, s->values[i], 1);
		evbuffer_add(b, "\"", 1);
	}
	if (le != NULL)
		evbuffer_add_printf(b, "%sle=\"%s\"", m->nlabels > 0 ? "," :
		    "", le);
	evbuffer_add(b, "}", 1);
}

static void
metrics_render_one(struct evbuffer *b, const struct metric *m)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	const struct metrics_series	*s;
	char				 num[32], le[32];
	uint64_t			 cum;
	size_t				 i, k;

	evbuffer_add_printf(b, "# HELP %s ", m->name);
	metrics_escape(b, m->help, 0);
	evbuffer_add_printf(b, "\n# TYPE %s %s\n", m->name, types[m->type]);
	for (i = 0; i < m->nseries; i++) {
		s = &m->series[i];
		if (m->type != METRICS_HISTOGRAM) {
			evbuffer_add(b, m->name, strlen(m->name));
			metrics_labels(b, m, s, NULL);
			evbuffer_add_printf(b, " %s\n",
			    metrics_fmt(s->value, num, sizeof(num)));
			continue;
		}
		for (cum = 0, k = 0; k <= m->nbounds; k++) {
			cum += s->buckets[k];
			evbuffer_add_printf(b, "%s_bucket", m->name);
			metrics_labels(b, m, s, k < m->nbounds ?
			    metrics_fmt(m->bounds[k], le, sizeof(le)) : "+Inf");
			evbuffer_add_printf(b, " %llu\n",
			    (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "%s_sum", m->name);
		metrics_labels(b, m, s, NULL);
		evbuffer_add_printf(b, " %s\n%s_count", metrics_fmt(s->value,
		    num, sizeof(num)), m->name);
		metrics_labels(b, m, s, NULL);
		evbuffer_add_printf(b, " %llu\n", (unsigned long long)s->count);
	}
}

static void
metrics_render_buf(struct metrics *reg, struct evbuffer *b)
{
	struct metric	*m;

	TAILQ_FOREACH(m, &reg->list, entry)
		metrics_render_one(b, m);
}

/* Take the buffer's text (NUL-terminated) and free the buffer. */
static char *
metrics_buf_text(struct evbuffer *b, size_t *len)
{
	char	*text;
	size_t	 n = evbuffer_get_length(b);

	text = xmalloc(n + 1);
	evbuffer_remove(b, text, n);
	text[n] = '\0';
	evbuffer_free(b);
	if (len != NULL)
		*len = n;
	return (text);
}

/* The text exposition format 0.0.4; caller frees. */
char *
metrics_render(struct metrics *reg, size_t *len)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	metrics_render_buf(reg, b);
	return (metrics_buf_text(b, len));
}

/* Register the daemon's metrics once. */
static void
metrics_daemon(void)
{
	struct metrics	*r;
	size_t		 i;
	const char	*v[2];

	if (metrics_d.reg != NULL)
		return;
	r = metrics_d.reg = metrics_new();
	metrics_d.envelopes = metrics_add(r, METRICS_COUNTER,
	    "incidentd_envelopes_total", "Socket Mode frames received, by "
	    "type (events_api, interactive, hello, disconnect, ...).", "type",
	    NULL, 0);
	metrics_d.acks = metrics_add(r, METRICS_COUNTER, "incidentd_acks_total",
	    "Socket Mode envelopes acknowledged.", NULL, NULL, 0);
	metrics_d.ack_seconds = metrics_add(r, METRICS_HISTOGRAM,
	    "incidentd_ack_seconds", "From an envelope's arrival to its ack, "
	    "which waits for the turn's commit.", NULL, metrics_ack_bounds,
	    sizeof(metrics_ack_bounds) / sizeof(metrics_ack_bounds[0]));
	metrics_d.ack_batches = metrics_add(r, METRICS_COUNTER,
	    "incidentd_ack_batches_total", "Batches of Socket Mode acks sent "
	    "together after one commit; acks_total over this is the envelopes "
	    "each commit covered.", NULL, NULL, 0);
	metrics_d.api_calls = metrics_add(r, METRICS_COUNTER,
	    "incidentd_api_calls_total", "Calls to Slack, Jira and PagerDuty "
	    "by outcome: the HTTP status class, or error when no answer came.",
	    "service,status", NULL, 0);
	metrics_d.api_seconds = metrics_add(r, METRICS_HISTOGRAM,
	    "incidentd_api_call_seconds", "Duration of calls to each service, "
	    "retries included.", "service", metrics_api_bounds,
	    sizeof(metrics_api_bounds) / sizeof(metrics_api_bounds[0]));
	metrics_d.commands = metrics_add(r, METRICS_COUNTER,
	    "incidentd_commands_total", "Chat commands run, by command.",
	    "command", NULL, 0);
	metrics_d.jobs_queued = metrics_add(r, METRICS_GAUGE,
	    "incidentd_jobs_queued", "Jobs waiting for their turn or due "
	    "time.", NULL, NULL, 0);
	metrics_d.jobs_running = metrics_add(r, METRICS_GAUGE,
	    "incidentd_jobs_running", "Jobs being worked on.", NULL, NULL, 0);
	metrics_d.jobs_ended = metrics_add(r, METRICS_COUNTER,
	    "incidentd_jobs_ended_total", "Jobs ended, by kind and outcome "
	    "(done or failed).", "kind,outcome", NULL, 0);
	metrics_d.store_bytes = metrics_add(r, METRICS_GAUGE,
	    "incidentd_store_bytes", "The LMDB store: bytes used, the map's "
	    "current size and its growth ceiling.", "kind", NULL, 0);
	metrics_d.store_commits = metrics_add(r, METRICS_COUNTER,
	    "incidentd_store_commits_total", "Store transactions committed.",
	    NULL, NULL, 0);
	metrics_d.socket_up = metrics_add(r, METRICS_GAUGE,
	    "incidentd_socket_connected", "1 while a Socket Mode connection "
	    "has said hello, else 0.", NULL, NULL, 0);
	metrics_d.poll_time = metrics_add(r, METRICS_GAUGE,
	    "incidentd_jira_last_poll_success_timestamp_seconds", "When the "
	    "Jira poller last succeeded (Unix time), 0 before its first "
	    "success.", NULL, NULL, 0);
	metrics_d.start_time = metrics_add(r, METRICS_GAUGE,
	    "incidentd_start_time_seconds", "When the daemon started (Unix "
	    "time).", NULL, NULL, 0);
	metrics_d.build = metrics_add(r, METRICS_GAUGE, "incidentd_build_info",
	    "Always 1; the version is a label.", "version", NULL, 0);
	metrics_set(metrics_d.build, (const char *[]){ PACKAGE_VERSION }, 1);
	metrics_d.pd_webhooks = metrics_add(r, METRICS_COUNTER,
	    "incidentd_pagerduty_webhooks_total", "PagerDuty webhook requests "
	    "by outcome (see pd-webhook.c).", "outcome", NULL, 0);
	for (i = 0; pd_webhook_outcomes[i] != NULL; i++)
		metrics_inc(metrics_d.pd_webhooks, &pd_webhook_outcomes[i], 0);
	metrics_d.refused = metrics_add(r, METRICS_COUNTER,
	    "incidentd_commands_refused_total", "Chat commands refused before "
	    "they ran: over the user's rate, the job backlog full, or not "
	    "allowed.", "reason", NULL, 0);
	for (i = 0; metrics_refusals[i] != NULL; i++)
		metrics_inc(metrics_d.refused, &metrics_refusals[i], 0);

	/* Known commands and job kinds show as 0 before their first use. */
	for (i = 0; cmd_table[i] != NULL; i++)
		metrics_inc(metrics_d.commands, &cmd_table[i]->name, 0);
	for (i = 0; jobs_kinds[i] != NULL; i++) {
		v[0] = jobs_kinds[i]->name;
		v[1] = "done";
		metrics_inc(metrics_d.jobs_ended, v, 0);
		v[1] = "failed";
		metrics_inc(metrics_d.jobs_ended, v, 0);
	}
}

/* A Socket Mode frame of this type arrived (slack-socket.c). */
void
metrics_envelope(const char *type)
{
	metrics_daemon();
	metrics_inc(metrics_d.envelopes, (const char *[]){ type != NULL ?
	    type : "none" }, 1);
}

/* An ack went out for an envelope that arrived at received (now_ms). */
void
metrics_ack(uint64_t received)
{
	uint64_t	now = now_ms();

	metrics_daemon();
	metrics_inc(metrics_d.acks, NULL, 1);
	metrics_observe(metrics_d.ack_seconds, NULL,
	    now > received ? (double)(now - received) / 1000 : 0);
}

/* A batch of acks went out together after one commit (slack-socket.c). */
void
metrics_ack_batch(void)
{
	metrics_daemon();
	metrics_inc(metrics_d.ack_batches, NULL, 1);
}

/* A service's call ended with res (slack.c, jira.c, pagerduty.c). */
void
metrics_api_call(const char *service, const struct http_response *res)
{
	char	status[8];

	metrics_daemon();
	if (res->status >= 100 && res->status <= 599)
		snprintf(status, sizeof(status), "%dxx", res->status / 100);
	else
		strlcpy(status, "error", sizeof(status));
	metrics_inc(metrics_d.api_calls, (const char *[]){ service, status },
	    1);
	metrics_observe(metrics_d.api_seconds, &service,
	    (double)res->elapsed_ms / 1000);
}

/* A chat command was found and is about to run (cmd.c). */
void
metrics_command(const char *name)
{
	metrics_daemon();
	metrics_inc(metrics_d.commands, &name, 1);
}

/* A chat command was refused before it ran, for reason (cmd.c). */
void
metrics_command_refused(const char *reason)
{
	metrics_daemon();
	metrics_inc(metrics_d.refused, &reason, 1);
}

/* A job ended; outcome is "done" or "failed" (jobs.c). */
void
metrics_job_ended(const char *kind, const char *outcome)
{
	metrics_daemon();
	metrics_inc(metrics_d.jobs_ended, (const char *[]){ kind, outcome },
	    1);
}

/* A PagerDuty webhook request was answered (pd-webhook.c). */
void
metrics_pd_webhook(const char *outcome)
{
	metrics_daemon();
	metrics_inc(metrics_d.pd_webhooks, &outcome, 1);
}

/* The Jira poller's pass succeeded at t (follow.c). */
void
metrics_poll_ok(time_t t)
{
	metrics_last_poll = t;
}

/* Read what other modules count, for a scrape. */
static void
metrics_scrape(void)
{
	struct store_size	sz;

	metrics_daemon();
	metrics_set(metrics_d.jobs_queued, NULL, jobs_queued());
	metrics_set(metrics_d.jobs_running, NULL, jobs_running());
	if (store != NULL && store_size(store, &sz) == 0) {
		metrics_set(metrics_d.store_bytes,
		    (const char *[]){ "used" }, (double)sz.used);
		metrics_set(metrics_d.store_bytes,
		    (const char *[]){ "map" }, (double)sz.map);
		metrics_set(metrics_d.store_bytes,
		    (const char *[]){ "max" }, (double)sz.max);
	}
	if (store != NULL)
		metrics_set(metrics_d.store_commits, NULL,
		    (double)store_commits(store));
	metrics_set(metrics_d.socket_up, NULL, socket_connected());
	metrics_set(metrics_d.poll_time, NULL, (double)metrics_last_poll);
	metrics_set(metrics_d.start_time, NULL, (double)metrics_started);
}

/* What GET /metrics answers; caller frees. */
char *
metrics_text(size_t *len)
{
	metrics_scrape();
	return (metrics_render(metrics_d.reg, len));
}

/*
 * Why the daemon is unhealthy, or NULL: Socket Mode not connected, or the
 * last good Jira poll (0: none yet, not judged) older than 3 poll
 * intervals and a minute. Caller frees.
 */
char *
metrics_health_why(int connected, time_t last_poll, long long interval,
    time_t now)
{
	long long	 limit = 3 * interval + METRICS_POLL_SLACK, age;
	char		*why;

	if (!connected)
		return (xstrdup("socket mode is not connected"));
	if (last_poll == 0 || (age = (long long)(now - last_poll)) <= limit)
		return (NULL);
	xasprintf(&why, "the last good jira poll was %lld s ago (limit %lld "
	    "s)", age, limit);
	return (why);
}

/* What GET /healthz says: NULL if healthy, else why (caller frees). */
char *
metrics_health(void)
{
	return (metrics_health_why(socket_connected(), metrics_last_poll,
	    cfg != NULL ? cfg->schedule.poll_interval : 0, now_wall()));
}

/* Check a metrics.listen value (config.c); 0 or -1 with *errstr. */
int
metrics_listen_check(const char *s, int *loopback, const char **errstr)
{
	return (listen_check(s, loopback, errstr));
}

/* At start: register, note the time, listen if metrics.listen is set. */
int
metrics_init(char **cause)
{
	static const struct listen_limits lim = { METRICS_MAX_HEADERS,
	    METRICS_MAX_BODY, METRICS_TIMEOUT_S };

	metrics_daemon();
	metrics_started = now_wall();
	metrics_listen = listen_new("metrics", "metrics.listen",
	    "/metrics and /healthz", &lim, metrics_http_cb, NULL);
	if (cfg->metrics.listen == NULL)
		return (0);
	return (listen_bind(metrics_listen, cfg->metrics.listen, cause));
}

/* After a reload: rebind if metrics.listen changed. */
void
metrics_reload(void)
{
	listen_reload(metrics_listen, cfg->metrics.listen);
}

/* Close the listener and its connections, free the registry. */
void
metrics_shutdown(void)
{
	listen_free(metrics_listen);
	metrics_listen = NULL;
	metrics_free(metrics_d.reg);
	memset(&metrics_d, 0, sizeof(metrics_d));
	metrics_last_poll = 0;
}

/* One request: answered at once from memory. */
static void
metrics_http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*path = NULL;
	char			*text, *why;
	size_t			 len;

	if (uri != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/healthz") != 0)) {
		metrics_reply(req, HTTP_NOTFOUND, "text/plain; charset=utf-8",
		    "not found\n", 10);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		metrics_reply(req, 405, "text/plain; charset=utf-8",
		    "method not allowed\n", 19);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		text = metrics_text(&len);
		metrics_reply(req, HTTP_OK, METRICS_CONTENT_TYPE, text, len);
		free(text);
		return;
	}
	if ((why = metrics_health()) == NULL) {
		metrics_reply(req, HTTP_OK, "text/plain; charset=utf-8",
		    "ok\n", 3);
		return;
	}
	len = xasprintf(&text, "%s\n", why);
	metrics_reply(req, 503, "text/plain; charset=utf-8", text, len);
	free(text);
	free(why);
}

/* Send the whole answer; HEAD gets its length and no body. */
static void
metrics_reply(struct evhttp_request *req, int code, const char *type,
    const char *body, size_t len)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*b;
	char			 n[32];

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(n, sizeof(n), "%zu", len);
		evhttp_add_header(h, "Content-Length", n);
		evhttp_send_reply(req, code, NULL, NULL);
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new failed", __func__);
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}
