/*
 * fake-pagerduty.c: a stateful, strict fake of the PagerDuty REST API v2.
 *
 * Auth is exactly "Authorization: Token token=<pd token>"; POST /incidents
 * and PUT /incidents/{id} need a "From" header naming a user's email. Every
 * answer carries ratelimit-limit/-remaining/-reset from a sliding 60 s
 * window per key (960 by default); over it, 429 with code 2020. Error
 * bodies are {"error":{"message","code","errors":[...]}} as documented.
 *
 * Served: GET /services[/{id}], /users[/{id}], /escalation_policies[/{id}],
 * /abilities[/{name}], /oncalls, /incidents; POST /incidents; GET and PUT
 * /incidents/{id} (include[] assignees, acknowledgers, users, agents,
 * services, escalation_policies, conference_bridge, body,
 * first_trigger_log_entries); POST /incidents/{id}/responder_requests;
 * GET and POST /incidents/{id}/notes;
 * GET /incidents/{id}/log_entries, /log_entries and /log_entries/{id}
 * (pagerduty-log.c). Incidents show pending_actions for the policy's
 * escalation, the acknowledgement timeout and auto-resolve, but the fake
 * never acts on them: tests do, with escalate and unack below. Every
 * change is also a v3 webhook to the subscriptions the webhook op made
 * (pagerduty-webhooks.c).
 *
 * Seed: users PUSER01 alice@example.com, PUSER02 bob@example.com, PUSER03
 * dave@example.com; services PSVCIM "Incident Manager", PSVCDB "Database",
 * PSVCAPI "API Gateway", PSVCNET "Network", each with an escalation policy
 * whose levels target users directly; the coordinated_responding ability.
 *
 * Control ops (POST /control/pagerduty/<op>, JSON body; answers {"ok":...};
 * GET with query parameters for the ones that only read):
 *   service    {"name", "id", "description", "escalation_policy": EP id,
 *               "oncall": user id or email (a new one-level policy)}
 *               -> {"ok":true,"service":{...}}
 *   user       {"name", "email", "id"} -> {"ok":true,"user":{...}}
 *   abilities  {"<ability>":true|false, ...} -> {"ok":true,"abilities":[..]}
 *   incidents  {} -> {"ok":true,"incidents":[every incident with body,
 *               conference_bridge, responders, responder requests and
 *               "log_entries"]}
 * What people do in the PagerDuty app ("user", id or email; channel
 * "website") and what PagerDuty's timeouts do (no "user"); each answers
 * {"ok":true,"incident":{...}} (pagerduty-control.c):
 *   ack        {"id" (id or number), "user"} -> acknowledge_log_entry
 *   resolve    {"id", "user"} -> resolve_log_entry
 *   respond    {"id", "user", "state":"joined"|"declined"} -> a requested
 *               responder answers; annotate_log_entry (the spec has no
 *               responder entry type); incident.responder.replied
 *   escalate   {"id", "level"? (default: the next), "user"? (who; none:
 *               the escalation timeout)} -> escalate_log_entry, then
 *               assign_log_entry and notify_log_entry for the level's user;
 *               an acknowledged incident is triggered again
 *   reassign   {"id", "user" (the new assignee), "by"? (default: the
 *               assignee now)} -> assign_log_entry, notify_log_entry; the
 *               incident is triggered again, assigned directly
 *   unack      {"id", "user"?} -> the acknowledgement timed out (or was
 *               undone): triggered again, unacknowledge_log_entry, and the
 *               assignees are notified again
 *   note       {"id", "user", "content"} -> a note, as POST .../notes
 *               makes: annotate_log_entry; incident.annotated
 * v3 webhooks (pagerduty-webhooks.c):
 *   webhook    {"url" (http://127.0.0.1:PORT/...), "secret" or "secrets":
 *               [...] (each signs: rotation; none: one is made), "events"?:
 *               [types], "id"? (change that subscription and enable it
 *               again)} -> {"ok":true,"webhook_subscription":{...,
 *               "secrets":[...]}}
 *   webhook_send {"subscription"?, "incident"? (default: the newest),
 *               "event_type"?, "body"? (a string: raw; an object: fields
 *               of the event, or a whole {"event":...}), "occurred_at"?,
 *               "signature"? ("bad", "none", or the header's value),
 *               "duplicate_of"? (an event id: that delivery again)}
 *               -> {"ok":true,"deliveries":[{"seq","subscription",
 *               "webhook_id","event_id"}]}
 *   webhooks   {"since"?: seq, "subscription"?} -> {"ok":true,
 *               "subscriptions":[...],"deliveries":[{"seq","subscription",
 *               "url","webhook_id","event_id","event_type","incident",
 *               "state" (queued, sending, retrying, delivered, dropped,
 *               not_sent),"reason","attempts","status" (the receiver's
 *               last HTTP status),"forged","signature","duplicate_of",
 *               "body","tries":[{"at","status","error","response"}]}],
 *               "next"}
 *   ratelimit  {"per_minute":N} -> budget per key and minute (N > 0)
 *   reset      {} -> back to the seed state, without webhooks
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <cjson/cJSON.h>

#include "sandbox.h"
#include "pagerduty.h"

struct fpd_user		**fpd_users;
size_t			  fpd_nusers;
struct fpd_ep		**fpd_eps;
size_t			  fpd_neps;
struct fpd_service	**fpd_services;
size_t			  fpd_nservices;
struct fpd_incident	**fpd_incidents;
size_t			  fpd_nincidents;
cJSON			 *fpd_abilities;	/* array of names */
unsigned long		  fpd_next_id;
static int		  fpd_next_number;
int			  fpd_per_minute = FPD_RATE_DEFAULT;
/* [0] the account key, [1] everything else. */
struct fpd_window	  fpd_windows[2];

static void	 fpd_init(void);
static void	 fpd_handle(struct sb_req *);
static void	 fpd_shutdown(void);
static void	 fpd_adderr(cJSON *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));

/* The PagerDuty service as the sandbox routes to it. */
const struct sb_service fake_pagerduty = { "pagerduty", fpd_init,
    fpd_handle, fpd_control, fpd_shutdown };

static const char *fpd_known_abilities[] = {
	"teams", "read_only_users", "team_responders", "urgencies",
	"manage_schedules", "manage_api_keys", "coordinated_responding",
	"service_support_hours", "event_rules", "response_plays",
	"preview_incident_alert_grouping", "preview_incident_urgency"
};
#define FPD_NKNOWN	(sizeof fpd_known_abilities / \
			    sizeof fpd_known_abilities[0])

/* ---------------------------------------------------------------------- */
/* Helpers. */

int64_t
fpd_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int64_t
fpd_floor_div(int64_t a, int64_t b)
{
	return (a / b - (a % b != 0 && (a < 0) != (b < 0)));
}

static int64_t
fpd_days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + doe - 719468);
}

static void
fpd_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/*
 * The zone GET .../log_entries?time_zone= renders times in while it
 * answers; NULL is UTC, written "Z".
 */
static char	*fpd_zone;

/* Seconds east of UTC in the zone at that time (the tz database). */
static long
fpd_zone_offset(const char *zone, int64_t ms)
{
	struct tm	 tm;
	time_t		 t = (time_t)fpd_floor_div(ms, 1000);
	const char	*old = getenv("TZ");
	char		*saved = old != NULL ? sb_strdup(old) : NULL;

	setenv("TZ", zone, 1);
	tzset();
	if (localtime_r(&t, &tm) == NULL)
		tm.tm_gmtoff = 0;
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	return (tm.tm_gmtoff);
}

/* An IANA zone name the tz database knows ("Europe/Berlin"). */
static int
fpd_zone_valid(const char *zone)
{
	static const char	 ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/_+-";
	struct stat		 st;
	const char		*dir = getenv("TZDIR");
	char			*path;
	int			 found;

	if (strcmp(zone, "UTC") == 0)
		return (1);
	if (!isalpha((unsigned char)zone[0]) || strstr(zone, "..") != NULL ||
	    strspn(zone, ok) != strlen(zone))
		return (0);
	sb_asprintf(&path, "%s/%s", dir != NULL ? dir : "/usr/share/zoneinfo",
	    zone);
	found = stat(path, &st) == 0 && S_ISREG(st.st_mode);
	free(path);
	return (found);
}

int
fpd_zone_begin(struct fpd_ctx *c)
{
	const char	*zone = sb_param(c->r, "time_zone");

	if (zone == NULL)
		return (0);
	if (!fpd_zone_valid(zone)) {
		fpd_invalid(c, "Time zone is not a valid time zone");
		return (-1);
	}
	if (strcmp(zone, "UTC") != 0 && strcmp(zone, "Etc/UTC") != 0)
		fpd_zone = sb_strdup(zone);
	return (0);
}

void
fpd_zone_end(void)
{
	free(fpd_zone);
	fpd_zone = NULL;
}

/*
 * "2015-10-06T21:30:42Z" as PagerDuty renders times, or with the offset
 * of the zone asked for ("2015-10-06T23:30:42+02:00"); millis adds the
 * milliseconds webhooks carry ("2020-10-02T18:45:22.169Z").
 */
void
fpd_time_str(int64_t ms, int millis, char *buf, size_t len)
{
	int64_t	days, rem;
	long	off = 0;
	int	y, m, d;
	char	tail[16] = "Z";

	if (fpd_zone != NULL) {
		off = fpd_zone_offset(fpd_zone, ms);
		snprintf(tail, sizeof tail, "%c%02d:%02d", off < 0 ? '-' :
		    '+', (int)(labs(off) / 3600 % 24), (int)(labs(off) / 60 %
		    60));
	}
	ms += (int64_t)off * 1000;
	days = fpd_floor_div(ms, FPD_DAY_MS);
	rem = ms - days * FPD_DAY_MS;
	fpd_civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
	    (int)(rem / 3600000), (int)(rem / 60000 % 60),
	    (int)(rem / 1000 % 60));
	if (millis)
		snprintf(buf + strlen(buf), len - strlen(buf), ".%03d",
		    (int)(rem % 1000));
	snprintf(buf + strlen(buf), len - strlen(buf), "%s", tail);
}

/* A time as JSON; null for 0 (never). */
cJSON *
fpd_time_json(int64_t ms)
{
	char	buf[48];

	if (ms == 0)
		return (cJSON_CreateNull());
	fpd_time_str(ms, 0, buf, sizeof buf);
	return (cJSON_CreateString(buf));
}

static int
fpd_digits(const char *s, int n)
{
	int	v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v);
}

/* ISO 8601 date or date-time with Z or an offset; 0 or -1. */
int
fpd_parse_time(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int64_t	 t;
	int	 y, mo, d, h = 0, mi = 0, se = 0, oh, om, sign;

	if (strlen(s) < 10 || s[4] != '-' || s[7] != '-')
		return (-1);
	y = fpd_digits(s, 4);
	mo = fpd_digits(s + 5, 2);
	d = fpd_digits(s + 8, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return (-1);
	t = fpd_days_from_civil(y, mo, d) * FPD_DAY_MS;
	s += 10;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (strlen(s) < 5 || s[2] != ':')
			return (-1);
		h = fpd_digits(s, 2);
		mi = fpd_digits(s + 3, 2);
		s += 5;
		if (*s == ':') {
			se = fpd_digits(s + 1, 2);
			s += 3;
		}
		if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
			return (-1);
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s))
				s++;
		}
	}
	t += ((int64_t)h * 3600 + mi * 60 + se) * 1000;
	if (*s == '\0' || strcmp(s, "Z") == 0) {
		*out = t;
		return (0);
	}
	if (*s != '+' && *s != '-')
		return (-1);
	sign = *s == '-' ? -1 : 1;
	s++;
	if ((oh = fpd_digits(s, 2)) < 0)
		return (-1);
	s += 2;
	if (*s == ':')
		s++;
	if ((om = fpd_digits(s, 2)) < 0 || s[2] != '\0' || oh > 23 || om > 59)
		return (-1);
	*out = t - sign * ((int64_t)oh * 3600 + om * 60) * 1000;
	return (0);
}

char *
fpd_base(char *buf, size_t len)
{
	snprintf(buf, len, "%s://127.0.0.1:%d", sb_opts.tls ? "https" : "http",
	    sb_opts.pd_port);
	return (buf);
}

static const char *
fpd_token(void)
{
	return (sb_opts.pd_token != NULL ? sb_opts.pd_token :
	    FPD_DEFAULT_TOKEN);
}

/* A fresh PagerDuty-looking id: prefix and base-36 digits, 7 in all. */
void
fpd_new_id(const char *prefix, char *buf, size_t len)
{
	static const char	 digits[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	uint64_t		 x;
	size_t			 i, n = strlen(prefix);
	char			 tmp[16];

	/* Multiplying by an odd number not divisible by 3 permutes
	 * Z/36^k, so ids look random yet never repeat. */
	x = (uint64_t)(++fpd_next_id) * 2654435761ULL;
	for (i = 0; i < 7 - n && i < sizeof tmp - 1; i++) {
		tmp[i] = digits[x % 36];
		x /= 36;
	}
	tmp[i] = '\0';
	snprintf(buf, len, "%s%s", prefix, tmp);
}

struct fpd_user *
fpd_user_find(const char *s)
{
	size_t	i;

	if (s == NULL)
		return (NULL);
	for (i = 0; i < fpd_nusers; i++) {
		if (strcmp(fpd_users[i]->id, s) == 0 ||
		    strcasecmp(fpd_users[i]->email, s) == 0)
			return (fpd_users[i]);
	}
	return (NULL);
}

struct fpd_user *
fpd_user_by_id(const char *s)
{
	size_t	i;

	for (i = 0; s != NULL && i < fpd_nusers; i++) {
		if (strcmp(fpd_users[i]->id, s) == 0)
			return (fpd_users[i]);
	}
	return (NULL);
}

struct fpd_ep *
fpd_ep_find(const char *s)
{
	size_t	i;

	for (i = 0; s != NULL && i < fpd_neps; i++) {
		if (strcmp(fpd_eps[i]->id, s) == 0)
			return (fpd_eps[i]);
	}
	return (NULL);
}

struct fpd_service *
fpd_service_find(const char *s)
{
	size_t	i;

	for (i = 0; s != NULL && i < fpd_nservices; i++) {
		if (strcmp(fpd_services[i]->id, s) == 0)
			return (fpd_services[i]);
	}
	return (NULL);
}

/* Incident by id or by number, as GET /incidents/{id} takes either. */
struct fpd_incident *
fpd_incident_find(const char *s)
{
	size_t	 i;
	char	*end;
	long	 n;

	if (s == NULL)
		return (NULL);
	for (i = 0; i < fpd_nincidents; i++) {
		if (strcmp(fpd_incidents[i]->id, s) == 0)
			return (fpd_incidents[i]);
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n <= 0)
		return (NULL);
	for (i = 0; i < fpd_nincidents; i++) {
		if (fpd_incidents[i]->number == n)
			return (fpd_incidents[i]);
	}
	return (NULL);
}

int
fpd_has_ability(const char *name)
{
	const cJSON	*a;

	cJSON_ArrayForEach(a, fpd_abilities) {
		if (strcmp(a->valuestring, name) == 0)
			return (1);
	}
	return (0);
}

int
fpd_is_email(const char *s)
{
	const char	*at = strchr(s, '@');

	return (at != NULL && at != s && at[1] != '\0' &&
	    strchr(at + 1, '@') == NULL && strpbrk(s, " \t\r\n,;<>") == NULL);
}

/* ---------------------------------------------------------------------- */
/* The model. */

struct fpd_user *
fpd_user_add(const char *id, const char *name, const char *email)
{
	struct fpd_user	*u;

	u = sb_calloc(1, sizeof *u);
	u->id = sb_strdup(id);
	u->name = sb_strdup(name);
	u->email = sb_strdup(email);
	fpd_users = sb_realloc(fpd_users, fpd_nusers + 1, sizeof *fpd_users);
	fpd_users[fpd_nusers++] = u;
	return (u);
}

struct fpd_ep *
fpd_ep_add(const char *id, const char *name, struct fpd_user **levels,
    size_t n)
{
	struct fpd_ep	*ep;

	ep = sb_calloc(1, sizeof *ep);
	ep->id = sb_strdup(id);
	ep->name = sb_strdup(name);
	ep->levels = sb_calloc(n, sizeof *ep->levels);
	memcpy(ep->levels, levels, n * sizeof *levels);
	ep->nlevels = n;
	fpd_eps = sb_realloc(fpd_eps, fpd_neps + 1, sizeof *fpd_eps);
	fpd_eps[fpd_neps++] = ep;
	return (ep);
}

struct fpd_service *
fpd_service_add(const char *id, const char *name, const char *description,
    struct fpd_ep *ep)
{
	struct fpd_service	*s;

	s = sb_calloc(1, sizeof *s);
	s->id = sb_strdup(id);
	s->name = sb_strdup(name);
	s->description = sb_strdup(description);
	s->ep = ep;
	s->created = fpd_now();
	fpd_services = sb_realloc(fpd_services, fpd_nservices + 1,
	    sizeof *fpd_services);
	fpd_services[fpd_nservices++] = s;
	return (s);
}

static void
fpd_incident_free(struct fpd_incident *in)
{
	free(in->title);
	free(in->incident_key);
	free(in->details);
	cJSON_Delete(in->bridge);
	free(in->assign);
	free(in->acks);
	cJSON_Delete(in->logs);
	cJSON_Delete(in->responders);
	cJSON_Delete(in->rrs);
	cJSON_Delete(in->notes);
	free(in);
}

static void
fpd_state_free(void)
{
	size_t	i;

	for (i = 0; i < fpd_nincidents; i++)
		fpd_incident_free(fpd_incidents[i]);
	free(fpd_incidents);
	for (i = 0; i < fpd_nservices; i++) {
		free(fpd_services[i]->id);
		free(fpd_services[i]->name);
		free(fpd_services[i]->description);
		free(fpd_services[i]);
	}
	free(fpd_services);
	for (i = 0; i < fpd_neps; i++) {
		free(fpd_eps[i]->id);
		free(fpd_eps[i]->name);
		free(fpd_eps[i]->levels);
		free(fpd_eps[i]);
	}
	free(fpd_eps);
	for (i = 0; i < fpd_nusers; i++) {
		free(fpd_users[i]->id);
		free(fpd_users[i]->name);
		free(fpd_users[i]->email);
		free(fpd_users[i]);
	}
	free(fpd_users);
	cJSON_Delete(fpd_abilities);
	fpd_webhooks_clear();
	for (i = 0; i < 2; i++)
		free(fpd_windows[i].ts);
	fpd_users = NULL;
	fpd_eps = NULL;
	fpd_services = NULL;
	fpd_incidents = NULL;
	fpd_abilities = NULL;
	fpd_nusers = fpd_neps = fpd_nservices = fpd_nincidents = 0;
	memset(fpd_windows, 0, sizeof fpd_windows);
}

void
fpd_state_reset(void)
{
	struct fpd_user	*alice, *bob, *dave, *lv[2];
	size_t		 i;

	fpd_state_free();
	fpd_next_id = 0;
	fpd_next_number = 0;
	fpd_per_minute = FPD_RATE_DEFAULT;
	alice = fpd_user_add("PUSER01", "Alice Example", "alice@example.com");
	bob = fpd_user_add("PUSER02", "Bob Example", "bob@example.com");
	dave = fpd_user_add("PUSER03", "Dave Example", "dave@example.com");
	lv[0] = alice;
	lv[1] = bob;
	fpd_service_add("PSVCIM", "Incident Manager", "Incident commanders "
	    "on call", fpd_ep_add("PEPIM01", "Incident Manager Escalation",
	    lv, 2));
	lv[0] = bob;
	lv[1] = alice;
	fpd_service_add("PSVCDB", "Database", "Primary databases",
	    fpd_ep_add("PEPDB01", "Database Escalation", lv, 2));
	lv[0] = dave;
	lv[1] = bob;
	fpd_service_add("PSVCAPI", "API Gateway", "Public API edge",
	    fpd_ep_add("PEPAP01", "API Gateway Escalation", lv, 2));
	lv[0] = bob;
	fpd_service_add("PSVCNET", "Network", "Core network",
	    fpd_ep_add("PEPNE01", "Network Escalation", lv, 1));
	fpd_abilities = cJSON_CreateArray();
	for (i = 0; i < FPD_NKNOWN; i++) {
		cJSON_AddItemToArray(fpd_abilities,
		    cJSON_CreateString(fpd_known_abilities[i]));
	}
}

/* ---------------------------------------------------------------------- */
/* Rendering. */

static cJSON *
fpd_ref(const char *type, const char *id, const char *summary,
    const char *path, const char *html_path)
{
	cJSON	*o;
	char	 base[96], buf[256];

	fpd_base(base, sizeof base);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "summary", summary);
	snprintf(buf, sizeof buf, "%s/%s/%s", base, path, id);
	cJSON_AddStringToObject(o, "self", buf);
	if (html_path != NULL) {
		snprintf(buf, sizeof buf, "%s/%s/%s", base, html_path, id);
		cJSON_AddStringToObject(o, "html_url", buf);
	} else
		cJSON_AddNullToObject(o, "html_url");
	return (o);
}

cJSON *
fpd_user_ref(const struct fpd_user *u)
{
	return (fpd_ref("user_reference", u->id, u->name, "users", "users"));
}

cJSON *
fpd_user_json(const struct fpd_user *u)
{
	cJSON	*o;

	o = fpd_ref("user", u->id, u->name, "users", "users");
	cJSON_AddStringToObject(o, "name", u->name);
	cJSON_AddStringToObject(o, "email", u->email);
	cJSON_AddStringToObject(o, "time_zone", "Etc/UTC");
	cJSON_AddStringToObject(o, "color", "green");
	cJSON_AddStringToObject(o, "role", "user");
	cJSON_AddStringToObject(o, "avatar_url",
	    "https://pd-static-assets.pagerduty.com/users/blank-avatar.png");
	cJSON_AddNullToObject(o, "description");
	cJSON_AddBoolToObject(o, "invitation_sent", 0);
	cJSON_AddNullToObject(o, "job_title");
	cJSON_AddArrayToObject(o, "teams");
	cJSON_AddArrayToObject(o, "contact_methods");
	cJSON_AddArrayToObject(o, "notification_rules");
	return (o);
}

cJSON *
fpd_ep_ref(const struct fpd_ep *ep)
{
	return (fpd_ref("escalation_policy_reference", ep->id, ep->name,
	    "escalation_policies", "escalation_policies"));
}

cJSON *
fpd_service_ref(const struct fpd_service *s)
{
	return (fpd_ref("service_reference", s->id, s->name, "services",
	    "service-directory"));
}

static cJSON *
fpd_ep_json(const struct fpd_ep *ep)
{
	cJSON	*o, *rules, *rule, *targets, *svcs;
	size_t	 i;
	char	 rid[48];

	o = fpd_ref("escalation_policy", ep->id, ep->name,
	    "escalation_policies", "escalation_policies");
	cJSON_AddStringToObject(o, "name", ep->name);
	cJSON_AddNullToObject(o, "description");
	cJSON_AddNumberToObject(o, "num_loops", 0);
	cJSON_AddStringToObject(o, "on_call_handoff_notifications",
	    "if_has_services");
	rules = cJSON_AddArrayToObject(o, "escalation_rules");
	for (i = 0; i < ep->nlevels; i++) {
		rule = cJSON_CreateObject();
		snprintf(rid, sizeof rid, "PR%s%02u", ep->id,
		    (unsigned)((i + 1) % 100));
		cJSON_AddStringToObject(rule, "id", rid);
		cJSON_AddNumberToObject(rule, "escalation_delay_in_minutes",
		    FPD_ESCALATION_DELAY_S / 60);
		targets = cJSON_AddArrayToObject(rule, "targets");
		cJSON_AddItemToArray(targets, fpd_user_ref(ep->levels[i]));
		cJSON_AddItemToArray(rules, rule);
	}
	svcs = cJSON_AddArrayToObject(o, "services");
	for (i = 0; i < fpd_nservices; i++) {
		if (fpd_services[i]->ep == ep)
			cJSON_AddItemToArray(svcs,
			    fpd_service_ref(fpd_services[i]));
	}
	cJSON_AddArrayToObject(o, "teams");
	return (o);
}

cJSON *
fpd_service_json(const struct fpd_service *s, int full_ep)
{
	cJSON	*o, *rule;

	o = fpd_ref("service", s->id, s->name, "services",
	    "service-directory");
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddStringToObject(o, "description", s->description);
	cJSON_AddNumberToObject(o, "auto_resolve_timeout",
	    FPD_AUTO_RESOLVE_S);
	cJSON_AddNumberToObject(o, "acknowledgement_timeout", FPD_ACK_TIMEOUT_S);
	cJSON_AddItemToObject(o, "created_at", fpd_time_json(s->created));
	cJSON_AddStringToObject(o, "status", "active");
	cJSON_AddItemToObject(o, "last_incident_timestamp",
	    fpd_time_json(s->last_incident));
	cJSON_AddStringToObject(o, "alert_creation",
	    "create_alerts_and_incidents");
	cJSON_AddArrayToObject(o, "integrations");
	cJSON_AddItemToObject(o, "escalation_policy", full_ep ?
	    fpd_ep_json(s->ep) : fpd_ep_ref(s->ep));
	cJSON_AddArrayToObject(o, "teams");
	rule = cJSON_AddObjectToObject(o, "incident_urgency_rule");
	cJSON_AddStringToObject(rule, "type", "constant");
	cJSON_AddStringToObject(rule, "urgency", "high");
	return (o);
}

cJSON *
fpd_incident_ref(const struct fpd_incident *in)
{
	cJSON	*o;
	char	*summary;

	sb_asprintf(&summary, "[#%d] %s", in->number, in->title);
	o = fpd_ref("incident_reference", in->id, summary, "incidents",
	    "incidents");
	free(summary);
	return (o);
}


cJSON *
fpd_responder_json(const struct fpd_incident *in, const cJSON *rp)
{
	cJSON		*o;
	struct fpd_user	*u;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", sb_json_str(rp, "state"));
	u = fpd_user_by_id(sb_json_str(rp, "user"));
	cJSON_AddItemToObject(o, "user", u != NULL ? fpd_user_ref(u) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "incident", fpd_incident_ref(in));
	cJSON_AddItemToObject(o, "updated_at",
	    fpd_time_json((int64_t)fpd_get(rp, "updated")->valuedouble));
	cJSON_AddStringToObject(o, "message", sb_json_str(rp, "message"));
	u = fpd_user_by_id(sb_json_str(rp, "requester"));
	cJSON_AddItemToObject(o, "requester", u != NULL ? fpd_user_ref(u) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "requested_at",
	    fpd_time_json((int64_t)fpd_get(rp, "at")->valuedouble));
	return (o);
}

/* One responder request: its targets with their responders. */
static cJSON *
fpd_rr_json(const struct fpd_incident *in, const cJSON *rr)
{
	cJSON		*o, *targets, *w, *t, *ir;
	const cJSON	*tg, *rp;
	struct fpd_user	*u;
	struct fpd_ep	*ep;
	const char	*type, *id;
	double		 at = fpd_get(rr, "at")->valuedouble;

	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "incident", fpd_incident_ref(in));
	u = fpd_user_by_id(sb_json_str(rr, "requester"));
	cJSON_AddItemToObject(o, "requester", u != NULL ? fpd_user_ref(u) :
	    cJSON_CreateNull());
	cJSON_AddItemToObject(o, "requested_at", fpd_time_json((int64_t)at));
	cJSON_AddStringToObject(o, "message", sb_json_str(rr, "message"));
	targets = cJSON_AddArrayToObject(o, "responder_request_targets");
	cJSON_ArrayForEach(tg, fpd_get(rr, "targets")) {
		type = sb_json_str(tg, "type");
		id = sb_json_str(tg, "id");
		w = cJSON_CreateObject();
		t = cJSON_AddObjectToObject(w, "responder_request_target");
		cJSON_AddStringToObject(t, "type", type);
		cJSON_AddStringToObject(t, "id", id);
		if (strcmp(type, "user") == 0 &&
		    (u = fpd_user_by_id(id)) != NULL)
			cJSON_AddStringToObject(t, "summary", u->name);
		else if ((ep = fpd_ep_find(id)) != NULL)
			cJSON_AddStringToObject(t, "summary", ep->name);
		ir = cJSON_AddArrayToObject(t, "incidents_responders");
		cJSON_ArrayForEach(rp, in->responders) {
			if (fpd_get(rp, "at")->valuedouble == at &&
			    strcmp(sb_json_str(rp, "target"), id) == 0)
				cJSON_AddItemToArray(ir,
				    fpd_responder_json(in, rp));
		}
		cJSON_AddItemToArray(targets, w);
	}
	return (o);
}

static void
fpd_pending_add(cJSON *a, const char *type, int64_t at)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddItemToObject(o, "at", fpd_time_json(at));
	cJSON_AddItemToArray(a, o);
}

/*
 * What PagerDuty's timeouts would do next, and when. The fake never does
 * it on its own: tests act for the timeouts with the escalate and unack
 * control ops.
 */
static void
fpd_pending_actions(const struct fpd_incident *in, cJSON *a)
{
	if (strcmp(in->status, "resolved") == 0)
		return;
	if (strcmp(in->status, "triggered") == 0 && in->via_ep &&
	    (size_t)in->level < in->ep->nlevels && in->nassign > 0)
		fpd_pending_add(a, "escalate", in->assign[0].at +
		    FPD_ESCALATION_DELAY_S * 1000LL);
	if (strcmp(in->status, "acknowledged") == 0 && in->nacks > 0)
		fpd_pending_add(a, "unacknowledge", in->acks[in->nacks - 1].at +
		    FPD_ACK_TIMEOUT_S * 1000LL);
	fpd_pending_add(a, "resolve", in->created + FPD_AUTO_RESOLVE_S *
	    1000LL);
}

cJSON *
fpd_incident_json(const struct fpd_incident *in, const struct fpd_incl *inc)
{
	cJSON		*o, *a, *e, *ac;
	const cJSON	*v;
	size_t		 i;
	char		*summary, base[96], buf[256];

	fpd_base(base, sizeof base);
	sb_asprintf(&summary, "[#%d] %s", in->number, in->title);
	o = fpd_ref("incident", in->id, summary, "incidents", "incidents");
	free(summary);
	cJSON_AddNumberToObject(o, "incident_number", in->number);
	cJSON_AddStringToObject(o, "title", in->title);
	cJSON_AddItemToObject(o, "created_at", fpd_time_json(in->created));
	cJSON_AddItemToObject(o, "updated_at", fpd_time_json(in->updated));
	cJSON_AddStringToObject(o, "status", in->status);
	fpd_add_str(o, "incident_key", in->incident_key);
	cJSON_AddItemToObject(o, "service", inc->services ?
	    fpd_service_json(in->svc, 0) : fpd_service_ref(in->svc));
	a = cJSON_AddArrayToObject(o, "assignments");
	for (i = 0; i < in->nassign; i++) {
		e = cJSON_CreateObject();
		cJSON_AddItemToObject(e, "at", fpd_time_json(in->assign[i].at));
		cJSON_AddItemToObject(e, "assignee", inc->assignees ?
		    fpd_user_json(in->assign[i].user) :
		    fpd_user_ref(in->assign[i].user));
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddStringToObject(o, "assigned_via", in->via_ep ?
	    "escalation_policy" : "direct_assignment");
	cJSON_AddItemToObject(o, "last_status_change_at",
	    fpd_time_json(in->changed));
	if (in->changed_by == NULL)
		e = inc->agents ? fpd_service_json(in->svc, 0) :
		    fpd_service_ref(in->svc);
	else
		e = inc->agents ? fpd_user_json(in->changed_by) :
		    fpd_user_ref(in->changed_by);
	cJSON_AddItemToObject(o, "last_status_change_by", e);
	v = cJSON_GetArrayItem(in->logs, 0);
	if (v != NULL && inc->first_trigger)
		cJSON_AddItemToObject(o, "first_trigger_log_entry",
		    fpd_log_json(in, v, NULL));
	else if (v != NULL) {
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "id", sb_json_str(v, "id"));
		cJSON_AddStringToObject(e, "type",
		    "trigger_log_entry_reference");
		cJSON_AddStringToObject(e, "summary", sb_json_str(v,
		    "summary"));
		snprintf(buf, sizeof buf, "%s/log_entries/%s?incident_id=%s",
		    base, sb_json_str(v, "id"), in->id);
		cJSON_AddStringToObject(e, "self", buf);
		snprintf(buf, sizeof buf, "%s/incidents/%s/log_entries/%s",
		    base, in->id, sb_json_str(v, "id"));
		cJSON_AddStringToObject(e, "html_url", buf);
		cJSON_AddItemToObject(o, "first_trigger_log_entry", e);
	}
	e = cJSON_AddObjectToObject(o, "alert_counts");
	cJSON_AddNumberToObject(e, "all", 0);
	cJSON_AddNumberToObject(e, "triggered", 0);
	cJSON_AddNumberToObject(e, "resolved", 0);
	cJSON_AddBoolToObject(o, "is_mergeable", 1);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "incident_type"),
	    "name", "incident_default");
	cJSON_AddItemToObject(o, "escalation_policy", inc->escalation_policies ?
	    fpd_ep_json(in->ep) : fpd_ep_ref(in->ep));
	cJSON_AddArrayToObject(o, "teams");
	fpd_pending_actions(in, cJSON_AddArrayToObject(o, "pending_actions"));
	ac = cJSON_AddArrayToObject(o, "acknowledgements");
	for (i = 0; i < in->nacks; i++) {
		e = cJSON_CreateObject();
		cJSON_AddItemToObject(e, "at", fpd_time_json(in->acks[i].at));
		cJSON_AddItemToObject(e, "acknowledger", inc->acknowledgers ?
		    fpd_user_json(in->acks[i].user) :
		    fpd_user_ref(in->acks[i].user));
		cJSON_AddItemToArray(ac, e);
	}
	cJSON_AddNullToObject(o, "alert_grouping");
	cJSON_AddNullToObject(o, "priority");
	cJSON_AddItemToObject(o, "resolved_at", fpd_time_json(in->resolved));
	cJSON_AddNullToObject(o, "resolve_reason");
	cJSON_AddStringToObject(o, "urgency", in->urgency);
	if (fpd_has_ability("coordinated_responding")) {
		a = cJSON_AddArrayToObject(o, "incidents_responders");
		cJSON_ArrayForEach(v, in->responders)
			cJSON_AddItemToArray(a, fpd_responder_json(in, v));
		a = cJSON_AddArrayToObject(o, "responder_requests");
		cJSON_ArrayForEach(v, in->rrs)
			cJSON_AddItemToArray(a, fpd_rr_json(in, v));
	}
	if (inc->conference_bridge) {
		cJSON_AddItemToObject(o, "conference_bridge",
		    in->bridge != NULL ? cJSON_Duplicate(in->bridge, 1) :
		    cJSON_CreateObject());
	}
	if (inc->body) {
		e = cJSON_AddObjectToObject(o, "body");
		cJSON_AddStringToObject(e, "type", "incident_body");
		fpd_add_str(e, "details", in->details);
	}
	return (o);
}

/* A string member, or null for NULL. */
void
fpd_add_str(cJSON *o, const char *name, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

/* {"<name>": item} (item consumed). */
cJSON *
fpd_json_wrap(const char *name, cJSON *item)
{
	cJSON	*o;

	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, name, item);
	return (o);
}

/* ---------------------------------------------------------------------- */
/* Replies. */

void
fpd_reply(struct fpd_ctx *c, int status, cJSON *body)
{
	c->hdrs[c->nhdrs] = NULL;
	sb_reply(c->r, status, body, c->hdrs);
}

/* {"error":{"message","code","errors":[...]}}; errors may be NULL. */
void
fpd_error(struct fpd_ctx *c, int status, int code, const char *message,
    cJSON *errors)
{
	cJSON	*o, *e;

	o = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddNumberToObject(e, "code", code);
	if (errors != NULL)
		cJSON_AddItemToObject(e, "errors", errors);
	fpd_reply(c, status, o);
}

/* 400 Invalid Input Provided with one detail line. */
void
fpd_invalid(struct fpd_ctx *c, const char *fmt, ...)
{
	cJSON	*errors;
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	errors = cJSON_CreateArray();
	cJSON_AddItemToArray(errors, cJSON_CreateString(msg != NULL ? msg :
	    "invalid"));
	free(msg);
	fpd_error(c, 400, 2001, "Invalid Input Provided", errors);
}

void
fpd_not_found(struct fpd_ctx *c)
{
	fpd_error(c, 404, 2100, "Not Found", NULL);
}

/* Errors collected while checking a body: 400 if any; 1 if answered. */
static int
fpd_errors_reply(struct fpd_ctx *c, cJSON *errors)
{
	if (cJSON_GetArraySize(errors) == 0) {
		cJSON_Delete(errors);
		return (0);
	}
	fpd_error(c, 400, 2001, "Invalid Input Provided", errors);
	return (1);
}

static void
fpd_adderr(cJSON *errors, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	cJSON_AddItemToArray(errors, cJSON_CreateString(msg != NULL ? msg :
	    "invalid"));
	free(msg);
}

/* ---------------------------------------------------------------------- */
/* Rate limit, auth, parameters. */

/*
 * Sliding 60 s window per key. Every answer gets the ratelimit-* headers;
 * a request over the budget gets 429 and is not counted. 1 if answered.
 */
static int
fpd_ratelimit(struct fpd_ctx *c, struct fpd_window *w)
{
	uint64_t	now = sb_mono_ms();
	size_t		drop = 0, limit = (size_t)fpd_per_minute;
	int64_t		reset;

	while (drop < w->n && w->ts[drop] + FPD_WINDOW_MS <= now)
		drop++;
	if (drop > 0) {
		memmove(w->ts, w->ts + drop, (w->n - drop) * sizeof *w->ts);
		w->n -= drop;
	}
	if (w->n >= limit) {
		reset = ((int64_t)w->ts[w->n - limit] + FPD_WINDOW_MS -
		    (int64_t)now + 999) / 1000;
		if (reset < 1)
			reset = 1;
		c->nhdrs = 0;
		snprintf(c->hbuf[0], sizeof c->hbuf[0], "ratelimit-limit: %zu",
		    limit);
		snprintf(c->hbuf[1], sizeof c->hbuf[1],
		    "ratelimit-remaining: 0");
		snprintf(c->hbuf[2], sizeof c->hbuf[2], "ratelimit-reset: %lld",
		    (long long)reset);
		c->hdrs[0] = c->hbuf[0];
		c->hdrs[1] = c->hbuf[1];
		c->hdrs[2] = c->hbuf[2];
		c->nhdrs = 3;
		fpd_error(c, 429, 2020, "Rate Limit Exceeded", NULL);
		return (1);
	}
	w->ts = sb_realloc(w->ts, w->n + 1, sizeof *w->ts);
	w->ts[w->n++] = now;
	reset = ((int64_t)w->ts[0] + FPD_WINDOW_MS - (int64_t)now + 999) /
	    1000;
	snprintf(c->hbuf[0], sizeof c->hbuf[0], "ratelimit-limit: %zu", limit);
	snprintf(c->hbuf[1], sizeof c->hbuf[1], "ratelimit-remaining: %zu",
	    limit - w->n);
	snprintf(c->hbuf[2], sizeof c->hbuf[2], "ratelimit-reset: %lld",
	    (long long)(reset < 1 ? 1 : reset));
	c->hdrs[0] = c->hbuf[0];
	c->hdrs[1] = c->hbuf[1];
	c->hdrs[2] = c->hbuf[2];
	c->nhdrs = 3;
	return (0);
}

/* Exactly "Token token=<token>". */
static int
fpd_auth_ok(struct fpd_ctx *c)
{
	const char	*h = sb_header(c->r, "Authorization");

	return (h != NULL && strncmp(h, "Token token=", 12) == 0 &&
	    strcmp(h + 12, fpd_token()) == 0);
}

static int
fpd_param_int(struct fpd_ctx *c, const char *name, long long min,
    long long max, long long def, long long *out)
{
	const char	*s = sb_param(c->r, name);
	char		*end;
	long long	 v;

	*out = def;
	if (s == NULL)
		return (0);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || errno != 0 || *end != '\0' || v < min || v > max) {
		fpd_invalid(c, "%s must be an integer from %lld", name, min);
		return (-1);
	}
	*out = v;
	return (0);
}

int
fpd_param_bool(struct fpd_ctx *c, const char *name, int *out)
{
	const char	*s = sb_param(c->r, name);

	*out = 0;
	if (s == NULL)
		return (0);
	if (strcmp(s, "true") == 0)
		*out = 1;
	else if (strcmp(s, "false") != 0) {
		fpd_invalid(c, "%s must be true or false", name);
		return (-1);
	}
	return (0);
}

int
fpd_page_args(struct fpd_ctx *c, struct fpd_page *pg)
{
	if (fpd_param_int(c, "limit", 0, INT_MAX, FPD_LIMIT_DEFAULT,
	    &pg->limit) != 0 || fpd_param_int(c, "offset", 0, INT_MAX, 0,
	    &pg->offset) != 0 || fpd_param_bool(c, "total",
	    &pg->total) != 0)
		return (-1);
	if (pg->limit == 0)
		pg->limit = FPD_LIMIT_DEFAULT;
	if (pg->limit > FPD_LIMIT_MAX)
		pg->limit = FPD_LIMIT_MAX;
	if (pg->offset + pg->limit > FPD_OFFSET_MAX) {
		fpd_invalid(c, "Offset must be less than %d; the sum of "
		    "offset and limit cannot exceed %d", FPD_OFFSET_MAX,
		    FPD_OFFSET_MAX);
		return (-1);
	}
	return (0);
}

/* Wrap items (consumed) as {"<name>":[page], limit, offset, more, total}. */
cJSON *
fpd_page(const struct fpd_page *pg, const char *name, cJSON *items)
{
	cJSON	*o, *a, *it;
	int	 n = cJSON_GetArraySize(items), i;

	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, name);
	for (i = (int)pg->offset; i < n && i < pg->offset + pg->limit; i++) {
		it = cJSON_DetachItemFromArray(items, (int)pg->offset);
		cJSON_AddItemToArray(a, it);
	}
	cJSON_Delete(items);
	cJSON_AddNumberToObject(o, "limit", (double)pg->limit);
	cJSON_AddNumberToObject(o, "offset", (double)pg->offset);
	cJSON_AddBoolToObject(o, "more", pg->offset + pg->limit < n);
	if (pg->total)
		cJSON_AddNumberToObject(o, "total", n);
	else
		cJSON_AddNullToObject(o, "total");
	return (o);
}

/* Is value one of the include[] (or name[]) parameters? */
int
fpd_param_has(struct fpd_ctx *c, const char *name, const char *value)
{
	const char	*v;
	int		 n;

	for (n = 0; (v = sb_param_n(c->r, name, n)) != NULL; n++) {
		if (strcmp(v, value) == 0)
			return (1);
	}
	return (0);
}

static void
fpd_incl_parse(struct fpd_ctx *c, struct fpd_incl *inc)
{
	memset(inc, 0, sizeof *inc);
	inc->assignees = fpd_param_has(c, "include[]", "assignees") ||
	    fpd_param_has(c, "include[]", "users");
	inc->acknowledgers = fpd_param_has(c, "include[]", "acknowledgers") ||
	    fpd_param_has(c, "include[]", "users");
	inc->services = fpd_param_has(c, "include[]", "services");
	inc->escalation_policies = fpd_param_has(c, "include[]",
	    "escalation_policies");
	inc->conference_bridge = fpd_param_has(c, "include[]",
	    "conference_bridge");
	inc->first_trigger = fpd_param_has(c, "include[]",
	    "first_trigger_log_entries");
	inc->body = fpd_param_has(c, "include[]", "body");
	inc->agents = fpd_param_has(c, "include[]", "agents");
}

/* The From header: a valid user's email; NULL after answering if not. */
static struct fpd_user *
fpd_from(struct fpd_ctx *c)
{
	const char	*from = sb_header(c->r, "From");
	struct fpd_user	*u;

	if (from == NULL || *from == '\0') {
		fpd_error(c, 400, 2016, "You must specify a user's email "
		    "address in the \"From\" header to perform this action",
		    NULL);
		return (NULL);
	}
	if (!fpd_is_email(from)) {
		fpd_error(c, 400, 1028, "Malformed \"From\" header", NULL);
		return (NULL);
	}
	if ((u = fpd_user_find(from)) == NULL ||
	    strcasecmp(u->email, from) != 0) {
		fpd_error(c, 400, 1008, "Requester User Not Found", NULL);
		return (NULL);
	}
	return (u);
}

/* ---------------------------------------------------------------------- */
/*
 * Incident actions: what people (by) or PagerDuty itself (by NULL: its
 * escalation and acknowledgement timeouts) do to an incident. Each one
 * records its log entries and tells the webhook subscriptions, the same
 * way whether it came through REST or a control op.
 */

static void
fpd_assign_set(struct fpd_incident *in, struct fpd_user **users, size_t n)
{
	size_t	i;

	free(in->assign);
	in->assign = sb_calloc(n, sizeof *in->assign);
	for (i = 0; i < n; i++) {
		in->assign[i].user = users[i];
		in->assign[i].at = fpd_now();
	}
	in->nassign = n;
}

static int
fpd_assigned(const struct fpd_incident *in, const struct fpd_user *u)
{
	size_t	i;

	for (i = 0; i < in->nassign; i++) {
		if (in->assign[i].user == u)
			return (1);
	}
	return (0);
}

static void
fpd_assign_add(struct fpd_incident *in, struct fpd_user *u)
{
	if (fpd_assigned(in, u))
		return;
	in->assign = sb_realloc(in->assign, in->nassign + 1,
	    sizeof *in->assign);
	in->assign[in->nassign].user = u;
	in->assign[in->nassign].at = fpd_now();
	in->nassign++;
}

/* "by Alice Example" or, for PagerDuty's own timeouts, "by timeout". */
static const char *
fpd_by(const struct fpd_user *by)
{
	return (by != NULL ? by->name : "timeout");
}

/* A status change: when, and by whom (NULL: the service). */
static void
fpd_changed(struct fpd_incident *in, struct fpd_user *by)
{
	in->changed = in->updated = fpd_now();
	in->changed_by = by;
}

/* An acknowledged incident that goes to someone else is triggered again. */
static void
fpd_retrigger(struct fpd_incident *in, struct fpd_user *by)
{
	if (strcmp(in->status, "acknowledged") != 0)
		return;
	free(in->acks);
	in->acks = NULL;
	in->nacks = 0;
	in->status = "triggered";
	fpd_changed(in, by);
}

/* The assignee now: logged, and notified (an email each). */
static void
fpd_assign_log(struct fpd_incident *in, struct fpd_user *u,
    struct fpd_user *by, const char *channel)
{
	char	*summary;

	sb_asprintf(&summary, "Assigned to %s by %s", u->name, fpd_by(by));
	fpd_log_assignees(fpd_log_add(in, "assign_log_entry", by, channel,
	    summary), &u, 1);
	free(summary);
	fpd_log_notify(in, u);
}

/*
 * Hand the incident to a level (1-based) of a policy. type is the entry
 * saying why ("escalate_log_entry", "delegate_log_entry") or NULL (the
 * first routing of a new or reopened incident).
 */
static void
fpd_route(struct fpd_incident *in, struct fpd_ep *ep, int level,
    struct fpd_user *by, const char *channel, const char *type)
{
	struct fpd_user	*u;
	char		*summary;

	in->ep = ep;
	in->via_ep = 1;
	if (level < 1 || (size_t)level > ep->nlevels)
		level = 1;
	in->level = level;
	u = ep->levels[level - 1];
	fpd_assign_set(in, &u, 1);
	fpd_retrigger(in, by);
	if (type != NULL) {
		if (strcmp(type, "escalate_log_entry") == 0)
			sb_asprintf(&summary, "Escalated to %s (level %d) by "
			    "%s", u->name, level, fpd_by(by));
		else
			sb_asprintf(&summary, "Delegated to %s by %s",
			    ep->name, fpd_by(by));
		fpd_log_assignees(fpd_log_add(in, type, by, by != NULL ?
		    channel : "auto", summary), &u, 1);
		free(summary);
	}
	fpd_assign_log(in, u, by, by != NULL ? channel : "auto");
	in->updated = fpd_now();
}

/* Escalate to a level of the incident's policy (the caller checked it). */
void
fpd_escalate(struct fpd_incident *in, int level, struct fpd_user *by,
    const char *channel)
{
	fpd_route(in, in->ep, level, by, channel, "escalate_log_entry");
	fpd_webhook_incident(in, "incident.escalated", by);
}

/* Reassign to another escalation policy, at one of its levels. */
static void
fpd_delegate(struct fpd_incident *in, struct fpd_ep *ep, int level,
    struct fpd_user *by, const char *channel)
{
	fpd_route(in, ep, level, by, channel, "delegate_log_entry");
	fpd_webhook_incident(in, "incident.delegated", by);
}

/* Assign one user directly (the incident leaves its policy's levels). */
void
fpd_reassign(struct fpd_incident *in, struct fpd_user *u,
    struct fpd_user *by, const char *channel)
{
	fpd_assign_set(in, &u, 1);
	in->via_ep = 0;
	fpd_retrigger(in, by);
	fpd_assign_log(in, u, by, channel);
	in->updated = fpd_now();
	fpd_webhook_incident(in, "incident.reassigned", by);
}

/* As the notes endpoints show one. */
static cJSON *
fpd_note_json(const cJSON *n)
{
	cJSON		*o, *ch;
	struct fpd_user	*u = fpd_user_by_id(sb_json_str(n, "user"));

	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", sb_json_str(n, "id"));
	cJSON_AddItemToObject(o, "user", u != NULL ? fpd_user_ref(u) :
	    cJSON_CreateNull());
	ch = cJSON_AddObjectToObject(o, "channel");
	cJSON_AddStringToObject(ch, "summary", "The PagerDuty website or APIs");
	cJSON_AddStringToObject(o, "content", sb_json_str(n, "content"));
	cJSON_AddItemToObject(o, "created_at",
	    fpd_time_json((int64_t)fpd_get(n, "at")->valuedouble));
	cJSON_AddItemToObject(o, "updated_at",
	    fpd_time_json((int64_t)fpd_get(n, "at")->valuedouble));
	return (o);
}

cJSON *
fpd_note_add(struct fpd_incident *in, struct fpd_user *by,
    const char *content, const char *channel)
{
	cJSON	*n;
	char	 id[16], *summary;

	if (cJSON_GetArraySize(in->notes) >= FPD_NOTES_MAX)
		return (NULL);
	fpd_new_id("PN", id, sizeof id);
	n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "id", id);
	cJSON_AddStringToObject(n, "user", by->id);
	cJSON_AddStringToObject(n, "content", content);
	cJSON_AddNumberToObject(n, "at", (double)fpd_now());
	cJSON_AddItemToArray(in->notes, n);
	sb_asprintf(&summary, "Note added by %s", by->name);
	fpd_log_message(fpd_log_add(in, "annotate_log_entry", by, channel,
	    summary), content);
	free(summary);
	in->updated = fpd_now();
	fpd_webhook_note(in, n, by);
	return (n);
}

/*
 * acknowledged, resolved or triggered (reopened, or unacknowledged: by
 * NULL is the acknowledgement timeout, whose assignees are notified
 * again).
 */
void
fpd_set_status(struct fpd_incident *in, const char *status,
    struct fpd_user *by, const char *channel)
{
	char	*summary;
	size_t	 i;

	if (strcmp(in->status, "resolved") == 0 &&
	    strcmp(status, "resolved") != 0) {
		in->resolved = 0;
		fpd_log_add(in, "reopen_log_entry", by, channel, "Reopened");
		in->status = "triggered";
		fpd_changed(in, by);
		fpd_route(in, in->ep, 1, by, channel, NULL);
		fpd_webhook_incident(in, "incident.reopened", by);
		if (strcmp(status, "triggered") == 0)
			return;
	}
	if (strcmp(status, "acknowledged") == 0) {
		/* The acknowledger takes the incident over. */
		if (!fpd_assigned(in, by)) {
			fpd_assign_set(in, &by, 1);
			in->via_ep = 0;
		}
		in->acks = sb_realloc(in->acks, in->nacks + 1,
		    sizeof *in->acks);
		in->acks[in->nacks].user = by;
		in->acks[in->nacks].at = fpd_now();
		in->nacks++;
		sb_asprintf(&summary, "Acknowledged by %s", by->name);
		fpd_log_add(in, "acknowledge_log_entry", by, channel, summary);
		in->status = "acknowledged";
	} else if (strcmp(status, "resolved") == 0) {
		in->status = "resolved";
		in->resolved = fpd_now();
		free(in->assign);
		in->assign = NULL;
		in->nassign = 0;
		free(in->acks);
		in->acks = NULL;
		in->nacks = 0;
		sb_asprintf(&summary, "Resolved by %s", by->name);
		fpd_log_add(in, "resolve_log_entry", by, channel, summary);
	} else {
		free(in->acks);
		in->acks = NULL;
		in->nacks = 0;
		in->status = "triggered";
		sb_asprintf(&summary, "Unacknowledged by %s", fpd_by(by));
		fpd_log_add(in, "unacknowledge_log_entry", by, by != NULL ?
		    channel : "timeout", summary);
		for (i = 0; by == NULL && i < in->nassign; i++)
			fpd_log_notify(in, in->assign[i].user);
	}
	free(summary);
	fpd_changed(in, by);
	fpd_webhook_incident(in, strcmp(status, "acknowledged") == 0 ?
	    "incident.acknowledged" : strcmp(status, "resolved") == 0 ?
	    "incident.resolved" : "incident.unacknowledged", by);
}

/* ---------------------------------------------------------------------- */
/* Endpoints. */

static int
fpd_name_cmp(const void *a, const void *b)
{
	const struct fpd_service *sa = *(struct fpd_service * const *)a;
	const struct fpd_service *sb = *(struct fpd_service * const *)b;
	int			  c = strcasecmp(sa->name, sb->name);

	return (c != 0 ? c : strcmp(sa->id, sb->id));
}

static void
fpd_list_services(struct fpd_ctx *c)
{
	struct fpd_service	**v;
	struct fpd_page		  pg;
	cJSON			 *items;
	const char		 *query, *name, *sort;
	size_t			  i, n = 0;
	int			  desc = 0, full_ep;

	if (fpd_page_args(c, &pg) != 0)
		return;
	sort = sb_param(c->r, "sort_by");
	if (sort != NULL) {
		if (strcmp(sort, "name:desc") == 0)
			desc = 1;
		else if (strcmp(sort, "name") != 0 &&
		    strcmp(sort, "name:asc") != 0) {
			fpd_invalid(c, "Sort by is not included in the list");
			return;
		}
	}
	query = sb_param(c->r, "query");
	name = sb_param(c->r, "name");
	full_ep = fpd_param_has(c, "include[]", "escalation_policies");
	v = sb_calloc(fpd_nservices + 1, sizeof *v);
	for (i = 0; i < fpd_nservices; i++) {
		if (query != NULL && *query != '\0' &&
		    strcasestr(fpd_services[i]->name, query) == NULL)
			continue;
		if (name != NULL && strcasecmp(fpd_services[i]->name,
		    name) != 0)
			continue;
		v[n++] = fpd_services[i];
	}
	qsort(v, n, sizeof *v, fpd_name_cmp);
	items = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(items, fpd_service_json(v[desc ?
		    n - 1 - i : i], full_ep));
	}
	free(v);
	fpd_reply(c, 200, fpd_page(&pg, "services", items));
}

static void
fpd_list_users(struct fpd_ctx *c)
{
	struct fpd_page	 pg;
	cJSON		*items;
	const char	*query;
	size_t		 i;

	if (fpd_page_args(c, &pg) != 0)
		return;
	query = sb_param(c->r, "query");
	items = cJSON_CreateArray();
	for (i = 0; i < fpd_nusers; i++) {
		if (query != NULL && *query != '\0' &&
		    strcasestr(fpd_users[i]->name, query) == NULL &&
		    strcasestr(fpd_users[i]->email, query) == NULL)
			continue;
		cJSON_AddItemToArray(items, fpd_user_json(fpd_users[i]));
	}
	fpd_reply(c, 200, fpd_page(&pg, "users", items));
}

static void
fpd_list_eps(struct fpd_ctx *c)
{
	struct fpd_page	 pg;
	cJSON		*items;
	const char	*query;
	size_t		 i;

	if (fpd_page_args(c, &pg) != 0)
		return;
	query = sb_param(c->r, "query");
	items = cJSON_CreateArray();
	for (i = 0; i < fpd_neps; i++) {
		if (query != NULL && *query != '\0' &&
		    strcasestr(fpd_eps[i]->name, query) == NULL)
			continue;
		cJSON_AddItemToArray(items, fpd_ep_json(fpd_eps[i]));
	}
	fpd_reply(c, 200, fpd_page(&pg, "escalation_policies", items));
}

static void
fpd_abilities_get(struct fpd_ctx *c, const char *name)
{
	cJSON	*o, *errors;
	size_t	 i;

	if (name == NULL) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "abilities",
		    cJSON_Duplicate(fpd_abilities, 1));
		fpd_reply(c, 200, o);
		return;
	}
	if (fpd_has_ability(name)) {
		fpd_reply(c, 204, NULL);
		return;
	}
	for (i = 0; i < FPD_NKNOWN; i++) {
		if (strcmp(fpd_known_abilities[i], name) == 0)
			break;
	}
	if (i == FPD_NKNOWN) {
		fpd_not_found(c);
		return;
	}
	errors = cJSON_CreateArray();
	fpd_adderr(errors, "Account does not have the ability: %s", name);
	fpd_error(c, 402, 2014, "Missing Account Ability", errors);
}

/* A {"id","type"} reference of the given type; the id or NULL. */
static const char *
fpd_ref_in(const cJSON *v, const char *type, const char *alt)
{
	const char	*t = sb_json_str(v, "type");

	if (!cJSON_IsObject(v) || t == NULL || (strcmp(t, type) != 0 &&
	    (alt == NULL || strcmp(t, alt) != 0)))
		return (NULL);
	return (sb_json_str(v, "id"));
}

static void
fpd_create_incident(struct fpd_ctx *c, struct fpd_user *from)
{
	const cJSON		*in_o, *v, *a;
	cJSON			*errors, *detail;
	struct fpd_service	*svc = NULL;
	struct fpd_ep		*ep = NULL;
	struct fpd_user		*assignee = NULL;
	struct fpd_incident	*in;
	struct fpd_incl		 inc;
	const char		*s, *title = NULL, *key = NULL;
	const char		*urgency = "high";
	const char		*details = NULL;
	size_t			 i;

	in_o = fpd_get(c->r->json, "incident");
	if (!cJSON_IsObject(in_o)) {
		fpd_invalid(c, "Incident must be an object");
		return;
	}
	errors = cJSON_CreateArray();
	s = sb_json_str(in_o, "type");
	if (s == NULL || strcmp(s, "incident") != 0)
		fpd_adderr(errors, "Type must be 'incident'");
	v = fpd_get(in_o, "title");
	if (!cJSON_IsString(v) || *v->valuestring == '\0' ||
	    strspn(v->valuestring, " \t\r\n") == strlen(v->valuestring))
		fpd_adderr(errors, "Title can't be blank");
	else if (sb_utf8_len(v->valuestring) > FPD_TITLE_MAX)
		fpd_adderr(errors, "Title is too long (maximum is %d "
		    "characters)", FPD_TITLE_MAX);
	else
		title = v->valuestring;
	v = fpd_get(in_o, "service");
	if (v == NULL || cJSON_IsNull(v))
		fpd_adderr(errors, "Service can't be blank");
	else if ((s = fpd_ref_in(v, "service_reference", "service")) == NULL)
		fpd_adderr(errors, "Service must be a service_reference with "
		    "an id");
	else if ((svc = fpd_service_find(s)) == NULL)
		fpd_adderr(errors, "Service not found");
	v = fpd_get(in_o, "urgency");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || (strcmp(v->valuestring,
		    "high") != 0 && strcmp(v->valuestring, "low") != 0))
			fpd_adderr(errors, "Urgency is not included in the "
			    "list");
		else
			urgency = strcmp(v->valuestring, "low") == 0 ? "low" :
			    "high";
	}
	v = fpd_get(in_o, "incident_key");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v) || *v->valuestring == '\0')
			fpd_adderr(errors, "Incident key must be a non-empty "
			    "string");
		else if (strlen(v->valuestring) > FPD_KEY_MAX)
			fpd_adderr(errors, "Incident key is too long (maximum "
			    "is %d characters)", FPD_KEY_MAX);
		else
			key = v->valuestring;
	}
	v = fpd_get(in_o, "body");
	if (v != NULL && !cJSON_IsNull(v)) {
		s = sb_json_str(v, "type");
		if (!cJSON_IsObject(v) || (s != NULL &&
		    strcmp(s, "incident_body") != 0))
			fpd_adderr(errors, "Body must be an incident_body");
		else if ((a = fpd_get(v, "details")) != NULL &&
		    !cJSON_IsNull(a) && !cJSON_IsString(a))
			/* The creation API only supports string bodies. */
			fpd_adderr(errors, "Body details must be a string");
		else if (cJSON_IsString(a))
			details = a->valuestring;
	}
	v = fpd_get(in_o, "priority");
	if (v != NULL && !cJSON_IsNull(v))
		fpd_adderr(errors, "Priority not found");
	v = fpd_get(in_o, "conference_bridge");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsObject(v) || ((a = fpd_get(v,
		    "conference_number")) != NULL && !cJSON_IsString(a) &&
		    !cJSON_IsNull(a)) || ((a = fpd_get(v,
		    "conference_url")) != NULL && !cJSON_IsString(a) &&
		    !cJSON_IsNull(a)))
			fpd_adderr(errors, "Conference bridge must hold "
			    "string conference_number and conference_url");
		else if (cJSON_IsString(a = fpd_get(v, "conference_url")) &&
		    *a->valuestring != '\0' &&
		    strncmp(a->valuestring, "https://", 8) != 0 &&
		    strncmp(a->valuestring, "http://", 7) != 0)
			fpd_adderr(errors, "Conference url is not a valid URL");
	}
	a = fpd_get(in_o, "assignments");
	v = fpd_get(in_o, "escalation_policy");
	if (a != NULL && !cJSON_IsNull(a) && v != NULL && !cJSON_IsNull(v))
		fpd_adderr(errors, "Assignments cannot be specified if an "
		    "escalation policy is given");
	else if (a != NULL && !cJSON_IsNull(a)) {
		if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
			fpd_adderr(errors, "Assignments must be a non-empty "
			    "array");
		else if (cJSON_GetArraySize(a) > 1)
			fpd_adderr(errors, "Only one assignee is supported at "
			    "this time");
		else if ((s = fpd_ref_in(fpd_get(cJSON_GetArrayItem(a, 0),
		    "assignee"), "user_reference", "user")) == NULL)
			fpd_adderr(errors, "Assignee must be a user_reference "
			    "with an id");
		else if ((assignee = fpd_user_by_id(s)) == NULL) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1007, "Assigned To User Not Found",
			    NULL);
			return;
		}
	} else if (v != NULL && !cJSON_IsNull(v)) {
		if ((s = fpd_ref_in(v, "escalation_policy_reference",
		    "escalation_policy")) == NULL)
			fpd_adderr(errors, "Escalation policy must be an "
			    "escalation_policy_reference with an id");
		else if ((ep = fpd_ep_find(s)) == NULL) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1014, "Escalation Policy Not Found",
			    NULL);
			return;
		}
	}
	if (fpd_errors_reply(c, errors))
		return;

	/* An open incident with the key on the service: refused. */
	for (i = 0; key != NULL && i < fpd_nincidents; i++) {
		in = fpd_incidents[i];
		if (in->svc == svc && in->incident_key != NULL &&
		    strcmp(in->incident_key, key) == 0 &&
		    strcmp(in->status, "resolved") != 0) {
			detail = cJSON_CreateArray();
			fpd_adderr(detail, "Open incident with matching dedup "
			    "key already exists on this service");
			fpd_error(c, 400, 2002, "Arguments Caused Error",
			    detail);
			return;
		}
	}

	in = sb_calloc(1, sizeof *in);
	fpd_new_id("P", in->id, sizeof in->id);
	in->number = ++fpd_next_number;
	in->title = sb_strdup(title);
	in->status = "triggered";
	in->incident_key = key != NULL ? sb_strdup(key) : NULL;
	in->urgency = urgency;
	in->svc = svc;
	in->details = details != NULL ? sb_strdup(details) : NULL;
	v = fpd_get(in_o, "conference_bridge");
	in->bridge = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : NULL;
	in->created = in->updated = in->changed = fpd_now();
	in->changed_by = from;
	in->logs = cJSON_CreateArray();
	in->responders = cJSON_CreateArray();
	in->rrs = cJSON_CreateArray();
	in->notes = cJSON_CreateArray();
	svc->last_incident = in->created;
	fpd_incidents = sb_realloc(fpd_incidents, fpd_nincidents + 1,
	    sizeof *fpd_incidents);
	fpd_incidents[fpd_nincidents++] = in;
	fpd_log_add(in, "trigger_log_entry", from, "api", "Triggered through "
	    "the API");
	if (assignee != NULL) {
		in->ep = svc->ep;
		in->level = 1;
		fpd_assign_set(in, &assignee, 1);
		fpd_assign_log(in, assignee, from, "api");
	} else
		fpd_route(in, ep != NULL ? ep : svc->ep, 1, from, "api", NULL);
	fpd_webhook_incident(in, "incident.triggered", from);
	/* Assigning oneself creates the incident acknowledged. */
	if (assignee == from)
		fpd_set_status(in, "acknowledged", from, "api");
	fpd_incl_parse(c, &inc);
	inc.conference_bridge = in->bridge != NULL;
	fpd_reply(c, 201, fpd_json_wrap("incident", fpd_incident_json(in,
	    &inc)));
}

static int
fpd_incident_cmp_num(const void *a, const void *b)
{
	const struct fpd_incident *ia = *(struct fpd_incident * const *)a;
	const struct fpd_incident *ib = *(struct fpd_incident * const *)b;

	return (ia->number - ib->number);
}

static void
fpd_list_incidents(struct fpd_ctx *c)
{
	static const char *statuses[] = { "triggered", "acknowledged",
	    "resolved" };
	struct fpd_incident	**v;
	struct fpd_page		  pg;
	struct fpd_incl		  inc;
	cJSON			 *items;
	const char		 *s, *key, *sort;
	int64_t			  since, until;
	size_t			  i, k, n = 0;
	int			  n_st = 0, n_svc = 0, n_usr = 0, n_urg = 0;
	int			  desc = 0, ok, j;

	if (fpd_page_args(c, &pg) != 0)
		return;
	for (j = 0; (s = sb_param_n(c->r, "statuses[]", j)) != NULL; j++) {
		for (k = 0; k < 3 && strcmp(s, statuses[k]) != 0; k++)
			;
		if (k == 3) {
			fpd_invalid(c, "Statuses must be triggered, "
			    "acknowledged or resolved");
			return;
		}
		n_st++;
	}
	for (j = 0; (s = sb_param_n(c->r, "urgencies[]", j)) != NULL; j++) {
		if (strcmp(s, "high") != 0 && strcmp(s, "low") != 0) {
			fpd_invalid(c, "Urgencies must be high or low");
			return;
		}
		n_urg++;
	}
	while (sb_param_n(c->r, "service_ids[]", n_svc) != NULL)
		n_svc++;
	while (sb_param_n(c->r, "user_ids[]", n_usr) != NULL)
		n_usr++;
	sort = sb_param(c->r, "sort_by");
	if (sort != NULL) {
		if (strcmp(sort, "incident_number:desc") == 0 ||
		    strcmp(sort, "created_at:desc") == 0)
			desc = 1;
		else if (strcmp(sort, "incident_number") != 0 &&
		    strcmp(sort, "incident_number:asc") != 0 &&
		    strcmp(sort, "created_at") != 0 &&
		    strcmp(sort, "created_at:asc") != 0) {
			fpd_invalid(c, "Sort by is not included in the list");
			return;
		}
	}
	/* Without date_range=all, the default window is the last month. */
	until = fpd_now() + 1;
	since = until - 30 * FPD_DAY_MS;
	s = sb_param(c->r, "date_range");
	if (s != NULL && strcmp(s, "all") != 0) {
		fpd_invalid(c, "Date range is not included in the list");
		return;
	}
	if (s != NULL) {
		since = INT64_MIN;
		until = INT64_MAX;
	} else {
		if ((s = sb_param(c->r, "since")) != NULL &&
		    fpd_parse_time(s, &since) != 0) {
			fpd_error(c, 400, 2004, "Invalid time values in "
			    "'since' and/or 'until' parameters", NULL);
			return;
		}
		if ((s = sb_param(c->r, "until")) != NULL &&
		    fpd_parse_time(s, &until) != 0) {
			fpd_error(c, 400, 2004, "Invalid time values in "
			    "'since' and/or 'until' parameters", NULL);
			return;
		}
		if (until < since || until - since > 183 * FPD_DAY_MS) {
			fpd_error(c, 400, 2005, "Invalid Query Date Range",
			    NULL);
			return;
		}
	}
	key = sb_param(c->r, "incident_key");
	fpd_incl_parse(c, &inc);
	v = sb_calloc(fpd_nincidents + 1, sizeof *v);
	for (i = 0; i < fpd_nincidents; i++) {
		struct fpd_incident *in = fpd_incidents[i];

		if (in->created < since || in->created >= until)
			continue;
		if (key != NULL && (in->incident_key == NULL ||
		    strcmp(in->incident_key, key) != 0))
			continue;
		ok = n_st == 0;
		for (j = 0; j < n_st && !ok; j++)
			ok = strcmp(sb_param_n(c->r, "statuses[]", j),
			    in->status) == 0;
		for (j = 0; j < n_svc && ok; j++) {
			if (strcmp(sb_param_n(c->r, "service_ids[]", j),
			    in->svc->id) == 0)
				break;
		}
		if (n_svc > 0 && j == n_svc)
			ok = 0;
		for (j = 0; j < n_urg && ok; j++) {
			if (strcmp(sb_param_n(c->r, "urgencies[]", j),
			    in->urgency) == 0)
				break;
		}
		if (n_urg > 0 && j == n_urg)
			ok = 0;
		for (j = 0; j < n_usr && ok; j++) {
			if (fpd_assigned(in, fpd_user_by_id(sb_param_n(c->r,
			    "user_ids[]", j))))
				break;
		}
		if (n_usr > 0 && j == n_usr)
			ok = 0;
		if (ok)
			v[n++] = in;
	}
	qsort(v, n, sizeof *v, fpd_incident_cmp_num);
	items = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(items, fpd_incident_json(v[desc ?
		    n - 1 - i : i], &inc));
	free(v);
	fpd_reply(c, 200, fpd_page(&pg, "incidents", items));
}

static void
fpd_update_incident(struct fpd_ctx *c, struct fpd_incident *in,
    struct fpd_user *from)
{
	const cJSON	*o, *v, *a;
	cJSON		*errors;
	struct fpd_incl	 inc;
	struct fpd_user	*assignee = NULL;
	struct fpd_ep	*ep = NULL;
	const char	*s, *status = NULL, *title = NULL, *urgency = NULL;
	long long	 level = 0;

	o = fpd_get(c->r->json, "incident");
	if (!cJSON_IsObject(o)) {
		fpd_invalid(c, "Incident must be an object");
		return;
	}
	errors = cJSON_CreateArray();
	s = sb_json_str(o, "type");
	if (s == NULL || (strcmp(s, "incident") != 0 &&
	    strcmp(s, "incident_reference") != 0))
		fpd_adderr(errors, "Type must be 'incident' or "
		    "'incident_reference'");
	v = fpd_get(o, "status");
	if (v != NULL) {
		if (!cJSON_IsString(v) || (strcmp(v->valuestring,
		    "acknowledged") != 0 && strcmp(v->valuestring,
		    "resolved") != 0 && strcmp(v->valuestring,
		    "triggered") != 0)) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1003, "Invalid Status Provided",
			    NULL);
			return;
		}
		status = v->valuestring;
	}
	v = fpd_get(o, "title");
	if (v != NULL) {
		if (!cJSON_IsString(v) || *v->valuestring == '\0')
			fpd_adderr(errors, "Title can't be blank");
		else if (sb_utf8_len(v->valuestring) > FPD_TITLE_MAX)
			fpd_adderr(errors, "Title is too long (maximum is %d "
			    "characters)", FPD_TITLE_MAX);
		else
			title = v->valuestring;
	}
	v = fpd_get(o, "urgency");
	if (v != NULL) {
		if (!cJSON_IsString(v) || (strcmp(v->valuestring,
		    "high") != 0 && strcmp(v->valuestring, "low") != 0))
			fpd_adderr(errors, "Urgency is not included in the "
			    "list");
		else
			urgency = strcmp(v->valuestring, "low") == 0 ? "low" :
			    "high";
	}
	a = fpd_get(o, "assignments");
	if (a != NULL) {
		if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1 ||
		    (s = fpd_ref_in(fpd_get(cJSON_GetArrayItem(a, 0),
		    "assignee"), "user_reference", "user")) == NULL)
			fpd_adderr(errors, "Assignments must hold one "
			    "user_reference assignee");
		else if ((assignee = fpd_user_by_id(s)) == NULL) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1007, "Assigned To User Not Found",
			    NULL);
			return;
		}
	}
	v = fpd_get(o, "escalation_policy");
	if (v != NULL) {
		if ((s = fpd_ref_in(v, "escalation_policy_reference",
		    "escalation_policy")) == NULL)
			fpd_adderr(errors, "Escalation policy must be an "
			    "escalation_policy_reference with an id");
		else if ((ep = fpd_ep_find(s)) == NULL) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1014, "Escalation Policy Not Found",
			    NULL);
			return;
		}
	}
	v = fpd_get(o, "escalation_level");
	if (v != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
		    v->valuedouble != (int)v->valuedouble ||
		    (size_t)v->valueint > (ep != NULL ? ep : in->ep)->nlevels) {
			cJSON_Delete(errors);
			fpd_error(c, 400, 1006, "Cannot Escalate", NULL);
			return;
		}
		level = v->valueint;
	}
	if (assignee != NULL && (ep != NULL || level != 0))
		fpd_adderr(errors, "Assignments cannot be combined with an "
		    "escalation policy or level");
	if (fpd_errors_reply(c, errors))
		return;
	if (status != NULL && strcmp(status, "resolved") == 0 &&
	    strcmp(in->status, "resolved") == 0) {
		fpd_error(c, 400, 1001, "Incident Already Resolved", NULL);
		return;
	}
	if (title != NULL) {
		free(in->title);
		in->title = sb_strdup(title);
	}
	if (urgency != NULL && strcmp(urgency, in->urgency) != 0) {
		in->urgency = urgency;
		fpd_log_add(in, "urgency_change_log_entry", from, "api",
		    "Urgency changed");
	}
	if (assignee != NULL)
		fpd_reassign(in, assignee, from, "api");
	else if (ep != NULL && ep != in->ep)
		fpd_delegate(in, ep, level != 0 ? (int)level : 1, from, "api");
	else if (ep != NULL || level != 0)
		fpd_escalate(in, level != 0 ? (int)level : 1, from, "api");
	if (status != NULL)
		fpd_set_status(in, status, from, "api");
	in->updated = fpd_now();
	fpd_incl_parse(c, &inc);
	fpd_reply(c, 200, fpd_json_wrap("incident", fpd_incident_json(in,
	    &inc)));
}

static void
fpd_responder_requests(struct fpd_ctx *c, struct fpd_incident *in)
{
	const cJSON	*targets, *w, *t;
	cJSON		*errors, *rr, *tl, *rp, *te;
	struct fpd_user	*req, *u, *added[64];
	struct fpd_ep	*ep;
	const char	*s, *msg, *type, *id;
	cJSON		*le;
	char		*summary;
	double		 now;
	size_t		 nadded = 0, k;

	if (!fpd_has_ability("coordinated_responding")) {
		errors = cJSON_CreateArray();
		fpd_adderr(errors, "Account does not have the ability: "
		    "coordinated_responding");
		fpd_error(c, 402, 2014, "Missing Account Ability", errors);
		return;
	}
	s = sb_json_str(c->r->json, "requester_id");
	if (s == NULL || *s == '\0') {
		fpd_error(c, 400, 2011, "You must specify a requester_id to "
		    "perform this action", NULL);
		return;
	}
	if ((req = fpd_user_by_id(s)) == NULL) {
		fpd_error(c, 400, 1008, "Requester User Not Found", NULL);
		return;
	}
	errors = cJSON_CreateArray();
	msg = sb_json_str(c->r->json, "message");
	if (msg == NULL || *msg == '\0')
		fpd_adderr(errors, "Message can't be blank");
	targets = fpd_get(c->r->json, "responder_request_targets");
	if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) == 0)
		fpd_adderr(errors, "Responder request targets must be a "
		    "non-empty array");
	else if (cJSON_GetArraySize(targets) > 64)
		fpd_adderr(errors, "Too many responder request targets");
	cJSON_ArrayForEach(w, targets) {
		/* The documented, wrapped form only. */
		t = fpd_get(w, "responder_request_target");
		type = sb_json_str(t, "type");
		id = sb_json_str(t, "id");
		if (!cJSON_IsObject(t) || type == NULL || id == NULL) {
			fpd_adderr(errors, "Each target must be "
			    "{\"responder_request_target\":{\"id\",\"type\"}}");
			break;
		}
		if (strcmp(type, "user_reference") == 0 ||
		    strcmp(type, "user") == 0) {
			if (fpd_user_by_id(id) == NULL)
				fpd_adderr(errors, "User %s not found", id);
		} else if (strcmp(type, "escalation_policy_reference") == 0 ||
		    strcmp(type, "escalation_policy") == 0) {
			if (fpd_ep_find(id) == NULL)
				fpd_adderr(errors, "Escalation policy %s not "
				    "found", id);
		} else
			fpd_adderr(errors, "Target type must be user_reference "
			    "or escalation_policy_reference");
	}
	if (strcmp(in->status, "resolved") == 0)
		fpd_adderr(errors, "Cannot add responders to a resolved "
		    "incident");
	if (fpd_errors_reply(c, errors))
		return;

	now = (double)fpd_now();
	rr = cJSON_CreateObject();
	cJSON_AddStringToObject(rr, "requester", req->id);
	cJSON_AddStringToObject(rr, "message", msg);
	cJSON_AddNumberToObject(rr, "at", now);
	tl = cJSON_AddArrayToObject(rr, "targets");
	cJSON_ArrayForEach(w, targets) {
		t = fpd_get(w, "responder_request_target");
		type = sb_json_str(t, "type");
		id = sb_json_str(t, "id");
		te = cJSON_CreateObject();
		if (strncmp(type, "user", 4) == 0) {
			cJSON_AddStringToObject(te, "type", "user");
			u = fpd_user_by_id(id);
		} else {
			cJSON_AddStringToObject(te, "type",
			    "escalation_policy");
			ep = fpd_ep_find(id);
			/* The policy's first level answers for it. */
			u = ep->levels[0];
		}
		cJSON_AddStringToObject(te, "id", id);
		cJSON_AddItemToArray(tl, te);
		rp = cJSON_CreateObject();
		cJSON_AddStringToObject(rp, "user", u->id);
		cJSON_AddStringToObject(rp, "state", "pending");
		cJSON_AddStringToObject(rp, "requester", req->id);
		cJSON_AddStringToObject(rp, "message", msg);
		cJSON_AddStringToObject(rp, "target", id);
		cJSON_AddNumberToObject(rp, "at", now);
		cJSON_AddNumberToObject(rp, "updated", now);
		cJSON_AddItemToArray(in->responders, rp);
		/* Requested responders are assigned and notified. */
		for (k = 0; k < nadded && added[k] != u; k++)
			;
		if (k == nadded && nadded < sizeof added / sizeof added[0])
			added[nadded++] = u;
		fpd_assign_add(in, u);
	}
	cJSON_AddItemToArray(in->rrs, rr);
	sb_asprintf(&summary, "Responders requested by %s", req->name);
	le = fpd_log_add(in, "assign_log_entry", req, "api", summary);
	free(summary);
	fpd_log_assignees(le, added, nadded);
	fpd_log_message(le, msg);
	for (k = 0; k < nadded; k++)
		fpd_log_notify(in, added[k]);
	in->updated = fpd_now();
	cJSON_ArrayForEach(rp, in->responders) {
		if (fpd_get(rp, "at")->valuedouble == now)
			fpd_webhook_responder(in, "incident.responder.added",
			    rp, req);
	}
	fpd_reply(c, 200, fpd_json_wrap("responder_request", fpd_rr_json(in,
	    rr)));
}


/* POST /incidents/{id}/notes {"note":{"content"}} -> 200 {"note"}. */
static void
fpd_notes_create(struct fpd_ctx *c, struct fpd_incident *in,
    struct fpd_user *from)
{
	const char	*content;
	cJSON		*n, *errors;

	content = sb_json_str(fpd_get(c->r->json, "note"), "content");
	if (content == NULL || *content == '\0') {
		fpd_invalid(c, "Note content can't be blank");
		return;
	}
	if ((n = fpd_note_add(in, from, content, "note")) == NULL) {
		errors = cJSON_CreateArray();
		fpd_adderr(errors, "An incident can have at most %d notes",
		    FPD_NOTES_MAX);
		fpd_error(c, 400, 2001, "Invalid Input Provided", errors);
		return;
	}
	fpd_reply(c, 200, fpd_json_wrap("note", fpd_note_json(n)));
}

static void
fpd_notes_list(struct fpd_ctx *c, struct fpd_incident *in)
{
	const cJSON	*n;
	cJSON		*a;

	a = cJSON_CreateArray();
	cJSON_ArrayForEach(n, in->notes)
		cJSON_AddItemToArray(a, fpd_note_json(n));
	fpd_reply(c, 200, fpd_json_wrap("notes", a));
}

static void
fpd_oncalls(struct fpd_ctx *c)
{
	struct fpd_page	 pg;
	const char	*s;
	cJSON		*items, *o;
	size_t		 i, l;
	int		 n_ep = 0, n_usr = 0, j, full_users, full_eps;
	int		 earliest;

	if (fpd_page_args(c, &pg) != 0 || fpd_param_bool(c, "earliest",
	    &earliest) != 0)
		return;
	if (((s = sb_param(c->r, "since")) != NULL ||
	    (s = sb_param(c->r, "until")) != NULL)) {
		int64_t t;

		if (fpd_parse_time(s, &t) != 0) {
			fpd_error(c, 400, 2004, "Invalid time values in "
			    "'since' and/or 'until' parameters", NULL);
			return;
		}
	}
	while (sb_param_n(c->r, "escalation_policy_ids[]", n_ep) != NULL)
		n_ep++;
	while (sb_param_n(c->r, "user_ids[]", n_usr) != NULL)
		n_usr++;
	full_users = fpd_param_has(c, "include[]", "users");
	full_eps = fpd_param_has(c, "include[]", "escalation_policies");
	items = cJSON_CreateArray();
	for (i = 0; i < fpd_neps; i++) {
		for (j = 0; j < n_ep; j++) {
			if (strcmp(sb_param_n(c->r, "escalation_policy_ids[]",
			    j), fpd_eps[i]->id) == 0)
				break;
		}
		if (n_ep > 0 && j == n_ep)
			continue;
		for (l = 0; l < fpd_eps[i]->nlevels; l++) {
			struct fpd_user *u = fpd_eps[i]->levels[l];

			for (j = 0; j < n_usr; j++) {
				if (strcmp(sb_param_n(c->r, "user_ids[]", j),
				    u->id) == 0)
					break;
			}
			if (n_usr > 0 && j == n_usr)
				continue;
			o = cJSON_CreateObject();
			cJSON_AddItemToObject(o, "escalation_policy", full_eps ?
			    fpd_ep_json(fpd_eps[i]) : fpd_ep_ref(fpd_eps[i]));
			cJSON_AddNumberToObject(o, "escalation_level",
			    (double)(l + 1));
			/* Direct user targets: no schedule, permanent. */
			cJSON_AddNullToObject(o, "schedule");
			cJSON_AddItemToObject(o, "user", full_users ?
			    fpd_user_json(u) : fpd_user_ref(u));
			cJSON_AddNullToObject(o, "start");
			cJSON_AddNullToObject(o, "end");
			cJSON_AddItemToArray(items, o);
		}
	}
	fpd_reply(c, 200, fpd_page(&pg, "oncalls", items));
}

/* ---------------------------------------------------------------------- */
/* Routing. */

static int
fpd_ctype_json(struct fpd_ctx *c)
{
	const char	*ct = sb_header(c->r, "Content-Type");
	size_t		 n = strlen("application/json");

	return (ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '));
}

/* The JSON body of a POST/PUT; 0 or -1 after answering. */
static int
fpd_body(struct fpd_ctx *c)
{
	if (!fpd_ctype_json(c)) {
		/* What PagerDuty says when the body is not JSON. */
		fpd_invalid(c, "params must be a Hash");
		return (-1);
	}
	if (!cJSON_IsObject(c->r->json)) {
		fpd_invalid(c, "The request body must be a JSON object");
		return (-1);
	}
	return (0);
}

static void
fpd_handle(struct sb_req *r)
{
	struct fpd_ctx		 c;
	struct fpd_incident	*in;
	struct fpd_user		*u, *from;
	struct fpd_service	*svc;
	struct fpd_ep		*ep;
	struct fpd_incl		 inc;
	char			*path, *seg[6], *save = NULL, *tok;
	const char		*accept;
	size_t			 nseg = 0;
	int			 get, post, put;

	memset(&c, 0, sizeof c);
	c.r = r;
	if (fpd_ratelimit(&c, &fpd_windows[fpd_auth_ok(&c) ? 0 : 1]))
		return;
	if (!fpd_auth_ok(&c)) {
		fpd_error(&c, 401, 2006, "Authentication failed", NULL);
		return;
	}
	/*
	 * Without Accept the token's default version (2) answers; an
	 * explicit vnd.pagerduty version must be 2.
	 */
	accept = sb_header(r, "Accept");
	if (accept != NULL && strcasestr(accept, "vnd.pagerduty+json") !=
	    NULL && strstr(accept, "version=2") == NULL) {
		fpd_error(&c, 406, 2001, "Unsupported API version requested",
		    NULL);
		return;
	}
	get = strcmp(r->method, "GET") == 0;
	post = strcmp(r->method, "POST") == 0;
	put = strcmp(r->method, "PUT") == 0;
	path = sb_strdup(r->path);
	for (tok = strtok_r(path, "/", &save); tok != NULL && nseg < 6;
	    tok = strtok_r(NULL, "/", &save))
		seg[nseg++] = tok;
	if (tok != NULL || nseg == 0) {
		fpd_not_found(&c);
		goto out;
	}

	if (strcmp(seg[0], "services") == 0 && nseg <= 2 && get) {
		if (nseg == 1)
			fpd_list_services(&c);
		else if ((svc = fpd_service_find(seg[1])) == NULL)
			fpd_not_found(&c);
		else
			fpd_reply(&c, 200, fpd_json_wrap("service",
			    fpd_service_json(svc, fpd_param_has(&c,
			    "include[]", "escalation_policies"))));
	} else if (strcmp(seg[0], "users") == 0 && nseg <= 2 && get) {
		if (nseg == 1)
			fpd_list_users(&c);
		else if (strcmp(seg[1], "me") == 0)
			fpd_invalid(&c, "Because this request was made using "
			    "an account-level access token, we were unable to "
			    "resolve the 'me' user.");
		else if ((u = fpd_user_by_id(seg[1])) == NULL)
			fpd_not_found(&c);
		else
			fpd_reply(&c, 200, fpd_json_wrap("user",
			    fpd_user_json(u)));
	} else if (strcmp(seg[0], "escalation_policies") == 0 && nseg <= 2 &&
	    get) {
		if (nseg == 1)
			fpd_list_eps(&c);
		else if ((ep = fpd_ep_find(seg[1])) == NULL)
			fpd_not_found(&c);
		else
			fpd_reply(&c, 200, fpd_json_wrap("escalation_policy",
			    fpd_ep_json(ep)));
	} else if (strcmp(seg[0], "abilities") == 0 && nseg <= 2 && get)
		fpd_abilities_get(&c, nseg == 2 ? seg[1] : NULL);
	else if (strcmp(seg[0], "oncalls") == 0 && nseg == 1 && get)
		fpd_oncalls(&c);
	else if (strcmp(seg[0], "log_entries") == 0 && nseg <= 2 && get) {
		if (nseg == 1)
			fpd_log_entries(&c, NULL);
		else
			fpd_log_entry(&c, seg[1]);
	}
	else if (strcmp(seg[0], "incidents") == 0 && nseg == 1 && get)
		fpd_list_incidents(&c);
	else if (strcmp(seg[0], "incidents") == 0 && nseg == 1 && post) {
		if ((from = fpd_from(&c)) != NULL && fpd_body(&c) == 0)
			fpd_create_incident(&c, from);
	} else if (strcmp(seg[0], "incidents") == 0 && nseg >= 2 && nseg <= 3) {
		in = fpd_incident_find(seg[1]);
		if (nseg == 2 && get) {
			if (in == NULL)
				fpd_not_found(&c);
			else {
				fpd_incl_parse(&c, &inc);
				fpd_reply(&c, 200, fpd_json_wrap("incident",
				    fpd_incident_json(in, &inc)));
			}
		} else if (nseg == 2 && put) {
			if ((from = fpd_from(&c)) == NULL ||
			    fpd_body(&c) != 0)
				goto out;
			if (in == NULL)
				fpd_not_found(&c);
			else
				fpd_update_incident(&c, in, from);
		} else if (nseg == 3 && strcmp(seg[2],
		    "responder_requests") == 0 && post) {
			if (in == NULL)
				fpd_not_found(&c);
			else if (fpd_body(&c) == 0)
				fpd_responder_requests(&c, in);
		} else if (nseg == 3 && strcmp(seg[2], "notes") == 0 &&
		    (get || post)) {
			if (post && ((from = fpd_from(&c)) == NULL ||
			    fpd_body(&c) != 0))
				goto out;
			if (in == NULL)
				fpd_not_found(&c);
			else if (post)
				fpd_notes_create(&c, in, from);
			else
				fpd_notes_list(&c, in);
		} else if (nseg == 3 && strcmp(seg[2], "log_entries") == 0 &&
		    get) {
			if (in == NULL)
				fpd_not_found(&c);
			else
				fpd_log_entries(&c, in);
		} else
			fpd_not_found(&c);
	} else
		fpd_not_found(&c);
out:
	free(path);
}


static void
fpd_init(void)
{
	fpd_state_reset();
}

static void
fpd_shutdown(void)
{
	fpd_state_free();
}
