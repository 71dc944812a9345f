/*
 * incident.c: incident records, kept as JSON in the store.
 *
 * One record per Jira key in STORE_INCIDENTS; STORE_CHANNELS maps an
 * incident channel back to its key so anything said there finds its
 * incident. Callers load, change and save within one callback: the save
 * joins the turn's transaction.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

/* The record for key, or NULL; the caller frees it with cJSON_Delete. */
cJSON *
incident_load(const char *key)
{
	cJSON	*j;

	if (store_get_json(store, STORE_INCIDENTS, key, &j) == EINVAL)
		log_warnx("incident %s: stored record is not JSON", key);
	return (j);
}

/* Store the record (and its channel mapping); 0 or a store error. */
int
incident_save(const cJSON *j)
{
	const char	*key, *channel;
	int		 rv;

	if ((key = json_str(j, "key")) == NULL)
		return (-1);
	rv = store_put_json(store, STORE_INCIDENTS, key, j);
	if (rv == 0 && (channel = json_str(j, "channel")) != NULL)
		rv = store_put(store, STORE_CHANNELS, channel, key,
		    strlen(key));
	if (rv != 0)
		log_warnx("incident %s: store: %s", key, store_strerror(rv));
	return (rv);
}

/*
 * Record channel (named name) as key's incident channel, creating the
 * record (summary, declared by user) if the ticket was opened outside
 * Slack. 0 or a store error.
 */
int
incident_set_channel(const char *key, const char *summary, const char *user,
    const char *channel, const char *name)
{
	cJSON	*inc;
	int	 rv;

	if ((inc = incident_load(key)) == NULL) {
		inc = cJSON_CreateObject();
		cJSON_AddStringToObject(inc, "key", key);
		cJSON_AddStringToObject(inc, "summary", summary != NULL ?
		    summary : "");
		cJSON_AddStringToObject(inc, "declared_by", user != NULL ?
		    user : "");
		cJSON_AddNumberToObject(inc, "declared_at", (double)now_wall());
	}
	cJSON_DeleteItemFromObject(inc, "channel");
	cJSON_AddStringToObject(inc, "channel", channel);
	cJSON_DeleteItemFromObject(inc, "channel_name");
	cJSON_AddStringToObject(inc, "channel_name", name);
	rv = incident_save(inc);
	cJSON_Delete(inc);
	return (rv);
}

/* The key of the incident that owns channel, or NULL. */
char *
incident_key_for_channel(const char *channel)
{
	char	*val;
	size_t	 len;

	if (store_get(store, STORE_CHANNELS, channel, &val, &len) != 0)
		return (NULL);
	return (val);
}

/*
 * Something about incident key changed (pd-watch.c stored a PagerDuty
 * event). The status module will update the pinned status message from
 * here; for now it is only logged.
 */
void
incident_changed(const char *key)
{
	log_debug("incident %s changed", key);
}
