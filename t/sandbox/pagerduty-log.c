/*
 * pagerduty-log.c: an incident's log entries, as the fake PagerDuty
 * records them with every change and serves them.
 *
 * The types are the documented ones (the LogEntry schema of the REST
 * spec): trigger, assign, escalate, delegate, notify, acknowledge,
 * unacknowledge, resolve, annotate, urgency_change; plus the fake's
 * reopen_log_entry. Lists come newest first, as PagerDuty serves them,
 * with classic pagination, since/until, is_overview, time_zone and the
 * include[] the spec names (incidents, services, channels, teams).
 */
#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sandbox.h"
#include "pagerduty.h"

/* One entry of a listing. */
struct fpd_log_ref {
	const struct fpd_incident	*in;
	const cJSON			*le;
	int64_t				 at;
	double				 seq;
};

/* Orders entries across incidents; never reset, like the ids. */
static double	fpd_log_seq;

/* The entries is_overview=true keeps: the incident's main changes. */
static const char *fpd_overview_types[] = {
	"trigger_log_entry", "acknowledge_log_entry",
	"unacknowledge_log_entry", "resolve_log_entry", "escalate_log_entry",
	"delegate_log_entry", "reopen_log_entry", "urgency_change_log_entry"
};

/* Recorded as "user:PUSER01" or "service:PSVCIM"; absent: no agent. */
static cJSON *
fpd_agent_json(const char *agent)
{
	struct fpd_user		*u;
	struct fpd_service	*s;

	if (strncmp(agent, "user:", 5) == 0 &&
	    (u = fpd_user_by_id(agent + 5)) != NULL)
		return (fpd_user_ref(u));
	if (strncmp(agent, "service:", 8) == 0 &&
	    (s = fpd_service_find(agent + 8)) != NULL)
		return (fpd_service_ref(s));
	return (cJSON_CreateNull());
}

static int64_t
fpd_log_at(const cJSON *le)
{
	return ((int64_t)fpd_get(le, "at")->valuedouble);
}

/* An entry as the API shows it; inc NULL: nothing included. */
cJSON *
fpd_log_json(const struct fpd_incident *in, const cJSON *le,
    const struct fpd_log_incl *inc)
{
	static const struct fpd_incl	 none;
	cJSON				*o, *a, *ch, *n;
	const cJSON			*v, *w;
	const char			*id = sb_json_str(le, "id");
	const char			*type = sb_json_str(le, "type");
	char				 base[96], buf[256];
	struct fpd_user			*u;

	fpd_base(base, sizeof base);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "summary", sb_json_str(le, "summary"));
	snprintf(buf, sizeof buf, "%s/log_entries/%s?incident_id=%s", base, id,
	    in->id);
	cJSON_AddStringToObject(o, "self", buf);
	snprintf(buf, sizeof buf, "%s/incidents/%s/log_entries/%s", base,
	    in->id, id);
	cJSON_AddStringToObject(o, "html_url", buf);
	cJSON_AddItemToObject(o, "created_at", fpd_time_json(fpd_log_at(le)));
	if ((v = fpd_get(le, "agent")) != NULL)
		cJSON_AddItemToObject(o, "agent",
		    fpd_agent_json(v->valuestring));
	ch = cJSON_AddObjectToObject(o, "channel");
	cJSON_AddStringToObject(ch, "type", sb_json_str(le, "channel"));
	if ((v = fpd_get(le, "message")) != NULL)
		cJSON_AddStringToObject(ch, "summary", v->valuestring);
	u = fpd_user_by_id(sb_json_str(le, "user"));
	if (u != NULL) {
		/* notify_log_entry: how the user was reached. */
		n = cJSON_AddObjectToObject(ch, "notification");
		cJSON_AddStringToObject(n, "type", "email");
		cJSON_AddStringToObject(n, "address", u->email);
		cJSON_AddStringToObject(n, "status", "success");
		cJSON_AddItemToObject(o, "user", fpd_user_ref(u));
	}
	if (inc != NULL && inc->channels &&
	    strcmp(type, "trigger_log_entry") == 0) {
		fpd_add_str(ch, "details", in->details);
	}
	cJSON_AddItemToObject(o, "service", inc != NULL && inc->services ?
	    fpd_service_json(in->svc, 0) : fpd_service_ref(in->svc));
	cJSON_AddItemToObject(o, "incident", inc != NULL && inc->incidents ?
	    fpd_incident_json(in, &none) : fpd_incident_ref(in));
	cJSON_AddArrayToObject(o, "teams");
	cJSON_AddArrayToObject(o, "contexts");
	if ((v = fpd_get(le, "assignees")) != NULL) {
		a = cJSON_AddArrayToObject(o, "assignees");
		cJSON_ArrayForEach(w, v) {
			if ((u = fpd_user_by_id(w->valuestring)) != NULL)
				cJSON_AddItemToArray(a, fpd_user_ref(u));
		}
	}
	if (strcmp(type, "trigger_log_entry") == 0) {
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
		    "event_details"), "description", in->title);
	}
	if (strcmp(type, "acknowledge_log_entry") == 0)
		cJSON_AddNumberToObject(o, "acknowledgement_timeout",
		    FPD_ACK_TIMEOUT_S);
	return (o);
}

/* A new entry, oldest first in in->logs; agent NULL: none at all. */
static cJSON *
fpd_log_new(struct fpd_incident *in, const char *type, const char *agent,
    const char *channel, const char *summary)
{
	cJSON	*le;
	char	 id[16], qid[32];

	fpd_new_id("Q", id, sizeof id);
	/* Log entry ids are long ("Q02JTSNZWHSEKV"). */
	snprintf(qid, sizeof qid, "%s%07lu", id, fpd_next_id % 10000000UL);
	le = cJSON_CreateObject();
	cJSON_AddStringToObject(le, "id", qid);
	cJSON_AddNumberToObject(le, "seq", ++fpd_log_seq);
	cJSON_AddStringToObject(le, "type", type);
	cJSON_AddNumberToObject(le, "at", (double)fpd_now());
	if (agent != NULL)
		cJSON_AddStringToObject(le, "agent", agent);
	cJSON_AddStringToObject(le, "channel", channel);
	cJSON_AddStringToObject(le, "summary", summary);
	cJSON_AddItemToArray(in->logs, le);
	return (le);
}

cJSON *
fpd_log_add(struct fpd_incident *in, const char *type,
    const struct fpd_user *by, const char *channel, const char *summary)
{
	char	agent[64];

	if (by != NULL)
		snprintf(agent, sizeof agent, "user:%s", by->id);
	else
		snprintf(agent, sizeof agent, "service:%s", in->svc->id);
	return (fpd_log_new(in, type, agent, channel, summary));
}

void
fpd_log_assignees(cJSON *le, struct fpd_user **users, size_t n)
{
	cJSON	*a;
	size_t	 i;

	a = cJSON_AddArrayToObject(le, "assignees");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(users[i]->id));
}

void
fpd_log_message(cJSON *le, const char *message)
{
	cJSON_AddStringToObject(le, "message", message);
}

/* Notification entries have no agent; their channel says how. */
void
fpd_log_notify(struct fpd_incident *in, struct fpd_user *u)
{
	char	*summary;

	sb_asprintf(&summary, "Notified %s by email", u->name);
	cJSON_AddStringToObject(fpd_log_new(in, "notify_log_entry", NULL,
	    "auto", summary), "user", u->id);
	free(summary);
}

/* Newest first; entries of the same millisecond in the reverse order
 * they were made. */
static int
fpd_log_cmp(const void *a, const void *b)
{
	const struct fpd_log_ref	*x = a, *y = b;

	if (x->at != y->at)
		return (x->at < y->at ? 1 : -1);
	return (x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0);
}

static int
fpd_overview(const char *type)
{
	size_t	i;

	for (i = 0; i < sizeof fpd_overview_types /
	    sizeof fpd_overview_types[0]; i++) {
		if (strcmp(type, fpd_overview_types[i]) == 0)
			return (1);
	}
	return (0);
}

/* include[] as the spec's enum has it; 0, or -1 after answering. */
static int
fpd_log_incl_parse(struct fpd_ctx *c, struct fpd_log_incl *inc)
{
	const char	*v;
	int		 n;

	memset(inc, 0, sizeof *inc);
	for (n = 0; (v = sb_param_n(c->r, "include[]", n)) != NULL; n++) {
		if (strcmp(v, "incidents") == 0)
			inc->incidents = 1;
		else if (strcmp(v, "services") == 0)
			inc->services = 1;
		else if (strcmp(v, "channels") == 0)
			inc->channels = 1;
		else if (strcmp(v, "teams") != 0) {
			fpd_invalid(c, "Include must be one of incidents, "
			    "services, channels or teams");
			return (-1);
		}
	}
	return (0);
}

/* Every entry of the incident (or of them all) in [since, until). */
static struct fpd_log_ref *
fpd_log_collect(struct fpd_incident *in, int64_t since, int64_t until,
    int overview, size_t *np)
{
	struct fpd_log_ref	*v = NULL;
	const cJSON		*le;
	size_t			 i, n = 0;

	for (i = 0; i < fpd_nincidents; i++) {
		if (in != NULL && fpd_incidents[i] != in)
			continue;
		cJSON_ArrayForEach(le, fpd_incidents[i]->logs) {
			if (fpd_log_at(le) < since || fpd_log_at(le) >= until ||
			    (overview && !fpd_overview(sb_json_str(le,
			    "type"))))
				continue;
			v = sb_realloc(v, n + 1, sizeof *v);
			v[n].in = fpd_incidents[i];
			v[n].le = le;
			v[n].at = fpd_log_at(le);
			v[n].seq = fpd_get(le, "seq")->valuedouble;
			n++;
		}
	}
	if (n > 0)
		qsort(v, n, sizeof *v, fpd_log_cmp);
	*np = n;
	return (v);
}

void
fpd_log_entries(struct fpd_ctx *c, struct fpd_incident *in)
{
	struct fpd_page		 pg;
	struct fpd_log_incl	 inc;
	struct fpd_log_ref	*v;
	const char		*s;
	cJSON			*items;
	int64_t			 since = INT64_MIN, until = INT64_MAX;
	size_t			 i, n;
	int			 overview;

	if (fpd_page_args(c, &pg) != 0 || fpd_param_bool(c, "is_overview",
	    &overview) != 0 || fpd_log_incl_parse(c, &inc) != 0)
		return;
	if (((s = sb_param(c->r, "since")) != NULL &&
	    fpd_parse_time(s, &since) != 0) ||
	    ((s = sb_param(c->r, "until")) != NULL &&
	    fpd_parse_time(s, &until) != 0)) {
		fpd_error(c, 400, 2004, "Invalid time values in 'since' and/or "
		    "'until' parameters", NULL);
		return;
	}
	if (in == NULL && sb_param_n(c->r, "team_ids[]", 0) != NULL &&
	    !fpd_has_ability("teams")) {
		fpd_error(c, 402, 2014, "Missing Account Ability", NULL);
		return;
	}
	if (fpd_zone_begin(c) != 0)
		return;
	v = fpd_log_collect(in, since, until, overview, &n);
	/* The fake's incidents belong to no team. */
	if (in == NULL && sb_param_n(c->r, "team_ids[]", 0) != NULL)
		n = 0;
	items = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(items, fpd_log_json(v[i].in, v[i].le,
		    &inc));
	free(v);
	fpd_reply(c, 200, fpd_page(&pg, "log_entries", items));
	fpd_zone_end();
}

void
fpd_log_entry(struct fpd_ctx *c, const char *id)
{
	struct fpd_log_incl	 inc;
	const cJSON		*le;
	size_t			 i;

	if (fpd_log_incl_parse(c, &inc) != 0)
		return;
	for (i = 0; i < fpd_nincidents; i++) {
		cJSON_ArrayForEach(le, fpd_incidents[i]->logs) {
			if (strcmp(sb_json_str(le, "id"), id) != 0)
				continue;
			if (fpd_zone_begin(c) != 0)
				return;
			fpd_reply(c, 200, fpd_json_wrap("log_entry",
			    fpd_log_json(fpd_incidents[i], le, &inc)));
			fpd_zone_end();
			return;
		}
	}
	fpd_not_found(c);
}
