/*
 * pagerduty.h: internals of the fake PagerDuty, shared by its files:
 *
 *   fake-pagerduty.c		the account model, the REST dispatcher and
 *				its endpoints; the list of control ops
 *   pagerduty-log.c		incident log entries: recorded, rendered
 *				and listed (GET .../log_entries)
 *   pagerduty-control.c	control ops: what people and PagerDuty
 *				itself do to incidents
 *   pagerduty-webhooks.c	v3 webhook subscriptions, signed deliveries
 *				with retries, and forged ones for tests
 */
#ifndef PAGERDUTY_H
#define PAGERDUTY_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct sb_req;

#define FPD_DEFAULT_TOKEN	"pd-token"
#define FPD_RATE_DEFAULT	960
#define FPD_WINDOW_MS		60000
#define FPD_LIMIT_DEFAULT	25
#define FPD_LIMIT_MAX		100
#define FPD_OFFSET_MAX		10000
#define FPD_TITLE_MAX		1024
#define FPD_KEY_MAX		255
#define FPD_DAY_MS		(86400LL * 1000)
#define FPD_MAX_SERVICES	25000
#define FPD_MAX_USERS		5000
/* The services' timeouts: what pending_actions announce. */
#define FPD_ESCALATION_DELAY_S	(30 * 60)
#define FPD_ACK_TIMEOUT_S	(30 * 60)
#define FPD_AUTO_RESOLVE_S	(4 * 3600)
#define FPD_NOTES_MAX		2000

#define fpd_get(o, k)	cJSON_GetObjectItemCaseSensitive((o), (k))

struct fpd_user {
	char	*id;
	char	*name;
	char	*email;
};

/* Escalation policy whose levels each target one user directly. */
struct fpd_ep {
	char			 *id;
	char			 *name;
	struct fpd_user		**levels;
	size_t			  nlevels;
};

struct fpd_service {
	char		*id;
	char		*name;
	char		*description;
	struct fpd_ep	*ep;
	int64_t		 created;
	int64_t		 last_incident;
};

struct fpd_assign {
	struct fpd_user	*user;
	int64_t		 at;
};

struct fpd_incident {
	char			 id[16];
	int			 number;
	char			*title;
	const char		*status;
	char			*incident_key;	/* or NULL */
	const char		*urgency;
	struct fpd_service	*svc;
	struct fpd_ep		*ep;
	int			 level;		/* escalation level */
	char			*details;	/* body.details or NULL */
	cJSON			*bridge;	/* conference_bridge */
	struct fpd_assign	*assign;
	size_t			 nassign;
	int			 via_ep;
	struct fpd_assign	*acks;
	size_t			 nacks;
	int64_t			 created;
	int64_t			 updated;
	int64_t			 changed;
	int64_t			 resolved;
	struct fpd_user		*changed_by;	/* NULL: service */
	cJSON			*logs;		/* log entries */
	cJSON			*responders;	/* responders */
	cJSON			*rrs;		/* responder reqs */
	cJSON			*notes;
};

/* Sliding window of request times for one key. */
struct fpd_window {
	uint64_t	*ts;
	size_t		 n;
};

/* One request being answered. */
struct fpd_ctx {
	struct sb_req	*r;
	const char	*hdrs[8];
	char		 hbuf[6][96];
	size_t		 nhdrs;
};

/* Which include[] values were asked for. */
struct fpd_incl {
	int	assignees;
	int	acknowledgers;
	int	services;
	int	escalation_policies;
	int	conference_bridge;
	int	first_trigger;
	int	body;
	int	agents;
};

/* include[] of the log entry endpoints. */
struct fpd_log_incl {
	int	incidents;
	int	services;
	int	channels;
};

/* Classic pagination parameters. */
struct fpd_page {
	long long	limit;
	long long	offset;
	int		total;
};

/* fake-pagerduty.c: state. */
extern struct fpd_user		**fpd_users;
extern size_t			  fpd_nusers;
extern struct fpd_ep		**fpd_eps;
extern size_t			  fpd_neps;
extern struct fpd_service	**fpd_services;
extern size_t			  fpd_nservices;
extern struct fpd_incident	**fpd_incidents;
extern size_t			  fpd_nincidents;
extern cJSON			 *fpd_abilities;	/* array of names */
extern unsigned long		  fpd_next_id;
extern int			  fpd_per_minute;
/* [0] the account key, [1] everything else. */
extern struct fpd_window	  fpd_windows[2];

/* fake-pagerduty.c: helpers and the model. */
int64_t	 fpd_now(void);
/* Times as PagerDuty renders them ("2015-10-06T21:30:42Z"; millis adds
 * ".169"), in the zone of the request's time_zone= while it lasts. */
void	 fpd_time_str(int64_t, int millis, char *, size_t);
cJSON	*fpd_time_json(int64_t);		/* null for 0 */
/* time_zone=: 0, or -1 after answering 400; fpd_zone_end after. */
int	 fpd_zone_begin(struct fpd_ctx *);
void	 fpd_zone_end(void);
/* ISO 8601 date or date-time with Z or an offset; 0 or -1. */
int	 fpd_parse_time(const char *, int64_t *);
char	*fpd_base(char *, size_t);
void	 fpd_new_id(const char *, char *, size_t);
struct fpd_user *fpd_user_find(const char *);	/* id or email */
struct fpd_user *fpd_user_by_id(const char *);
struct fpd_ep *fpd_ep_find(const char *);
struct fpd_service *fpd_service_find(const char *);
struct fpd_incident *fpd_incident_find(const char *);	/* id or number */
int	 fpd_has_ability(const char *);
int	 fpd_is_email(const char *);
struct fpd_user *fpd_user_add(const char *, const char *, const char *);
struct fpd_ep *fpd_ep_add(const char *, const char *, struct fpd_user **,
	    size_t);
struct fpd_service *fpd_service_add(const char *, const char *,
	    const char *, struct fpd_ep *);
void	 fpd_state_reset(void);

/* fake-pagerduty.c: incident actions, by a user or (by NULL) by
 * PagerDuty's timeouts; each logs and tells the webhooks. */
void	 fpd_set_status(struct fpd_incident *, const char *status,
	    struct fpd_user *by, const char *channel);
void	 fpd_escalate(struct fpd_incident *, int level, struct fpd_user *by,
	    const char *channel);
void	 fpd_reassign(struct fpd_incident *, struct fpd_user *,
	    struct fpd_user *by, const char *channel);
/* A note; NULL if the incident has its maximum. */
cJSON	*fpd_note_add(struct fpd_incident *, struct fpd_user *,
	    const char *content, const char *channel);

/* fake-pagerduty.c: rendering. */
cJSON	*fpd_user_ref(const struct fpd_user *);
cJSON	*fpd_user_json(const struct fpd_user *);
cJSON	*fpd_ep_ref(const struct fpd_ep *);
cJSON	*fpd_service_ref(const struct fpd_service *);
cJSON	*fpd_service_json(const struct fpd_service *, int);
cJSON	*fpd_incident_ref(const struct fpd_incident *);
cJSON	*fpd_incident_json(const struct fpd_incident *,
	    const struct fpd_incl *);
cJSON	*fpd_responder_json(const struct fpd_incident *, const cJSON *);

/* fake-pagerduty.c: answers and parameters. */
void	 fpd_reply(struct fpd_ctx *, int, cJSON *);
void	 fpd_error(struct fpd_ctx *, int, int, const char *, cJSON *);
void	 fpd_invalid(struct fpd_ctx *, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 fpd_not_found(struct fpd_ctx *);
int	 fpd_param_bool(struct fpd_ctx *, const char *, int *);
int	 fpd_param_has(struct fpd_ctx *, const char *, const char *);
int	 fpd_page_args(struct fpd_ctx *, struct fpd_page *);
cJSON	*fpd_page(const struct fpd_page *, const char *, cJSON *);
cJSON	*fpd_json_wrap(const char *, cJSON *);
void	 fpd_add_str(cJSON *, const char *, const char *);	/* or null */

/* pagerduty-log.c: log entries. by NULL: the incident's service. */
cJSON	*fpd_log_add(struct fpd_incident *, const char *type,
	    const struct fpd_user *by, const char *channel,
	    const char *summary);
void	 fpd_log_assignees(cJSON *, struct fpd_user **, size_t);
/* The request's message, as the entry's channel summary. */
void	 fpd_log_message(cJSON *, const char *);
/* notify_log_entry: an email to the user. */
void	 fpd_log_notify(struct fpd_incident *, struct fpd_user *);
cJSON	*fpd_log_json(const struct fpd_incident *, const cJSON *,
	    const struct fpd_log_incl *);
/* GET /incidents/{id}/log_entries, GET /log_entries (in NULL). */
void	 fpd_log_entries(struct fpd_ctx *, struct fpd_incident *);
/* GET /log_entries/{id}. */
void	 fpd_log_entry(struct fpd_ctx *, const char *);

/* pagerduty-control.c: POST /control/pagerduty/<op>. */
cJSON	*fpd_control(const char *, cJSON *);
cJSON	*fpd_ctl_error(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
cJSON	*fpd_ctl_ok(const char *, cJSON *);

/* pagerduty-webhooks.c: v3 webhook subscriptions and deliveries. */
/* An incident.* event whose data is the incident; agent NULL: PagerDuty. */
void	 fpd_webhook_incident(const struct fpd_incident *, const char *type,
	    const struct fpd_user *agent);
/* incident.annotated for a note. */
void	 fpd_webhook_note(const struct fpd_incident *, const cJSON *note,
	    const struct fpd_user *agent);
/* incident.responder.added or .replied for one responder record. */
void	 fpd_webhook_responder(const struct fpd_incident *, const char *type,
	    const cJSON *responder, const struct fpd_user *agent);
/* Control ops webhook, webhook_send and webhooks; NULL if not one. */
cJSON	*fpd_webhook_control(const char *, cJSON *);
/* Forget every subscription and delivery (reset and exit). */
void	 fpd_webhooks_clear(void);

#endif
