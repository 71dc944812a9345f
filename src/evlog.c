/*
 * evlog.c: the incident event log (STORE_EVLOG).
 *
 * Why a log of its own: the records that drive the lifecycle forget.
 * Pages and finished jobs expire (schedule.c), a follow record is
 * rewritten on every poll, an incident record keeps only the latest
 * state. "How long until the incident manager was paged, over the last
 * 90 days?" needs what happened and when, kept as it happened. So every
 * module that changes an incident also appends an entry here, in the same
 * turn (the same LMDB transaction) as the change it records: the log can
 * neither miss a committed change nor hold one that was rolled back.
 * `metrics` (cmd-metrics.c) is computed from this log alone, so its
 * answers survive restarts and can be recomputed from `dump`.
 *
 * An entry is keyed "<incident>/<type>" for what happens once per
 * incident, or "<incident>/<type>/<id>" when the detail carries a string
 * "id" (a page id, a corrective action's key, a close's number). Adding
 * an entry whose key exists changes nothing: a replayed turn, a resumed
 * job or a re-read ticket never counts twice, and for once-types the
 * first entry wins (the first acknowledgement, the first channel). The
 * incident is "-" for a page outside any incident. Records:
 *
 *	{ "incident", "type", "time", "detail": { ... } }
 *
 * The types, who appends them, and their details:
 *
 *   declared           cmd-new-incident.c  {"by"}
 *   im_paged           page.c: the incident manager's page reached
 *                      PagerDuty            {"page", "pd_incident"}
 *   page/<page id>     page.c: a page ended {"id", "im", "paged",
 *                      "failed", "targets": [{"name", "kind", "state"}]}
 *   channel_opened     cmd-new-channel.c   {"channel"}
 *   first_ack          the PagerDuty watcher: first acknowledgement
 *                      {"by", "pd_incident"}
 *   ticket_closed/<n>  follow.c: the poll saw the n-th close {"id"}
 *   ticket_reopened/<n> follow.c: ... the n-th reopen {"id"}
 *   aar_held/<seq>     follow.c: the AAR's date passed {"id", "aar"}
 *   action_closed/<KEY> follow.c: a corrective action is done
 *                      {"id", "due", "on_time"}
 *   reminder_sent/<job> follow.c: a reminder or AAR notice went out {"id"}
 *   channel_archived/<gen> follow.c {"id", "channel"}
 *   timeline_sent/<job> cmd-get-timeline.c {"id", "format"}
 *   postmortem_drafted  the postmortem drafter {"by"}
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define EVLOG_KEY_MAX	200

struct evlog_walk {
	const char	*type;
	int		(*cb)(const cJSON *, void *);
	void		*arg;
};

static int	evlog_walk_cb(const char *, const char *, size_t, void *);

/* Every type (see the top); an unknown one is a programming error. */
static const char *const evlog_types[] = {
	EVLOG_DECLARED, EVLOG_IM_PAGED, EVLOG_PAGE, EVLOG_CHANNEL_OPENED,
	EVLOG_FIRST_ACK, EVLOG_TICKET_CLOSED, EVLOG_TICKET_REOPENED,
	EVLOG_AAR_HELD, EVLOG_ACTION_CLOSED, EVLOG_REMINDER_SENT,
	EVLOG_CHANNEL_ARCHIVED, EVLOG_TIMELINE_SENT, EVLOG_POSTMORTEM,
	NULL
};

/* 1 if type is one of the log's types. */
int
evlog_type_valid(const char *type)
{
	size_t	i;

	for (i = 0; type != NULL && evlog_types[i] != NULL; i++) {
		if (strcmp(evlog_types[i], type) == 0)
			return (1);
	}
	return (0);
}

/*
 * Append an entry for incident key (NULL: no incident) in this turn;
 * detail (consumed, may be NULL) with a string "id" makes the type
 * repeatable per id. 1 if added, 0 if it was there already, -1 if the
 * store refused it.
 */
int
evlog_add(const char *key, const char *type, time_t when, cJSON *detail)
{
	const char	*id = json_str(detail, "id");
	char		*skey, *old;
	size_t		 len;
	cJSON		*rec;
	int		 rv;

	if (!evlog_type_valid(type))
		fatalx("%s: unknown event type %s", __func__, type);
	if (key == NULL || *key == '\0')
		key = "-";
	if (id != NULL)
		xasprintf(&skey, "%s/%s/%s", key, type, id);
	else
		xasprintf(&skey, "%s/%s", key, type);
	if (strlen(skey) > EVLOG_KEY_MAX) {
		log_warnx("evlog %s: key too long; not recorded", skey);
		rv = -1;
		goto out;
	}
	if (store_get(store, STORE_EVLOG, skey, &old, &len) == 0) {
		free(old);
		rv = 0;
		goto out;
	}
	rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "incident", key);
	cJSON_AddStringToObject(rec, "type", type);
	cJSON_AddNumberToObject(rec, "time", (double)when);
	cJSON_AddItemToObject(rec, "detail", detail != NULL ? detail :
	    cJSON_CreateObject());
	detail = NULL;
	if ((rv = store_put_json(store, STORE_EVLOG, skey, rec)) != 0) {
		log_warnx("evlog %s: store: %s", skey, store_strerror(rv));
		rv = -1;
	} else {
		log_debug("evlog %s at %lld", skey, (long long)when);
		rv = 1;
	}
	cJSON_Delete(rec);
out:
	cJSON_Delete(detail);
	free(skey);
	return (rv);
}

/* The same, with detail {"id": id}. */
int
evlog_add_id(const char *key, const char *type, time_t when, const char *id)
{
	cJSON	*d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "id", id);
	return (evlog_add(key, type, when, d));
}

static int
evlog_walk_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct evlog_walk	*w = arg;
	cJSON			*rec;
	const char		*type;
	int			 stop = 0;

	if ((rec = cJSON_ParseWithLength(val, len)) == NULL) {
		log_warnx("evlog %s: not JSON; skipped", key);
		return (0);
	}
	type = json_str(rec, "type");
	if (type != NULL && (w->type == NULL || strcmp(type, w->type) == 0))
		stop = w->cb(rec, w->arg);
	cJSON_Delete(rec);
	return (stop);
}

/*
 * Visit the entries of incident key (NULL: every incident) of type (NULL:
 * all), in key order; cb returns nonzero to stop. 0 or a store error.
 */
int
evlog_foreach(const char *key, const char *type,
    int (*cb)(const cJSON *, void *), void *arg)
{
	struct evlog_walk	 w = { type, cb, arg };
	char			*prefix;
	int			 rv;

	if (key != NULL)
		xasprintf(&prefix, "%s/", key);
	else
		prefix = xstrdup("");
	rv = store_foreach(store, STORE_EVLOG, prefix, evlog_walk_cb, &w);
	free(prefix);
	return (rv == STORE_NOTFOUND ? 0 : rv);
}

static int
evlog_count_cb(const cJSON *e, void *arg)
{
	(*(size_t *)arg)++;
	return (0);
}

/* How many entries of type there are (for the /metrics counters). */
size_t
evlog_count(const char *type)
{
	size_t	n = 0;

	(void)evlog_foreach(NULL, type, evlog_count_cb, &n);
	return (n);
}
