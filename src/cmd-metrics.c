/*
 * cmd-metrics.c: "metrics [7d|30d|90d]".
 *
 * How incident response went over a window, from the event log (evlog.c)
 * alone: nothing here asks Jira or PagerDuty, so the answer survives
 * restarts, and anyone can recompute it from `dump` (databases.evlog).
 *
 *   incidents   "declared" entries in the window;
 *   pages       "page" entries in the window, and their targets that
 *               PagerDuty took, by target name;
 *   delays      from an incident's declaration (incidents declared in
 *               the window) to its incident manager's page (im_paged),
 *               its channel (channel_opened), the first acknowledgement
 *               (first_ack) and the first close (ticket_closed): median
 *               and p90, nearest rank (of n sorted values, the
 *               ceil(n/2)-th and the ceil(9n/10)-th);
 *   AARs        of the incidents whose first close is in the window, how
 *               many had an aar_held no later than metrics.aar_within
 *               after it;
 *   actions     action_closed entries in the window, and how many on
 *               time (before the end of their due date);
 *   time saved  each automated action in the window times
 *               metrics.manual_minutes for it: new_incident (declared),
 *               new_channel (channel_opened), page (each target
 *               PagerDuty took), timeline (timeline_sent), reminder
 *               (reminder_sent), archive (channel_archived), postmortem
 *               (postmortem_drafted).
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define MX_WINDOW_DEFAULT	(30 * 86400LL)
#define MX_WINDOW_MIN		86400LL
#define MX_WINDOW_MAX		(400 * 86400LL)

/* An automated action, what it is in the log, and its default minutes. */
struct mx_action {
	const char	*name;		/* metrics.manual_minutes key */
	const char	*type;		/* evlog type */
	const char	*label;
	long long	 minutes;
};

static const struct mx_action mx_actions[] = {
	{ "new_incident", EVLOG_DECLARED, "incidents declared", 5 },
	{ "new_channel", EVLOG_CHANNEL_OPENED, "channels opened", 3 },
	{ "page", EVLOG_PAGE, "targets paged", 4 },
	{ "timeline", EVLOG_TIMELINE_SENT, "timelines sent", 20 },
	{ "reminder", EVLOG_REMINDER_SENT, "reminders sent", 2 },
	{ "archive", EVLOG_CHANNEL_ARCHIVED, "channels archived", 1 },
	{ "postmortem", EVLOG_POSTMORTEM, "postmortems drafted", 30 },
};
#define MX_NACTIONS	(sizeof(mx_actions) / sizeof(mx_actions[0]))

/* The delays measured from a declaration, in this order. */
enum mx_delay {
	MX_IM = 0,
	MX_CHANNEL,
	MX_ACK,
	MX_CLOSE,
	MX_NDELAYS
};
static const char *const mx_delay_types[MX_NDELAYS] = {
	EVLOG_IM_PAGED, EVLOG_CHANNEL_OPENED, EVLOG_FIRST_ACK,
	EVLOG_TICKET_CLOSED
};
static const char *const mx_delay_labels[MX_NDELAYS] = {
	"incident manager paged", "channel", "first acknowledgement",
	"ticket closed"
};

/* What the log says of one incident. */
struct mx_incident {
	char	*key;
	time_t	 declared;		/* 0: not declared through us */
	time_t	 at[MX_NDELAYS];	/* first of each, 0: none */
	time_t	 aar;			/* latest AAR held */
};

struct mx_target {
	char	*name;
	long	 n;
};

struct mx_state {
	time_t			 since, now;
	struct mx_incident	*inc;
	size_t			 ninc;
	struct mx_target	*tgt;
	size_t			 ntgt;
	long			 count[MX_NACTIONS];
	long			 pages, page_failed;
	long			 actions, on_time;
};

static enum cmd_retval	 mx_exec(struct cmd_item *);

const struct cmd_entry cmd_metrics_entry = {
	.name = "metrics",
	.usage = "metrics [7d|30d|90d]",
	.help = "How incident response went over the last 30 days (or 7d, "
	    "90d): incidents, pages, how fast paging, channels, "
	    "acknowledgements and closes came, AARs, corrective actions, "
	    "and the time the bot saved.",
	.exec = mx_exec
};

/* 1 if s is an action of metrics.manual_minutes. */
int
cmd_metrics_action_valid(const char *s)
{
	size_t	i;

	for (i = 0; i < MX_NACTIONS; i++) {
		if (strcmp(mx_actions[i].name, s) == 0)
			return (1);
	}
	return (0);
}

/* The configured minutes for action (or its default). */
long long
cmd_metrics_minutes(const char *action)
{
	const char	*v;
	size_t		 i;

	if (cfg != NULL && (v = config_map_get(&cfg->metrics.manual_minutes,
	    action)) != NULL)
		return (strtoll(v, NULL, 10));
	for (i = 0; i < MX_NACTIONS; i++) {
		if (strcmp(mx_actions[i].name, action) == 0)
			return (mx_actions[i].minutes);
	}
	return (0);
}

static struct mx_incident *
mx_incident(struct mx_state *st, const char *key)
{
	size_t	i;

	for (i = 0; i < st->ninc; i++) {
		if (strcmp(st->inc[i].key, key) == 0)
			return (&st->inc[i]);
	}
	st->inc = xreallocarray(st->inc, st->ninc + 1, sizeof(*st->inc));
	memset(&st->inc[st->ninc], 0, sizeof(*st->inc));
	st->inc[st->ninc].key = xstrdup(key);
	return (&st->inc[st->ninc++]);
}

static void
mx_target_add(struct mx_state *st, const char *name)
{
	size_t	i;

	for (i = 0; i < st->ntgt; i++) {
		if (strcmp(st->tgt[i].name, name) == 0) {
			st->tgt[i].n++;
			return;
		}
	}
	st->tgt = xreallocarray(st->tgt, st->ntgt + 1, sizeof(*st->tgt));
	st->tgt[st->ntgt].name = xstrdup(name);
	st->tgt[st->ntgt++].n = 1;
}

static int
mx_in(const struct mx_state *st, time_t t)
{
	return (t >= st->since && t <= st->now);
}

/* One entry: into its incident, and the window's counts. */
static int
mx_entry_cb(const cJSON *e, void *arg)
{
	struct mx_state		*st = arg;
	struct mx_incident	*inc;
	const char		*type = json_str(e, "type");
	const char		*key = json_str(e, "incident");
	const cJSON		*t;
	time_t			 when = (time_t)json_num(e, "time", 0);
	size_t			 i;

	if (type == NULL || key == NULL)
		return (0);
	inc = mx_incident(st, key);
	if (strcmp(type, EVLOG_DECLARED) == 0)
		inc->declared = when;
	for (i = 0; i < MX_NDELAYS; i++) {
		if (strcmp(type, mx_delay_types[i]) == 0 &&
		    (inc->at[i] == 0 || when < inc->at[i]))
			inc->at[i] = when;
	}
	if (strcmp(type, EVLOG_AAR_HELD) == 0 && when > inc->aar)
		inc->aar = when;
	if (!mx_in(st, when))
		return (0);
	if (strcmp(type, EVLOG_ACTION_CLOSED) == 0) {
		st->actions++;
		if (json_bool(e, "detail.on_time"))
			st->on_time++;
	}
	for (i = 0; i < MX_NACTIONS; i++) {
		if (strcmp(type, mx_actions[i].type) != 0)
			continue;
		if (strcmp(type, EVLOG_PAGE) != 0) {
			st->count[i]++;
			continue;
		}
		st->pages++;
		cJSON_ArrayForEach(t, json_path(e, "detail.targets")) {
			if (json_str(t, "state") != NULL &&
			    strcmp(json_str(t, "state"), "done") == 0) {
				st->count[i]++;
				mx_target_add(st, json_str(t, "name") != NULL ?
				    json_str(t, "name") : "?");
			} else
				st->page_failed++;
		}
	}
	return (0);
}

static int
mx_cmp_cb(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

static int
mx_target_cmp_cb(const void *a, const void *b)
{
	const struct mx_target	*x = a, *y = b;

	if (x->n != y->n)
		return (x->n > y->n ? -1 : 1);
	return (strcmp(x->name, y->name));
}

/* "median 2m 00s, p90 5m 00s (3 incidents)", or "no data". */
static char *
mx_delay_text(const struct mx_state *st, enum mx_delay d)
{
	long long	*v;
	size_t		 i, n = 0;
	char		*med, *p90, *out;

	v = xreallocarray(NULL, st->ninc + 1, sizeof(*v));
	for (i = 0; i < st->ninc; i++) {
		if (st->inc[i].declared == 0 || !mx_in(st,
		    st->inc[i].declared) || st->inc[i].at[d] == 0)
			continue;
		v[n++] = (long long)(st->inc[i].at[d] - st->inc[i].declared);
	}
	if (n == 0) {
		free(v);
		return (xstrdup("no data"));
	}
	qsort(v, n, sizeof(*v), mx_cmp_cb);
	med = duration_short(v[(n + 1) / 2 - 1]);
	p90 = duration_short(v[(9 * n + 9) / 10 - 1]);
	xasprintf(&out, "median %s, p90 %s (%zu incident%s)", med, p90, n,
	    n == 1 ? "" : "s");
	free(med);
	free(p90);
	free(v);
	return (out);
}

/* The answer for the window ending at now; caller frees. */
char *
cmd_metrics_report(long long window, time_t now)
{
	struct mx_state	 st;
	struct strlist	 l = { NULL, 0 }, parts = { NULL, 0 };
	char		*when, *txt, *out, *tmp;
	long		 declared = 0, closed = 0, held = 0;
	long long	 mins, total = 0;
	size_t		 i;

	memset(&st, 0, sizeof(st));
	st.now = now;
	st.since = now - (time_t)window;
	if (evlog_foreach(NULL, NULL, mx_entry_cb, &st) != 0)
		return (xstrdup(":warning: I could not read the event log."));
	for (i = 0; i < st.ninc; i++) {
		if (st.inc[i].declared != 0 && mx_in(&st, st.inc[i].declared))
			declared++;
		if (st.inc[i].at[MX_CLOSE] != 0 && mx_in(&st,
		    st.inc[i].at[MX_CLOSE])) {
			closed++;
			if (st.inc[i].aar != 0 && st.inc[i].aar <=
			    st.inc[i].at[MX_CLOSE] +
			    (time_t)cfg->metrics.aar_within)
				held++;
		}
	}
	when = time_format_zone(st.since, cfg->timeline.timezone,
	    "%Y-%m-%d %H:%M %Z");
	strlist_addf(&l, ":bar_chart: *Incident metrics, last %lld day%s* "
	    "(since %s)", window / 86400, window / 86400 == 1 ? "" : "s",
	    when);
	free(when);
	strlist_addf(&l, "• Incidents declared: %ld", declared);
	if (st.ntgt > 0)	/* st.tgt is NULL then: qsort wants an array */
		qsort(st.tgt, st.ntgt, sizeof(*st.tgt), mx_target_cmp_cb);
	for (i = 0; i < st.ntgt; i++) {
		txt = slack_escape(st.tgt[i].name);
		strlist_addf(&parts, "%s %ld", txt, st.tgt[i].n);
		free(txt);
	}
	txt = strlist_join_words(&parts, "and");
	strlist_free(&parts);
	strlist_addf(&l, "• Pages: %ld, %ld target%s paged%s%s%s", st.pages,
	    st.count[2], st.count[2] == 1 ? "" : "s", st.ntgt > 0 ? " (" : "",
	    txt, st.ntgt > 0 ? ")" : "");
	free(txt);
	if (st.page_failed > 0)
		strlist_addf(&l, "      – %ld target%s could not be paged",
		    st.page_failed, st.page_failed == 1 ? "" : "s");
	for (i = 0; i < MX_NDELAYS; i++) {
		txt = mx_delay_text(&st, (enum mx_delay)i);
		strlist_addf(&l, "• Declared → %s: %s", mx_delay_labels[i],
		    txt);
		free(txt);
	}
	txt = duration_short(cfg->metrics.aar_within);
	strlist_addf(&l, "• AARs held within %s of the close: %ld of %ld "
	    "closed incident%s", txt, held, closed, closed == 1 ? "" : "s");
	free(txt);
	strlist_addf(&l, "• Corrective actions closed on time: %ld of %ld",
	    st.on_time, st.actions);
	for (i = 0; i < MX_NACTIONS; i++) {
		mins = cmd_metrics_minutes(mx_actions[i].name);
		total += mins * st.count[i];
		if (st.count[i] > 0)
			strlist_addf(&parts, "%s %ld × %lld min",
			    mx_actions[i].label, st.count[i], mins);
	}
	txt = strlist_join_words(&parts, "and");
	strlist_free(&parts);
	tmp = duration_short(total * 60);
	strlist_addf(&l, "• Time saved (estimate): %lld min (%s)%s%s", total,
	    tmp, parts.n == 0 && *txt == '\0' ? "" : ": ", txt);
	free(tmp);
	free(txt);

	out = strlist_join(&l, "\n");
	strlist_free(&l);
	for (i = 0; i < st.ninc; i++)
		free(st.inc[i].key);
	free(st.inc);
	for (i = 0; i < st.ntgt; i++)
		free(st.tgt[i].name);
	free(st.tgt);
	return (out);
}

static enum cmd_retval
mx_exec(struct cmd_item *item)
{
	long long	 window = MX_WINDOW_DEFAULT;
	const char	*errstr = NULL;
	char		*text;

	if (item->argc > 1 || (item->argc == 1 &&
	    (config_parse_duration(item->argv[0], &window, &errstr) != 0 ||
	    window < MX_WINDOW_MIN || window > MX_WINDOW_MAX))) {
		cmd_error(item, "Usage: `%s` (a window of 1d to 400d; 30d "
		    "when not given).", cmd_metrics_entry.usage);
		return (CMD_ERROR);
	}
	text = cmd_metrics_report(window, now_wall());
	cmd_reply(item, "%s", text);
	free(text);
	return (CMD_DONE);
}
