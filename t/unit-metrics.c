/*
 * unit-metrics.c: metrics.c's text exposition format (escaping, number
 * formatting, histograms, the series cap), metrics.listen addresses, the
 * /healthz rule and the daemon's families as a scrape shows them.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incidentd.h"
#include "tap.h"

/* 1 if text has this exact line. */
static int
has_line(const char *text, const char *line)
{
	const char	*p = text;
	size_t		 len = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return (1);
		p += len;
	}
	return (0);
}

/* Escaping of HELP and label values, sorted series, a histogram. */
static void
test_render(void)
{
	static const double	 bounds[] = { 0.5, 1 };
	static const char	 want[] =
	    "# HELP t_requests_total Requests.\\nSecond line: a \\\\ and "
	    "a \" stay.\n"
	    "# TYPE t_requests_total counter\n"
	    "t_requests_total{path=\"/a\\\"b\",code=\"200\"} 3\n"
	    "t_requests_total{path=\"x\\\\y\\nz\",code=\"500\"} 1\n"
	    "# HELP t_temp A gauge.\n"
	    "# TYPE t_temp gauge\n"
	    "t_temp 0.1\n"
	    "# HELP t_seconds Latency.\n"
	    "# TYPE t_seconds histogram\n"
	    "t_seconds_bucket{svc=\"a\",le=\"0.5\"} 2\n"
	    "t_seconds_bucket{svc=\"a\",le=\"1\"} 3\n"
	    "t_seconds_bucket{svc=\"a\",le=\"+Inf\"} 4\n"
	    "t_seconds_sum{svc=\"a\"} 5.5\n"
	    "t_seconds_count{svc=\"a\"} 4\n"
	    "t_seconds_bucket{svc=\"b\",le=\"0.5\"} 0\n"
	    "t_seconds_bucket{svc=\"b\",le=\"1\"} 0\n"
	    "t_seconds_bucket{svc=\"b\",le=\"+Inf\"} 1\n"
	    "t_seconds_sum{svc=\"b\"} 2\n"
	    "t_seconds_count{svc=\"b\"} 1\n"
	    "# HELP t_plain A histogram without labels.\n"
	    "# TYPE t_plain histogram\n"
	    "t_plain_bucket{le=\"+Inf\"} 0\n"
	    "t_plain_sum 0\n"
	    "t_plain_count 0\n"
	    "# HELP t_unused Labelled, never set: no samples.\n"
	    "# TYPE t_unused counter\n";
	struct metrics	*reg;
	struct metric	*c, *g, *h;
	char		*text;
	size_t		 len;

	reg = metrics_new();
	c = metrics_add(reg, METRICS_COUNTER, "t_requests_total",
	    "Requests.\nSecond line: a \\ and a \" stay.", "path,code", NULL,
	    0);
	g = metrics_add(reg, METRICS_GAUGE, "t_temp", "A gauge.", NULL, NULL,
	    0);
	h = metrics_add(reg, METRICS_HISTOGRAM, "t_seconds", "Latency.", "svc",
	    bounds, 2);
	(void)metrics_add(reg, METRICS_HISTOGRAM, "t_plain",
	    "A histogram without labels.", NULL, NULL, 0);
	(void)metrics_add(reg, METRICS_COUNTER, "t_unused",
	    "Labelled, never set: no samples.", "x", NULL, 0);

	metrics_inc(c, (const char *[]){ "x\\y\nz", "500" }, 1);
	metrics_inc(c, (const char *[]){ "/a\"b", "200" }, 1);
	metrics_inc(c, (const char *[]){ "/a\"b", "200" }, 2);
	metrics_set(g, NULL, 0.1);
	/* Bounds are inclusive: 0.5 counts in le="0.5". */
	metrics_observe(h, (const char *[]){ "a" }, 0.25);
	metrics_observe(h, (const char *[]){ "a" }, 0.5);
	metrics_observe(h, (const char *[]){ "a" }, 0.75);
	metrics_observe(h, (const char *[]){ "a" }, 4);
	metrics_observe(h, (const char *[]){ "b" }, 2);

	text = metrics_render(reg, &len);
	is_str(text, want, "exposition text");
	is_int(len, strlen(want), "its length");
	free(text);
	metrics_free(reg);
	metrics_free(NULL);
	ok(1, "metrics_free(NULL)");
}

/* Numbers: shortest round trip, integers plain, +Inf, -Inf and NaN. */
static void
test_numbers(void)
{
	static const struct {
		double		 v;
		const char	*want;
	} t[] = {
		{ 0, "t_g 0" },
		{ 0.1, "t_g 0.1" },
		{ -2.5, "t_g -2.5" },
		{ 123456789012.0, "t_g 123456789012" },
		{ 1e21, "t_g 1e+21" },
		{ 1.0 / 3, "t_g 0.33333333333333331" },
	};
	struct metrics	*reg;
	struct metric	*g;
	char		*text;
	size_t		 i;

	reg = metrics_new();
	g = metrics_add(reg, METRICS_GAUGE, "t_g", "Numbers.", NULL, NULL, 0);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		metrics_set(g, NULL, t[i].v);
		text = metrics_render(reg, NULL);
		ok(has_line(text, t[i].want), t[i].want);
		free(text);
	}
	metrics_set(g, NULL, INFINITY);
	text = metrics_render(reg, NULL);
	ok(has_line(text, "t_g +Inf"), "+Inf");
	free(text);
	metrics_set(g, NULL, -INFINITY);
	text = metrics_render(reg, NULL);
	ok(has_line(text, "t_g -Inf"), "-Inf");
	free(text);
	metrics_set(g, NULL, NAN);
	text = metrics_render(reg, NULL);
	ok(has_line(text, "t_g NaN"), "NaN");
	free(text);
	metrics_free(reg);
}

/* Label values from outside: long ones cut, too many fold into other. */
static void
test_cap(void)
{
	struct metrics	*reg;
	struct metric	*c;
	char		*text, name[16], longv[300], *line;
	const char	*v[1];
	size_t		 i, n;
	const char	*p;

	reg = metrics_new();
	c = metrics_add(reg, METRICS_COUNTER, "t_types_total", "Types.",
	    "type", NULL, 0);
	for (i = 0; i < METRICS_MAX_SERIES + 6; i++) {
		snprintf(name, sizeof(name), "t%03zu", i);
		v[0] = name;
		metrics_inc(c, v, 1);
	}
	metrics_inc(c, (const char *[]){ "t000" }, 1);
	text = metrics_render(reg, NULL);
	for (n = 0, p = text; (p = strstr(p, "\nt_types_total{")) != NULL; p++)
		n++;
	is_int(n, METRICS_MAX_SERIES + 1, "at most the cap, and other");
	ok(has_line(text, "t_types_total{type=\"other\"} 6"),
	    "six past the cap counted as other");
	ok(has_line(text, "t_types_total{type=\"t000\"} 2"),
	    "a known series still counts");
	free(text);
	metrics_free(reg);

	reg = metrics_new();
	c = metrics_add(reg, METRICS_COUNTER, "t_long_total", "Long.", "v",
	    NULL, 0);
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	v[0] = longv;
	metrics_inc(c, v, 1);
	metrics_inc(c, v, 1);
	text = metrics_render(reg, NULL);
	xasprintf(&line, "t_long_total{v=\"%.128s\"} 2", longv);
	ok(has_line(text, line), "a long value is cut to 128 bytes, once");
	free(line);
	free(text);
	metrics_free(reg);
}

/* metrics.listen: what is an address, and what is loopback. */
static void
test_listen(void)
{
	static const struct {
		const char	*addr;
		int		 loopback;	/* -1: refused */
		const char	*why;
	} t[] = {
		{ "127.0.0.1:9464", 1, NULL },
		{ "127.8.9.10:1", 1, NULL },
		{ "[::1]:9464", 1, NULL },
		{ "[::ffff:127.0.0.1]:9464", 1, NULL },
		{ "localhost:9464", 1, NULL },
		{ "9464", 1, NULL },
		{ "0.0.0.0:9464", 0, NULL },
		{ "10.1.2.3:65535", 0, NULL },
		{ "[::]:9464", 0, NULL },
		{ ":9464", -1, "give the address too: 127.0.0.1:PORT, or "
		    "0.0.0.0:PORT for every interface" },
		{ "127.0.0.1:0", -1, "the port must be a number from 1 to "
		    "65535" },
		{ "127.0.0.1:65536", -1, "the port must be a number from 1 to "
		    "65535" },
		{ "127.0.0.1:94a", -1, "the port must be a number from 1 to "
		    "65535" },
		{ "127.0.0.1:+80", -1, "the port must be a number from 1 to "
		    "65535" },
		{ "127.0.0.1:", -1, "the port must be a number from 1 to "
		    "65535" },
		{ "example.com:9464", -1, NULL },
		{ "::1:9464", -1, NULL },
		{ "[::1]9464", -1, NULL },
		{ "[::1]", -1, NULL },
		{ "127.0.0.1", -1, NULL },
		{ "[localhost]:9464", -1, NULL },
		{ "", -1, NULL },
	};
	const char	*errstr;
	char		 label[128];
	size_t		 i;
	int		 loopback, rv;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		loopback = -1;
		errstr = NULL;
		rv = metrics_listen_check(t[i].addr, &loopback, &errstr);
		snprintf(label, sizeof(label), "listen '%s'", t[i].addr);
		if (t[i].loopback == -1) {
			is_int(rv, -1, label);
			is_str(errstr, t[i].why != NULL ? t[i].why : "must be "
			    "HOST:PORT with an IP address, like 127.0.0.1:9464 "
			    "or [::1]:9464", label);
		} else {
			is_int(rv, 0, label);
			is_int(loopback, t[i].loopback, label);
		}
	}
}

/* /healthz: connected, and a good Jira poll within 3 intervals + 60 s. */
static void
test_health(void)
{
	char	*why;

	why = metrics_health_why(0, 0, 300, 100000);
	is_str(why, "socket mode is not connected", "not connected");
	free(why);
	why = metrics_health_why(0, 100000, 300, 100000);
	is_str(why, "socket mode is not connected", "not connected, polled");
	free(why);
	why = metrics_health_why(1, 0, 300, 100000);
	ok(why == NULL, "connected, no poll yet: healthy");
	free(why);
	why = metrics_health_why(1, 100000 - 960, 300, 100000);
	ok(why == NULL, "poll exactly at the limit: healthy");
	free(why);
	why = metrics_health_why(1, 100000 - 961, 300, 100000);
	is_str(why, "the last good jira poll was 961 s ago (limit 960 s)",
	    "stale poll");
	free(why);
	why = metrics_health_why(1, 100010, 300, 100000);
	ok(why == NULL, "a poll in the future (clock step) is not stale");
	free(why);
}

/* The daemon's families, fed through the hooks. */
static void
test_daemon(void)
{
	struct http_response	 res;
	char			*text, *why;
	size_t			 len;

	metrics_envelope("hello");
	metrics_envelope("events_api");
	metrics_envelope("events_api");
	metrics_envelope(NULL);
	metrics_command("help");
	metrics_job_ended("reply", "done");
	metrics_poll_ok(1234);
	memset(&res, 0, sizeof(res));
	res.status = 200;
	res.elapsed_ms = 250;
	metrics_api_call("slack", &res);
	res.status = 429;
	metrics_api_call("slack", &res);
	res.status = 0;
	res.elapsed_ms = 90000;
	metrics_api_call("jira", &res);
	metrics_ack(now_ms());

	text = metrics_text(&len);
	is_int(len, strlen(text), "length");
	ok(has_line(text, "# TYPE incidentd_envelopes_total counter"),
	    "envelopes TYPE");
	ok(has_line(text, "incidentd_envelopes_total{type=\"events_api\"} 2"),
	    "envelopes by type");
	ok(has_line(text, "incidentd_envelopes_total{type=\"hello\"} 1"),
	    "hello counted");
	ok(has_line(text, "incidentd_envelopes_total{type=\"none\"} 1"),
	    "a frame without a type");
	ok(has_line(text, "incidentd_acks_total 1"), "acks");
	ok(has_line(text, "incidentd_ack_seconds_count 1"), "ack histogram");
	ok(has_line(text, "incidentd_commands_total{command=\"help\"} 1"),
	    "help counted");
	ok(has_line(text, "incidentd_commands_total{command=\"page list\"} 0"),
	    "other commands shown at 0");
	ok(has_line(text, "incidentd_api_calls_total{service=\"slack\","
	    "status=\"2xx\"} 1"), "slack 2xx");
	ok(has_line(text, "incidentd_api_calls_total{service=\"slack\","
	    "status=\"4xx\"} 1"), "slack 4xx");
	ok(has_line(text, "incidentd_api_calls_total{service=\"jira\","
	    "status=\"error\"} 1"), "jira transport error");
	ok(has_line(text, "incidentd_api_call_seconds_bucket{service=\"slack\","
	    "le=\"0.25\"} 2"), "durations in seconds, le inclusive");
	ok(has_line(text, "incidentd_api_call_seconds_bucket{service=\"jira\","
	    "le=\"60\"} 0"), "a 90 s call is past 60 s");
	ok(has_line(text, "incidentd_api_call_seconds_bucket{service=\"jira\","
	    "le=\"+Inf\"} 1"), "... and in +Inf");
	ok(has_line(text,
	    "incidentd_api_call_seconds_sum{service=\"jira\"} 90"),
	    "sum in seconds");
	ok(has_line(text, "incidentd_jobs_ended_total{kind=\"reply\","
	    "outcome=\"done\"} 1"), "job ended");
	ok(has_line(text, "incidentd_jobs_ended_total{kind=\"reply\","
	    "outcome=\"failed\"} 0"), "failed shown at 0");
	ok(has_line(text, "incidentd_jobs_queued 0"), "jobs queued");
	ok(has_line(text, "incidentd_jobs_running 0"), "jobs running");
	ok(has_line(text, "incidentd_socket_connected 0"), "not connected");
	ok(has_line(text,
	    "incidentd_jira_last_poll_success_timestamp_seconds 1234"),
	    "last poll");
	ok(has_line(text, "incidentd_build_info{version=\"" PACKAGE_VERSION
	    "\"} 1"), "build info");
	ok(strstr(text, "# TYPE incidentd_start_time_seconds gauge\n") != NULL,
	    "start time");
	free(text);

	why = metrics_health();
	is_str(why, "socket mode is not connected", "health without a socket");
	free(why);
	metrics_shutdown();
	text = metrics_text(NULL);
	ok(has_line(text, "incidentd_commands_total{command=\"help\"} 0"),
	    "shutdown forgets the counts");
	free(text);
	metrics_shutdown();
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "render", test_render },
	{ "numbers", test_numbers },
	{ "cap", test_cap },
	{ "listen", test_listen },
	{ "health", test_health },
	{ "daemon", test_daemon },
};

int
main(void)
{
	size_t	i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		printf("# %s\n", tests[i].name);
		tests[i].fn();
	}
	return (done_testing());
}
