/*
 * fuzz-pd.c: what PagerDuty answers, from the raw HTTP response (parsed
 * by http.c) to the result the callbacks get (pd_response: rate-limit
 * headers, Retry-After, error text and code from any JSON shape).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"
#include "harness.h"

FUZZ_TARGET(pd)
{
	struct http_response	 res;
	struct http_req		*req;
	struct pd_result	 pr;
	cJSON			*json;
	char			*err;

	harness_init();
	req = harness_response(data, size, &res);
	pd_response(&res, "GET", "/incidents", &pr, &json, &err);
	if ((pr.status < 200 || pr.status > 299) && pr.error == NULL)
		harness_fail("pd: HTTP %d without an error", pr.status);
	if (pr.retry_after_ms < -1)
		harness_fail("pd: Retry-After %lld ms", pr.retry_after_ms);
	cJSON_Delete(json);
	free(err);
	http_parse_free(req);
	return (0);
}
