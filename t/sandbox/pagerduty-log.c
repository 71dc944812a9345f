/*
 * pagerduty-log.c: an incident's log entries, as the fake PagerDuty
 * records them with every change and serves them, newest first.
 */
#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sandbox.h"
#include "pagerduty.h"

/* "user:PUSER01" or "service:PSVCIM" as stored in log entries. */
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

cJSON *
fpd_log_json(const struct fpd_incident *in, const cJSON *le)
{
	cJSON		*o, *a, *ch;
	const cJSON	*v, *w;
	const char	*id = sb_json_str(le, "id");
	char		 base[96], buf[256];
	struct fpd_user	*u;

	fpd_base(base, sizeof base);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", sb_json_str(le, "type"));
	cJSON_AddStringToObject(o, "summary", sb_json_str(le, "summary"));
	snprintf(buf, sizeof buf, "%s/log_entries/%s?incident_id=%s", base, id,
	    in->id);
	cJSON_AddStringToObject(o, "self", buf);
	snprintf(buf, sizeof buf, "%s/incidents/%s/log_entries/%s", base,
	    in->id, id);
	cJSON_AddStringToObject(o, "html_url", buf);
	cJSON_AddItemToObject(o, "created_at",
	    fpd_time_json((int64_t)fpd_get(le, "at")->valuedouble));
	cJSON_AddItemToObject(o, "agent",
	    fpd_agent_json(sb_json_str(le, "agent")));
	ch = cJSON_AddObjectToObject(o, "channel");
	cJSON_AddStringToObject(ch, "type", sb_json_str(le, "channel"));
	if ((v = fpd_get(le, "message")) != NULL)
		cJSON_AddStringToObject(ch, "summary", v->valuestring);
	cJSON_AddItemToObject(o, "incident", fpd_incident_ref(in));
	cJSON_AddArrayToObject(o, "teams");
	cJSON_AddArrayToObject(o, "contexts");
	if ((v = fpd_get(le, "assignees")) != NULL) {
		a = cJSON_AddArrayToObject(o, "assignees");
		cJSON_ArrayForEach(w, v) {
			if ((u = fpd_user_by_id(w->valuestring)) != NULL)
				cJSON_AddItemToArray(a, fpd_user_ref(u));
		}
	}
	if (strcmp(sb_json_str(le, "type"), "trigger_log_entry") == 0) {
		cJSON_AddStringToObject(cJSON_AddObjectToObject(o,
		    "event_details"), "description", in->title);
	}
	if (strcmp(sb_json_str(le, "type"), "acknowledge_log_entry") == 0)
		cJSON_AddNumberToObject(o, "acknowledgement_timeout", 1800);
	return (o);
}

void
fpd_log_add(struct fpd_incident *in, const char *type, const char *agent,
    const char *channel, const char *summary, cJSON *assignees,
    const char *message)
{
	cJSON	*le;
	char	 id[16], qid[32];

	fpd_new_id("Q", id, sizeof id);
	/* Log entry ids are long ("Q02JTSNZWHSEKV"). */
	snprintf(qid, sizeof qid, "%s%07lu", id, fpd_next_id % 10000000UL);
	le = cJSON_CreateObject();
	cJSON_AddStringToObject(le, "id", qid);
	cJSON_AddStringToObject(le, "type", type);
	cJSON_AddNumberToObject(le, "at", (double)fpd_now());
	cJSON_AddStringToObject(le, "agent", agent);
	cJSON_AddStringToObject(le, "channel", channel);
	cJSON_AddStringToObject(le, "summary", summary);
	if (assignees != NULL)
		cJSON_AddItemToObject(le, "assignees", assignees);
	if (message != NULL)
		cJSON_AddStringToObject(le, "message", message);
	cJSON_AddItemToArray(in->logs, le);
}

void
fpd_log_entries(struct fpd_ctx *c, struct fpd_incident *in)
{
	struct fpd_page	 pg;
	const cJSON	*le;
	const char	*s, *type;
	cJSON		*items;
	int64_t		 since = INT64_MIN, until = INT64_MAX, at;
	int		 overview, i;

	if (fpd_page_args(c, &pg) != 0 || fpd_param_bool(c, "is_overview",
	    &overview) != 0)
		return;
	if (((s = sb_param(c->r, "since")) != NULL &&
	    fpd_parse_time(s, &since) != 0) ||
	    ((s = sb_param(c->r, "until")) != NULL &&
	    fpd_parse_time(s, &until) != 0)) {
		fpd_error(c, 400, 2004, "Invalid time values in 'since' and/or "
		    "'until' parameters", NULL);
		return;
	}
	items = cJSON_CreateArray();
	/* Newest first. */
	for (i = cJSON_GetArraySize(in->logs) - 1; i >= 0; i--) {
		le = cJSON_GetArrayItem(in->logs, i);
		type = sb_json_str(le, "type");
		at = (int64_t)fpd_get(le, "at")->valuedouble;
		if (at < since || at >= until)
			continue;
		if (overview && strcmp(type, "trigger_log_entry") != 0 &&
		    strcmp(type, "acknowledge_log_entry") != 0 &&
		    strcmp(type, "resolve_log_entry") != 0 &&
		    strcmp(type, "escalate_log_entry") != 0 &&
		    strcmp(type, "reopen_log_entry") != 0 &&
		    strcmp(type, "urgency_change_log_entry") != 0)
			continue;
		cJSON_AddItemToArray(items, fpd_log_json(in, le));
	}
	fpd_reply(c, 200, fpd_page(&pg, "log_entries", items));
}
