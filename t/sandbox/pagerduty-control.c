/*
 * pagerduty-control.c: the fake PagerDuty's control ops (POST
 * /control/pagerduty/<op>), listed with their bodies at the top of
 * fake-pagerduty.c: the account's set-up, and what its people and
 * PagerDuty itself do to incidents.
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

cJSON *
fpd_ctl_error(const char *fmt, ...)
{
	cJSON	*o;
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	o = cJSON_CreateObject();
	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", msg != NULL ? msg : "error");
	free(msg);
	return (o);
}

cJSON *
fpd_ctl_ok(const char *name, cJSON *item)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddTrueToObject(o, "ok");
	if (name != NULL)
		cJSON_AddItemToObject(o, name, item);
	return (o);
}

static int
fpd_valid_id(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > 14)
		return (0);
	for (i = 0; i < n; i++) {
		if (!isupper((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

static cJSON *
fpd_ctl_service(const cJSON *body)
{
	const char		*name, *id, *desc, *eps, *oncall;
	struct fpd_ep		*ep;
	struct fpd_user		*u;
	struct fpd_service	*s;
	char			 newid[16], epid[16], *epname;

	name = sb_json_str(body, "name");
	if (name == NULL || *name == '\0')
		return (fpd_ctl_error("name is required"));
	if (fpd_nservices >= FPD_MAX_SERVICES)
		return (fpd_ctl_error("too many services"));
	id = sb_json_str(body, "id");
	if (id != NULL && (!fpd_valid_id(id) || fpd_service_find(id) != NULL))
		return (fpd_ctl_error("id '%s' is invalid or taken", id));
	if (id == NULL) {
		do
			fpd_new_id("PS", newid, sizeof newid);
		while (fpd_service_find(newid) != NULL);
		id = newid;
	}
	desc = sb_json_str(body, "description");
	eps = sb_json_str(body, "escalation_policy");
	oncall = sb_json_str(body, "oncall");
	if (eps != NULL && oncall != NULL)
		return (fpd_ctl_error("give escalation_policy or oncall"));
	if (eps != NULL) {
		if ((ep = fpd_ep_find(eps)) == NULL)
			return (fpd_ctl_error("no escalation policy '%s'",
			    eps));
	} else if (oncall != NULL) {
		if ((u = fpd_user_find(oncall)) == NULL)
			return (fpd_ctl_error("no user '%s'", oncall));
		do
			fpd_new_id("PE", epid, sizeof epid);
		while (fpd_ep_find(epid) != NULL);
		sb_asprintf(&epname, "%s Escalation", name);
		ep = fpd_ep_add(epid, epname, &u, 1);
		free(epname);
	} else
		ep = fpd_eps[0];
	s = fpd_service_add(id, name, desc != NULL ? desc : "", ep);
	return (fpd_ctl_ok("service", fpd_service_json(s, 0)));
}

static cJSON *
fpd_ctl_user(const cJSON *body)
{
	const char	*name, *email, *id;
	char		 newid[16];

	name = sb_json_str(body, "name");
	email = sb_json_str(body, "email");
	id = sb_json_str(body, "id");
	if (name == NULL || *name == '\0' || email == NULL ||
	    !fpd_is_email(email))
		return (fpd_ctl_error("name and a valid email are required"));
	if (fpd_user_find(email) != NULL)
		return (fpd_ctl_error("email '%s' is taken", email));
	if (fpd_nusers >= FPD_MAX_USERS)
		return (fpd_ctl_error("too many users"));
	if (id != NULL && (!fpd_valid_id(id) || fpd_user_by_id(id) != NULL))
		return (fpd_ctl_error("id '%s' is invalid or taken", id));
	if (id == NULL) {
		do
			fpd_new_id("PU", newid, sizeof newid);
		while (fpd_user_by_id(newid) != NULL);
		id = newid;
	}
	return (fpd_ctl_ok("user", fpd_user_json(fpd_user_add(id, name,
	    email))));
}

static cJSON *
fpd_ctl_abilities(const cJSON *body)
{
	const cJSON	*v;
	int		 i;

	cJSON_ArrayForEach(v, body) {
		if (!cJSON_IsBool(v))
			return (fpd_ctl_error("%s: true or false", v->string));
	}
	cJSON_ArrayForEach(v, body) {
		for (i = cJSON_GetArraySize(fpd_abilities) - 1; i >= 0; i--) {
			if (strcmp(cJSON_GetArrayItem(fpd_abilities,
			    i)->valuestring, v->string) == 0)
				cJSON_DeleteItemFromArray(fpd_abilities, i);
		}
		if (cJSON_IsTrue(v))
			cJSON_AddItemToArray(fpd_abilities,
			    cJSON_CreateString(v->string));
	}
	return (fpd_ctl_ok("abilities", cJSON_Duplicate(fpd_abilities, 1)));
}

static cJSON *
fpd_ctl_incidents(void)
{
	struct fpd_incl	 inc;
	cJSON		*a, *o, *logs;
	const cJSON	*le;
	size_t		 i;

	memset(&inc, 0, sizeof inc);
	inc.conference_bridge = inc.body = 1;
	a = cJSON_CreateArray();
	for (i = 0; i < fpd_nincidents; i++) {
		o = fpd_incident_json(fpd_incidents[i], &inc);
		logs = cJSON_AddArrayToObject(o, "log_entries");
		cJSON_ArrayForEach(le, fpd_incidents[i]->logs)
			cJSON_AddItemToArray(logs, fpd_log_json(
			    fpd_incidents[i], le, NULL));
		if (fpd_get(o, "incidents_responders") == NULL) {
			cJSON *rs = cJSON_AddArrayToObject(o,
			    "incidents_responders");

			cJSON_ArrayForEach(le, fpd_incidents[i]->responders)
				cJSON_AddItemToArray(rs, fpd_responder_json(
				    fpd_incidents[i], le));
		}
		cJSON_AddItemToArray(a, o);
	}
	return (fpd_ctl_ok("incidents", a));
}

/* A requested responder answers: joined or declined. */
static cJSON *
fpd_ctl_respond(struct fpd_incident *in, struct fpd_user *u,
    const cJSON *body)
{
	const char	*state = sb_json_str(body, "state");
	cJSON		*rp;
	char		*summary;
	int		 found = 0;

	if (state == NULL || (strcmp(state, "joined") != 0 &&
	    strcmp(state, "declined") != 0))
		return (fpd_ctl_error("state: joined or declined"));
	cJSON_ArrayForEach(rp, in->responders) {
		if (strcmp(sb_json_str(rp, "user"), u->id) != 0 ||
		    strcmp(sb_json_str(rp, "state"), "pending") != 0)
			continue;
		cJSON_ReplaceItemInObjectCaseSensitive(rp, "state",
		    cJSON_CreateString(state));
		cJSON_ReplaceItemInObjectCaseSensitive(rp, "updated",
		    cJSON_CreateNumber((double)fpd_now()));
		fpd_webhook_responder(in, "incident.responder.replied", rp, u);
		found = 1;
	}
	if (!found)
		return (fpd_ctl_error("%s has no pending request", u->id));
	/* No log entry type of the spec is about responders. */
	sb_asprintf(&summary, "%s %s the responder request", u->name,
	    strcmp(state, "joined") == 0 ? "accepted" : "declined");
	fpd_log_add(in, "annotate_log_entry", u, "website", summary);
	free(summary);
	in->updated = fpd_now();
	return (NULL);
}

/* escalate: to "level", by default the next one. */
static cJSON *
fpd_ctl_escalate(struct fpd_incident *in, struct fpd_user *u,
    const cJSON *body)
{
	long long	level;

	level = sb_json_int(body, "level", in->level + 1);
	if (fpd_get(body, "level") == NULL &&
	    (size_t)in->level >= in->ep->nlevels)
		return (fpd_ctl_error("already at the last level (%d) of %s",
		    in->level, in->ep->id));
	if (level < 1 || (size_t)level > in->ep->nlevels)
		return (fpd_ctl_error("level: 1 to %zu", in->ep->nlevels));
	/* Direct assignments do not escalate up the policy by timeout. */
	if (u == NULL && !in->via_ep)
		return (fpd_ctl_error("assigned directly: PagerDuty does not "
		    "escalate it"));
	fpd_escalate(in, (int)level, u, "website");
	return (NULL);
}

/*
 * What people do in the PagerDuty app ("user", by id or email) and what
 * PagerDuty's timeouts do (no "user"): ack, resolve, respond, escalate,
 * reassign ("user" is the new assignee, "by" who hands it over), unack,
 * note.
 */
static cJSON *
fpd_ctl_act(const char *op, const cJSON *body)
{
	struct fpd_incident	*in;
	struct fpd_user		*u = NULL, *by;
	struct fpd_incl		 inc;
	const char		*s;
	cJSON			*err = NULL;

	s = sb_json_str(body, "id");
	if ((in = fpd_incident_find(s)) == NULL)
		return (fpd_ctl_error("no incident '%s'", s != NULL ? s : ""));
	s = sb_json_str(body, "user");
	if (s != NULL && (u = fpd_user_find(s)) == NULL)
		return (fpd_ctl_error("no user '%s'", s));
	if (u == NULL && strcmp(op, "escalate") != 0 &&
	    strcmp(op, "unack") != 0)
		return (fpd_ctl_error("%s: user is required", op));
	/* Notes are the one thing a resolved incident still takes. */
	if (strcmp(op, "note") != 0 && strcmp(in->status, "resolved") == 0)
		return (fpd_ctl_error("incident is resolved"));
	if (strcmp(op, "note") == 0) {
		s = sb_json_str(body, "content");
		if (s == NULL || *s == '\0')
			return (fpd_ctl_error("content is required"));
		if (fpd_note_add(in, u, s, "note") == NULL)
			return (fpd_ctl_error("too many notes"));
	} else if (strcmp(op, "ack") == 0)
		fpd_set_status(in, "acknowledged", u, "website");
	else if (strcmp(op, "resolve") == 0)
		fpd_set_status(in, "resolved", u, "website");
	else if (strcmp(op, "respond") == 0)
		err = fpd_ctl_respond(in, u, body);
	else if (strcmp(op, "escalate") == 0)
		err = fpd_ctl_escalate(in, u, body);
	else if (strcmp(op, "reassign") == 0) {
		s = sb_json_str(body, "by");
		if (s != NULL && (by = fpd_user_find(s)) == NULL)
			return (fpd_ctl_error("no user '%s'", s));
		if (s == NULL)
			by = in->nassign > 0 ? in->assign[0].user : u;
		fpd_reassign(in, u, by, "website");
	} else {
		if (strcmp(in->status, "acknowledged") != 0)
			return (fpd_ctl_error("incident is not acknowledged"));
		fpd_set_status(in, "triggered", u, "website");
	}
	if (err != NULL)
		return (err);
	memset(&inc, 0, sizeof inc);
	return (fpd_ctl_ok("incident", fpd_incident_json(in, &inc)));
}

cJSON *
fpd_control(const char *op, cJSON *body)
{
	long long	n;

	if (strcmp(op, "service") == 0)
		return (fpd_ctl_service(body));
	if (strcmp(op, "user") == 0)
		return (fpd_ctl_user(body));
	if (strcmp(op, "abilities") == 0)
		return (fpd_ctl_abilities(body));
	if (strcmp(op, "incidents") == 0)
		return (fpd_ctl_incidents());
	if (strcmp(op, "ack") == 0 || strcmp(op, "resolve") == 0 ||
	    strcmp(op, "respond") == 0 || strcmp(op, "escalate") == 0 ||
	    strcmp(op, "reassign") == 0 || strcmp(op, "unack") == 0 ||
	    strcmp(op, "note") == 0)
		return (fpd_ctl_act(op, body));
	if (strcmp(op, "ratelimit") == 0) {
		n = sb_json_int(body, "per_minute", -1);
		if (n < 1 || n > 1000000)
			return (fpd_ctl_error("per_minute: a number from 1"));
		fpd_per_minute = (int)n;
		free(fpd_windows[0].ts);
		free(fpd_windows[1].ts);
		memset(fpd_windows, 0, sizeof fpd_windows);
		return (fpd_ctl_ok("per_minute",
		    cJSON_CreateNumber((double)n)));
	}
	if (strcmp(op, "reset") == 0) {
		fpd_state_reset();
		return (fpd_ctl_ok(NULL, NULL));
	}
	return (fpd_webhook_control(op, body));
}
