/*
 * fuzz-interactive.c: interactive payloads (block_actions clicks,
 * view_submission modals) through the real routing: the input is the
 * payload, wrapped in an "interactive" envelope and injected as a
 * Socket Mode frame (socket_inject), so cmd_click and cmd_submit see it
 * as they would from Slack.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(interactive)
{
	cJSON	*payload, *env;
	char	*s;

	harness_init();
	payload = cJSON_ParseWithLength((const char *)data, size);
	if (payload == NULL)
		return (0);
	env = cJSON_CreateObject();
	cJSON_AddStringToObject(env, "envelope_id", "fuzz-interactive");
	cJSON_AddStringToObject(env, "type", "interactive");
	cJSON_AddItemToObject(env, "payload", payload);
	s = json_print(env);
	cJSON_Delete(env);
	socket_inject(s, strlen(s));
	free(s);
	harness_turn();
	return (0);
}
