/*
 * access.c: who may do what.
 *
 * Anyone who can message the bot used to be able to page anyone. The
 * rules here, in the order they are checked:
 *
 * - Envelopes for another workspace or another app are ignored outright
 *   (org-wide installs and Slack Connect deliver them to us too).
 * - Each user has a command budget (access.commands_per_minute), a token
 *   bucket refilled continuously; over it, one polite refusal per minute.
 * - Incident managers may do everything: they are the operators' choice,
 *   and they keep the mass page the product exists for.
 * - Paging (the page command, the incident-manager button) is refused to
 *   guests (is_restricted, is_ultra_restricted) and to users of other
 *   workspaces unless slack.allow_guests is set; both facts come from
 *   users.info and are cached for ACCESS_USER_TTL.
 * - access.commands and access.page, when set, are allow-lists of user
 *   ids, user group ids and @handles; groups are resolved with
 *   usergroups.list (handles) and usergroups.users.list (members) and
 *   cached for ACCESS_GROUP_TTL. A refusal says who can.
 *
 * Every cache lives in one bounded table (ACCESS_MAX entries, least
 * recently used first out), so a flood of users cannot grow memory.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define ACCESS_BUCKETS		1024
#define ACCESS_MAX		8192		/* entries of every kind */
#define ACCESS_USER_TTL		(10 * 60 * 1000)
#define ACCESS_GROUP_TTL	(5 * 60 * 1000)
#define ACCESS_FAIL_TTL		(30 * 1000)	/* lookups that failed */

enum access_kind {
	ACCESS_K_USER = 'u',	/* users.info facts */
	ACCESS_K_GROUP = 'g',	/* user group id -> members */
	ACCESS_K_HANDLE = 'h',	/* @handle -> user group id */
	ACCESS_K_RATE = 'r'	/* command budget */
};

struct access_entry {
	char			*key;		/* kind, ':', id */
	uint64_t		 expires;	/* now_ms(); 0 = never */
	/* ACCESS_K_USER */
	int			 guest;
	int			 foreign;
	/* ACCESS_K_GROUP: members; ACCESS_K_HANDLE: v[0] is the id */
	struct strlist		 list;
	int			 failed;
	/* ACCESS_K_RATE */
	double			 tokens;
	uint64_t		 refilled;	/* now_ms() */
	uint64_t		 told;		/* last refusal sent */

	TAILQ_ENTRY(access_entry) chain;
	TAILQ_ENTRY(access_entry) lru;
};
TAILQ_HEAD(access_entries, access_entry);

/* One check under way: a chain of lookups, then cb. */
struct access_req {
	char		*user;
	int		 what;
	access_cb	 cb;
	void		*arg;
	struct strlist	 list;		/* copy of the allow-list checked */
	int		 listing;	/* list holds one */
	const char	*verb;		/* "page", "use me" */
	char		*group;		/* user group being fetched */
};

static struct access_entries	 access_table[ACCESS_BUCKETS];
static struct access_entries	 access_lru = TAILQ_HEAD_INITIALIZER(access_lru);
static size_t			 access_count;
static int			 access_ready;

static unsigned	 access_hash(const char *);
static struct access_entry *access_find(int, const char *, int);
static void	 access_drop(struct access_entry *);
static void	 access_step(struct access_req *);
static void	 access_done(struct access_req *, const char *);
static void	 access_user_cb(const struct slack_result *, void *);
static void	 access_handles_cb(const struct slack_result *, void *);
static void	 access_group_cb(const struct slack_result *, void *);
static int	 access_listed(const char *, const struct strlist *, int *);
static int	 access_resolve(struct access_req *);
static char	*access_who(const struct strlist *);
static void	 access_init(void);

static void
access_init(void)
{
	size_t	i;

	if (access_ready)
		return;
	for (i = 0; i < ACCESS_BUCKETS; i++)
		TAILQ_INIT(&access_table[i]);
	access_ready = 1;
}

/* FNV-1a. */
static unsigned
access_hash(const char *s)
{
	unsigned	h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return (h % ACCESS_BUCKETS);
}

static void
access_drop(struct access_entry *e)
{
	TAILQ_REMOVE(&access_table[access_hash(e->key)], e, chain);
	TAILQ_REMOVE(&access_lru, e, lru);
	strlist_free(&e->list);
	free(e->key);
	free(e);
	access_count--;
}

/*
 * The entry for kind and id; expired ones are dropped. With create, a
 * fresh entry is made (evicting the least recently used when full).
 */
static struct access_entry *
access_find(int kind, const char *id, int create)
{
	struct access_entry	*e;
	char			*key;
	unsigned		 h;

	access_init();
	xasprintf(&key, "%c:%s", kind, id);
	h = access_hash(key);
	TAILQ_FOREACH(e, &access_table[h], chain) {
		if (strcmp(e->key, key) == 0)
			break;
	}
	if (e != NULL && e->expires != 0 && e->expires <= now_ms()) {
		access_drop(e);
		e = NULL;
	}
	if (e != NULL) {
		TAILQ_REMOVE(&access_lru, e, lru);
		TAILQ_INSERT_TAIL(&access_lru, e, lru);
		free(key);
		return (e);
	}
	if (!create) {
		free(key);
		return (NULL);
	}
	while (access_count >= ACCESS_MAX)
		access_drop(TAILQ_FIRST(&access_lru));
	e = xcalloc(1, sizeof(*e));
	e->key = key;
	TAILQ_INSERT_TAIL(&access_table[h], e, chain);
	TAILQ_INSERT_TAIL(&access_lru, e, lru);
	access_count++;
	return (e);
}

/* Entries in the table, for tests and metrics. */
size_t
access_cache_size(void)
{
	return (access_count);
}

/* Forget everything (shutdown, and a config reload changes the lists). */
void
access_flush(void)
{
	if (!access_ready)
		return;
	while (!TAILQ_EMPTY(&access_lru))
		access_drop(TAILQ_FIRST(&access_lru));
}

/* 1 if an envelope is for this workspace and this app. */
int
access_envelope_ours(const char *type, const struct cJSON *payload)
{
	const char	*team, *app, *ours = socket_app_id();

	if (strcmp(type, "interactive") == 0)
		team = json_str(payload, "team.id");
	else
		team = json_str(payload, "team_id");
	app = json_str(payload, "api_app_id");
	if (slack_self.team_id != NULL && *slack_self.team_id != '\0' &&
	    (team == NULL || strcmp(team, slack_self.team_id) != 0))
		return (0);
	if (ours != NULL && (app == NULL || strcmp(app, ours) != 0))
		return (0);
	return (1);
}

/* 1 if user is one of slack.incident_managers. */
int
access_is_manager(const char *user)
{
	size_t	i;

	if (user == NULL)
		return (0);
	for (i = 0; i < cfg->slack.incident_managers.n; i++) {
		if (strcmp(cfg->slack.incident_managers.v[i], user) == 0)
			return (1);
	}
	return (0);
}

/* "<@U1> or <@U2>": the incident managers, or NULL if there are none. */
char *
access_managers_text(void)
{
	struct strlist	 l = { NULL, 0 };
	char		*s;
	size_t		 i;

	if (cfg->slack.incident_managers.n == 0)
		return (NULL);
	for (i = 0; i < cfg->slack.incident_managers.n; i++)
		strlist_addf(&l, "<@%s>", cfg->slack.incident_managers.v[i]);
	s = strlist_join_words(&l, "or");
	strlist_free(&l);
	return (s);
}

/*
 * Take one command from user's budget: 0 if allowed, else -1 with
 * *retry the seconds until the next one and *tell 1 if the user has not
 * been told in the last minute (the refusal itself must not flood).
 */
int
access_rate_take(const char *user, int *retry, int *tell)
{
	struct access_entry	*e;
	double			 rate, cap;
	uint64_t		 now = now_ms();

	*retry = 0;
	*tell = 0;
	if (user == NULL || access_is_manager(user))
		return (0);
	cap = (double)cfg->access.commands_per_minute;
	rate = cap / 60000.0;	/* tokens per ms */
	if ((e = access_find(ACCESS_K_RATE, user, 1))->refilled == 0) {
		e->tokens = cap;
		e->refilled = now;
	}
	e->tokens += (double)(now - e->refilled) * rate;
	if (e->tokens > cap)
		e->tokens = cap;
	e->refilled = now;
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		return (0);
	}
	*retry = (int)((1.0 - e->tokens) / rate / 1000.0) + 1;
	if (e->told == 0 || now - e->told >= 60000) {
		e->told = now;
		*tell = 1;
	}
	return (-1);
}

/*
 * Check that user may do what (ACCESS_* flags); cb gets NULL if so, or a
 * refusal (mrkdwn, ready to post). cb may run before this returns.
 */
void
access_check(const char *user, int what, access_cb cb, void *arg)
{
	struct access_req	*req;

	req = xcalloc(1, sizeof(*req));
	req->user = xstrdup(user != NULL ? user : "");
	req->what = what;
	req->cb = cb;
	req->arg = arg;
	if (access_is_manager(user)) {
		access_done(req, NULL);
		return;
	}
	access_step(req);
}

static void
access_done(struct access_req *req, const char *refusal)
{
	req->cb(refusal, req->arg);
	strlist_free(&req->list);
	free(req->group);
	free(req->user);
	free(req);
}

/* The next thing to find out, or the answer. */
static void
access_step(struct access_req *req)
{
	struct access_entry	*e;
	const struct strlist	*src;
	cJSON			*args;
	char			*who, *msg, *m;
	size_t			 i;
	int			 unresolved;

	if (req->what & ACCESS_MEMBER) {
		if ((e = access_find(ACCESS_K_USER, req->user, 0)) == NULL) {
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "user", req->user);
			slack_call("users.info", args, access_user_cb, req);
			return;
		}
		req->what &= ~ACCESS_MEMBER;
		if (e->failed) {
			access_done(req, "I could not check your Slack account "
			    "just now, so I cannot page for you. Try again in "
			    "a minute.");
			return;
		}
		if ((e->guest || e->foreign) && !cfg->slack.allow_guests) {
			m = access_managers_text();
			xasprintf(&msg, "%s cannot page from here. Ask a member "
			    "of this workspace%s%s%s to page for you.",
			    e->foreign ? "People from other workspaces" :
			    "Guest accounts", m != NULL ?
			    ", or an incident manager (" : "",
			    m != NULL ? m : "", m != NULL ? ")," : "");
			access_done(req, msg);
			free(msg);
			free(m);
			return;
		}
	}
	if (!req->listing) {
		if (req->what & ACCESS_COMMANDS) {
			req->what &= ~ACCESS_COMMANDS;
			src = &cfg->access.commands;
			req->verb = "use me";
		} else if (req->what & ACCESS_PAGE) {
			req->what &= ~ACCESS_PAGE;
			src = &cfg->access.page;
			req->verb = "page";
		} else {
			access_done(req, NULL);
			return;
		}
		if (src->n == 0) {
			access_step(req);
			return;
		}
		/* A copy: a reload may free cfg while we wait. */
		for (i = 0; i < src->n; i++)
			strlist_add(&req->list, src->v[i]);
		req->listing = 1;
	}
	if (access_listed(req->user, &req->list, &unresolved)) {
		strlist_free(&req->list);
		req->listing = 0;
		access_step(req);
		return;
	}
	if (unresolved && access_resolve(req) == 0)
		return;	/* a lookup is under way */
	who = access_who(&req->list);
	m = access_managers_text();
	xasprintf(&msg, "Sorry, only %s can %s here. Ask one of them%s%s%s.",
	    who, req->verb, m != NULL ? ", or an incident manager (" : "",
	    m != NULL ? m : "", m != NULL ? ")" : "");
	access_done(req, msg);
	free(msg);
	free(who);
	free(m);
}

/*
 * Start the lookup of the first handle or group on the list that is not
 * known yet: 0 if one is under way, -1 if there is nothing to look up.
 */
static int
access_resolve(struct access_req *req)
{
	struct access_entry	*h;
	const char		*id;
	cJSON			*args;
	size_t			 i;

	for (i = 0; i < req->list.n; i++) {
		id = req->list.v[i];
		if (*id == '@') {
			if ((h = access_find(ACCESS_K_HANDLE, id + 1,
			    0)) == NULL) {
				args = cJSON_CreateObject();
				slack_call("usergroups.list", args,
				    access_handles_cb, req);
				return (0);
			}
			if (h->list.n == 0)
				continue;
			id = h->list.v[0];
		}
		if (*id != 'S' || access_find(ACCESS_K_GROUP, id, 0) != NULL)
			continue;
		free(req->group);
		req->group = xstrdup(id);
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "usergroup", id);
		slack_call("usergroups.users.list", args, access_group_cb,
		    req);
		return (0);
	}
	return (-1);
}

/*
 * 1 if user is in list, directly or through a group we know the members
 * of; *unresolved is 1 if some group or handle is not known yet.
 */
static int
access_listed(const char *user, const struct strlist *list, int *unresolved)
{
	struct access_entry	*e, *g;
	const char		*id;
	size_t			 i, k;

	*unresolved = 0;
	for (i = 0; i < list->n; i++) {
		id = list->v[i];
		g = NULL;
		if (*id == 'U' || *id == 'W') {
			if (strcmp(id, user) == 0)
				return (1);
			continue;
		}
		if (*id == '@') {
			if ((e = access_find(ACCESS_K_HANDLE, id + 1,
			    0)) == NULL) {
				*unresolved = 1;
				continue;
			}
			if (e->list.n == 0)
				continue;	/* no such handle */
			id = e->list.v[0];
		}
		if ((g = access_find(ACCESS_K_GROUP, id, 0)) == NULL) {
			*unresolved = 1;
			continue;
		}
		for (k = 0; k < g->list.n; k++) {
			if (strcmp(g->list.v[k], user) == 0)
				return (1);
		}
	}
	return (0);
}

/* "<@U1>, members of <!subteam^S1> or @oncall": who is on a list. */
static char *
access_who(const struct strlist *list)
{
	struct strlist	 l = { NULL, 0 };
	char		*s, *h;
	size_t		 i;

	for (i = 0; i < list->n; i++) {
		if (*list->v[i] == '@') {
			h = slack_escape(list->v[i]);
			strlist_addf(&l, "members of %s", h);
			free(h);
		} else if (*list->v[i] == 'S')
			strlist_addf(&l, "members of <!subteam^%s>",
			    list->v[i]);
		else
			strlist_addf(&l, "<@%s>", list->v[i]);
	}
	s = strlist_join_words(&l, "and");
	strlist_free(&l);
	return (s);
}

static void
access_user_cb(const struct slack_result *sr, void *arg)
{
	struct access_req	*req = arg;
	struct access_entry	*e;
	const char		*team, *uteam;

	e = access_find(ACCESS_K_USER, req->user, 1);
	if (!sr->ok) {
		log_warnx("access: users.info %s: %s", req->user,
		    sr->error != NULL ? sr->error : "failed");
		e->failed = 1;
		e->expires = now_ms() + ACCESS_FAIL_TTL;
	} else {
		e->expires = now_ms() + ACCESS_USER_TTL;
		e->guest = json_bool(sr->json, "user.is_restricted") ||
		    json_bool(sr->json, "user.is_ultra_restricted");
		team = json_str(sr->json, "user.team_id");
		uteam = slack_self.team_id;
		e->foreign = team != NULL && uteam != NULL && *uteam != '\0' &&
		    strcmp(team, uteam) != 0;
	}
	access_step(req);
}

/* usergroups.list: every handle we were asked about gets an entry. */
static void
access_handles_cb(const struct slack_result *sr, void *arg)
{
	struct access_req	*req = arg;
	struct access_entry	*e;
	const cJSON		*g, *groups;
	const char		*handle, *id;
	size_t			 i;

	groups = sr->ok ? json_path(sr->json, "usergroups") : NULL;
	for (i = 0; i < req->list.n; i++) {
		if (*req->list.v[i] != '@')
			continue;
		e = access_find(ACCESS_K_HANDLE, req->list.v[i] + 1, 1);
		strlist_free(&e->list);
		e->expires = now_ms() + (sr->ok ? ACCESS_GROUP_TTL :
		    ACCESS_FAIL_TTL);
		cJSON_ArrayForEach(g, groups) {
			handle = json_str(g, "handle");
			id = json_str(g, "id");
			if (handle != NULL && id != NULL && *id == 'S' &&
			    strcmp(handle, req->list.v[i] + 1) == 0) {
				strlist_add(&e->list, id);
				break;
			}
		}
		if (e->list.n == 0)
			log_warnx("access: user group @%s %s",
			    req->list.v[i] + 1, sr->ok ? "does not exist" :
			    sr->error != NULL ? sr->error : "lookup failed");
	}
	access_step(req);
}

/* usergroups.users.list for req->group. */
static void
access_group_cb(const struct slack_result *sr, void *arg)
{
	struct access_req	*req = arg;
	struct access_entry	*e;
	const cJSON		*u, *users;
	const char		*id = req->group;

	e = access_find(ACCESS_K_GROUP, id, 1);
	strlist_free(&e->list);
	e->expires = now_ms() + (sr->ok ? ACCESS_GROUP_TTL : ACCESS_FAIL_TTL);
	if (!sr->ok)
		log_warnx("access: usergroups.users.list %s: %s", id,
		    sr->error != NULL ? sr->error : "failed");
	users = sr->ok ? json_path(sr->json, "users") : NULL;
	cJSON_ArrayForEach(u, users) {
		if (cJSON_IsString(u))
			strlist_add(&e->list, u->valuestring);
	}
	access_step(req);
}
