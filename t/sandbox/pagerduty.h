/*
 * pagerduty.h: internals of the fake PagerDuty, shared by its files:
 *
 *   fake-pagerduty.c		the account model, the REST dispatcher and
 *				its endpoints; the list of control ops
 *   pagerduty-log.c		incident log entries: recorded, rendered
 *				and listed (GET .../log_entries)
 *   pagerduty-control.c	control ops: what people and PagerDuty
 *				itself do to incidents
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
/* "2015-10-06T21:30:42Z", the format PagerDuty renders; null for 0. */
cJSON	*fpd_time_json(int64_t);
/* ISO 8601 date or date-time with Z or an offset; 0 or -1. */
int	 fpd_parse_time(const char *, int64_t *);
char	*fpd_base(char *, size_t);
void	 fpd_new_id(const char *, char *, size_t);
struct fpd_user *fpd_user_find(const char *);
struct fpd_user *fpd_user_by_id(const char *);
struct fpd_ep *fpd_ep_find(const char *);
struct fpd_service *fpd_service_find(const char *);
struct fpd_incident *fpd_incident_find(const char *);
int	 fpd_is_email(const char *);
struct fpd_user *fpd_user_add(const char *, const char *, const char *);
struct fpd_ep *fpd_ep_add(const char *, const char *, struct fpd_user **,
	    size_t);
struct fpd_service *fpd_service_add(const char *, const char *,
	    const char *, struct fpd_ep *);
void	 fpd_state_reset(void);
void	 fpd_set_status(struct fpd_incident *, const char *,
	    struct fpd_user *, const char *);

/* fake-pagerduty.c: rendering. */
cJSON	*fpd_user_ref(const struct fpd_user *);
cJSON	*fpd_user_json(const struct fpd_user *);
cJSON	*fpd_service_ref(const struct fpd_service *);
cJSON	*fpd_service_json(const struct fpd_service *, int);
cJSON	*fpd_incident_ref(const struct fpd_incident *);
cJSON	*fpd_incident_json(const struct fpd_incident *,
	    const struct fpd_incl *);
cJSON	*fpd_responder_json(const struct fpd_incident *, const cJSON *);

/* fake-pagerduty.c: answers and parameters. */
void	 fpd_reply(struct fpd_ctx *, int, cJSON *);
void	 fpd_error(struct fpd_ctx *, int, int, const char *, cJSON *);
int	 fpd_param_bool(struct fpd_ctx *, const char *, int *);
int	 fpd_page_args(struct fpd_ctx *, struct fpd_page *);
cJSON	*fpd_page(const struct fpd_page *, const char *, cJSON *);

/* pagerduty-log.c: log entries. */
cJSON	*fpd_log_json(const struct fpd_incident *, const cJSON *);
void	 fpd_log_add(struct fpd_incident *, const char *, const char *,
	    const char *, const char *, cJSON *, const char *);
void	 fpd_log_entries(struct fpd_ctx *, struct fpd_incident *);

/* pagerduty-control.c: POST /control/pagerduty/<op>. */
cJSON	*fpd_control(const char *, cJSON *);

#endif
