/*
 * fuzz-jira.c: what Jira answers, from the raw HTTP response (parsed by
 * http.c, as read from the socket) to the result the callbacks get
 * (jira_response: status, error text from any JSON shape) and what is
 * read from it (the search's next page cursor, an issue key).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(jira)
{
	struct http_response	 res;
	struct http_req		*req;
	struct jira_result	 jr;
	cJSON			*json;
	const char		*key;
	char			*err, *next;

	harness_init();
	req = harness_response(data, size, &res);
	jira_response(&res, "GET", "/rest/api/2/search", &jr, &json, &err);
	if ((jr.status < 200 || jr.status > 299) && jr.error == NULL)
		harness_fail("jira: HTTP %d without an error", jr.status);
	next = jira_search_next(&jr);
	free(next);
	if ((key = json_str(jr.json, "key")) != NULL) {
		free(jira_parse_key(key));
		(void)jira_valid_key(key);
	}
	cJSON_Delete(json);
	free(err);
	http_parse_free(req);
	return (0);
}
