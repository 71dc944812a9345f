/*
 * slack-manifest.c: what the installed app may do, from its manifest.
 *
 * A real workspace grants an app the bot scopes of its manifest and no
 * others, and opens its Messages tab only if the manifest asks. The
 * sandbox reads the same file the operator installs (--manifest FILE,
 * conf/slack-app-manifest.yaml), so a method the daemon starts calling
 * without its scope fails here as it would in Slack:
 *
 *   HTTP 200 {"ok":false,"error":"missing_scope","needed":"<scopes>",
 *   "provided":"<granted, comma-separated>"}
 *
 * and every answer carries X-OAuth-Scopes with the granted scopes.
 *
 * sl_scopes[] says which bot scopes each Web API method takes. It is
 * derived from the "security" scopes of each operation in Slack's OpenAPI
 * spec (slack_web_openapi_v2.json), with its pre-2020 names brought up to
 * date from the method pages (slack-methods/<method>.json, "scope.bot"):
 * chat:write:bot is chat:write, channels:write is channels:manage for a
 * bot; methods the 2020 spec lacks (bookmarks.add) come from the pages.
 * Any one listed scope will do, except that for a conversation the
 * scope must be of its kind (channels: public, groups: private, im:,
 * mpim:), as Slack checks it. GET /control/slack/scopes serves the table
 * (t/manifest.t checks the manifest covers what the daemon calls).
 *
 * The user token (--slack-user-token, the workspace admin's) has the
 * user scopes of the manifest (oauth_config.scopes.user) instead, and
 * sm_user_methods[] says which methods the sandbox serves it for and
 * with which user scopes (the same sources). Other methods answer it
 * not_allowed_token_type: the sandbox does not act as a person there.
 *
 * Events other than messages and reactions (channel_archive,
 * channel_unarchive, channel_deleted, group_*) go out only if the
 * manifest subscribes the bot to them (settings.event_subscriptions.
 * bot_events), as in Slack.
 *
 * Without --manifest every scope in the table is granted, every event
 * subscribed and the Messages tab is open. The manifest is also served
 * as JSON (GET /control/slack/manifest): libyaml parses it, mappings
 * become objects, sequences arrays, plain true/false/null/integers
 * those types.
 */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "sandbox.h"
#include "slack.h"

#define SM_MAX_SCOPES	8

struct sm_method {
	const char	*name;
	const char	*scopes[SM_MAX_SCOPES];	/* none: no scope needed */
};

/* Method -> bot scopes (any one; see above). Sorted by name. */
static const struct sm_method sm_methods[] = {
	{ "apps.connections.open", { NULL } },	/* app token */
	{ "auth.test", { NULL } },
	{ "bookmarks.add", { "bookmarks:write" } },
	{ "chat.delete", { "chat:write" } },
	{ "chat.postEphemeral", { "chat:write" } },
	{ "chat.postMessage", { "chat:write" } },
	{ "chat.update", { "chat:write" } },
	{ "conversations.archive", { "channels:manage", "groups:write",
	    "im:write", "mpim:write" } },
	{ "conversations.create", { "channels:manage", "groups:write",
	    "im:write", "mpim:write" } },
	{ "conversations.history", { "channels:history", "groups:history",
	    "im:history", "mpim:history" } },
	{ "conversations.info", { "channels:read", "groups:read", "im:read",
	    "mpim:read" } },
	{ "conversations.invite", { "channels:manage",
	    "channels:write.invites", "groups:write", "groups:write.invites",
	    "im:write", "mpim:write" } },
	{ "conversations.join", { "channels:join" } },
	{ "conversations.members", { "channels:read", "groups:read",
	    "im:read", "mpim:read" } },
	{ "conversations.open", { "channels:manage", "groups:write",
	    "im:write", "mpim:write" } },
	{ "conversations.replies", { "channels:history", "groups:history",
	    "im:history", "mpim:history" } },
	{ "conversations.setTopic", { "channels:manage",
	    "channels:write.topic", "groups:write", "groups:write.topic",
	    "im:write", "im:write.topic", "mpim:write", "mpim:write.topic" } },
	{ "conversations.unarchive", { "channels:manage", "channels:write",
	    "groups:write", "im:write", "mpim:write" } },
	{ "pins.add", { "pins:write" } },
	{ "pins.list", { "pins:read" } },
	{ "reactions.add", { "reactions:write" } },
	{ "reactions.get", { "reactions:read" } },
	{ "reactions.remove", { "reactions:write" } },
	{ "usergroups.list", { "usergroups:read" } },
	{ "usergroups.users.list", { "usergroups:read" } },
	{ "users.conversations", { "channels:read", "groups:read", "im:read",
	    "mpim:read" } },
	{ "users.info", { "users:read" } },
	{ "users.list", { "users:read" } },
	{ "users.lookupByEmail", { "users:read.email" } },
	{ "views.open", { NULL } },
	{ "views.update", { NULL } },
};

/* Method -> user scopes, for the methods served to the user token. */
static const struct sm_method sm_user_methods[] = {
	{ "auth.test", { NULL } },
	{ "conversations.info", { "channels:read", "groups:read", "im:read",
	    "mpim:read" } },
	{ "conversations.invite", { "channels:write",
	    "channels:write.invites", "groups:write", "groups:write.invites",
	    "im:write", "mpim:write" } },
	{ "conversations.members", { "channels:read", "groups:read",
	    "im:read", "mpim:read" } },
	{ "conversations.unarchive", { "channels:write", "groups:write",
	    "im:write", "mpim:write" } },
};

/* Scopes one kind of token was granted. */
struct sm_grants {
	char	**v;
	size_t	  n;
	char	 *header;		/* "X-OAuth-Scopes: ..." */
};

static cJSON		*sm_manifest;	/* the file as JSON, or NULL */
static struct sm_grants	 sm_bot, sm_user;
static int		 sm_messages_tab = 1;

static const struct sm_method *sm_find(const struct sm_method *, size_t,
		    const char *);
static cJSON	*sm_node(yaml_document_t *, yaml_node_t *, int);
static cJSON	*sm_load(const char *);
static void	 sm_grant(struct sm_grants *, const char *);
static void	 sm_grant_all(struct sm_grants *, const struct sm_method *,
		    size_t);
static void	 sm_grant_list(struct sm_grants *, const char *,
		    const char *);
static void	 sm_header_make(struct sm_grants *);
static void	 sm_grants_free(struct sm_grants *);
static cJSON	*sm_grants_json(const struct sm_grants *);
static cJSON	*sm_table_json(const struct sm_method *, size_t);
static const char *sm_family(cJSON *);
static int	 sm_in_family(const char *, const char *);
static cJSON	*sm_missing(const struct sm_grants *, const char *const *,
		    size_t);
static int	 sm_has_type(const char *, const char *);

#define SM_N(t)	(sizeof(t) / sizeof((t)[0]))

/* users.conversations types -> scope family. */
static const char *sm_types[4][2] = {
	{ "public_channel", "channels" }, { "private_channel", "groups" },
	{ "mpim", "mpim" }, { "im", "im" }
};

static const struct sm_method *
sm_find(const struct sm_method *t, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) == 0)
			return (&t[i]);
	}
	return (NULL);
}

/* One YAML node as JSON; depth guards against hostile nesting. */
static cJSON *
sm_node(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	yaml_node_pair_t	*pair;
	yaml_node_item_t	*item;
	yaml_node_t		*k, *v;
	cJSON			*o, *c;
	const char		*s;
	char			*end;
	long long		 ll;

	if (n == NULL || depth > 32)
		return (NULL);
	switch (n->type) {
	case YAML_SCALAR_NODE:
		s = (const char *)n->data.scalar.value;
		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
			return (cJSON_CreateString(s));
		if (strcmp(s, "true") == 0)
			return (cJSON_CreateTrue());
		if (strcmp(s, "false") == 0)
			return (cJSON_CreateFalse());
		if (*s == '\0' || strcmp(s, "null") == 0 || strcmp(s, "~") == 0)
			return (cJSON_CreateNull());
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return (cJSON_CreateNumber((double)ll));
		return (cJSON_CreateString(s));
	case YAML_SEQUENCE_NODE:
		o = cJSON_CreateArray();
		for (item = n->data.sequence.items.start;
		    item < n->data.sequence.items.top; item++) {
			if ((c = sm_node(doc, yaml_document_get_node(doc,
			    *item), depth + 1)) == NULL) {
				cJSON_Delete(o);
				return (NULL);
			}
			cJSON_AddItemToArray(o, c);
		}
		return (o);
	case YAML_MAPPING_NODE:
		o = cJSON_CreateObject();
		for (pair = n->data.mapping.pairs.start;
		    pair < n->data.mapping.pairs.top; pair++) {
			k = yaml_document_get_node(doc, pair->key);
			v = yaml_document_get_node(doc, pair->value);
			if (k == NULL || k->type != YAML_SCALAR_NODE ||
			    cJSON_GetObjectItemCaseSensitive(o,
			    (const char *)k->data.scalar.value) != NULL ||
			    (c = sm_node(doc, v, depth + 1)) == NULL) {
				cJSON_Delete(o);
				return (NULL);
			}
			cJSON_AddItemToObject(o,
			    (const char *)k->data.scalar.value, c);
		}
		return (o);
	default:
		return (NULL);
	}
}

/* The YAML file as JSON; exits on an unreadable or malformed file. */
static cJSON *
sm_load(const char *path)
{
	yaml_parser_t	 parser;
	yaml_document_t	 doc;
	FILE		*f;
	cJSON		*o;

	if ((f = fopen(path, "r")) == NULL)
		sb_fatal("--manifest %s: %s", path, strerror(errno));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc))
		sb_fatal("--manifest %s:%zu: %s", path,
		    parser.problem_mark.line + 1, parser.problem != NULL ?
		    parser.problem : "cannot parse");
	o = sm_node(&doc, yaml_document_get_root_node(&doc), 0);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	if (!cJSON_IsObject(o))
		sb_fatal("--manifest %s: not a mapping of unique keys", path);
	return (o);
}

static void
sm_grant(struct sm_grants *g, const char *scope)
{
	size_t	i;

	for (i = 0; i < g->n; i++) {
		if (strcmp(g->v[i], scope) == 0)
			return;
	}
	g->v = sb_realloc(g->v, g->n + 1, sizeof(*g->v));
	g->v[g->n++] = sb_strdup(scope);
}

/* Every scope of a method table (no manifest). */
static void
sm_grant_all(struct sm_grants *g, const struct sm_method *t, size_t n)
{
	size_t	i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < SM_MAX_SCOPES && t[i].scopes[j] != NULL; j++)
			sm_grant(g, t[i].scopes[j]);
	}
}

/* oauth_config.scopes.<kind> of the manifest. */
static void
sm_grant_list(struct sm_grants *g, const char *path, const char *kind)
{
	const cJSON	*s;

	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    sm_manifest, "oauth_config"), "scopes"), kind)) {
		if (!cJSON_IsString(s))
			sb_fatal("--manifest %s: oauth_config.scopes.%s: not "
			    "a list of strings", path, kind);
		sm_grant(g, s->valuestring);
	}
}

static void
sm_header_make(struct sm_grants *g)
{
	size_t	 i, len;
	char	*p;

	len = strlen("X-OAuth-Scopes: ") + 1;
	for (i = 0; i < g->n; i++)
		len += strlen(g->v[i]) + 1;
	g->header = p = sb_malloc(len);
	p += snprintf(p, len, "X-OAuth-Scopes: ");
	for (i = 0; i < g->n; i++)
		p += snprintf(p, len - (size_t)(p - g->header), "%s%s",
		    i > 0 ? "," : "", g->v[i]);
}

static void
sm_grants_free(struct sm_grants *g)
{
	size_t	i;

	for (i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
	free(g->header);
	memset(g, 0, sizeof(*g));
}

/* Read the manifest (path NULL: grant everything) and --public-post. */
void
sl_manifest_init(const char *path)
{
	const cJSON	*home;

	if (path == NULL) {
		sm_grant_all(&sm_bot, sm_methods, SM_N(sm_methods));
		sm_grant_all(&sm_user, sm_user_methods, SM_N(sm_user_methods));
	} else {
		sm_manifest = sm_load(path);
		sm_grant_list(&sm_bot, path, "bot");
		sm_grant_list(&sm_user, path, "user");
		home = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(sm_manifest, "features"),
		    "app_home");
		sm_messages_tab = sb_json_bool(home, "messages_tab_enabled") &&
		    !sb_json_bool(home, "messages_tab_read_only_enabled");
	}
	if (sb_opts.public_post)
		sm_grant(&sm_bot, "chat:write.public");
	sm_header_make(&sm_bot);
	sm_header_make(&sm_user);
}

void
sl_manifest_free(void)
{
	sm_grants_free(&sm_bot);
	sm_grants_free(&sm_user);
	cJSON_Delete(sm_manifest);
	sm_manifest = NULL;
}

/* The X-OAuth-Scopes header line Slack sends with every answer. */
const char *
sl_scopes_header(int user)
{
	return (user ? sm_user.header : sm_bot.header);
}

/* 1 if the sandbox serves method to the user token. */
int
sl_user_method(const char *method)
{
	return (sm_find(sm_user_methods, SM_N(sm_user_methods), method) !=
	    NULL);
}

/* 1 if the bot is subscribed to event (no manifest: to all). */
int
sl_subscribed(const char *event)
{
	const cJSON	*e;

	if (sm_manifest == NULL)
		return (1);
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    sm_manifest, "settings"), "event_subscriptions"), "bot_events")) {
		if (cJSON_IsString(e) && strcmp(e->valuestring, event) == 0)
			return (1);
	}
	return (0);
}

/* The app's Messages tab is open: people may DM it, it may DM them. */
int
sl_messages_tab(void)
{
	return (sm_messages_tab);
}

/* 1 if the bot (user: the user token) has scope. */
static int
sm_has(const struct sm_grants *g, const char *scope)
{
	size_t	i;

	for (i = 0; i < g->n; i++) {
		if (strcmp(g->v[i], scope) == 0)
			return (1);
	}
	return (0);
}

int
sl_granted(const char *scope)
{
	return (sm_has(&sm_bot, scope));
}

/*
 * The kind of conversation a call is about ("channels", "groups", "im"),
 * or NULL: its channel argument, or is_private for conversations.create.
 */
static const char *
sm_family(cJSON *args)
{
	struct sl_chan	*c;
	const char	*id;

	if ((id = sb_json_str(args, "channel")) == NULL)
		id = sb_json_str(args, "channel_id");
	/* conversations.open: one user is a DM, more a multi-person one. */
	if (id == NULL && (id = sb_json_str(args, "users")) != NULL)
		return (strchr(id, ',') != NULL ? "mpim" : "im");
	if (id != NULL) {
		if ((c = sl_chan_find(id)) == NULL)
			c = sl_chan_by_name(*id == '#' ? id + 1 : id);
		if (c == NULL)
			return (NULL);
		if (c->im_user != NULL)
			return ("im");
		return (c->is_private ? "groups" : "channels");
	}
	if (cJSON_GetObjectItemCaseSensitive(args, "name") != NULL)
		return (sb_json_bool(args, "is_private") ? "groups" :
		    "channels");
	return (NULL);
}

static int
sm_in_family(const char *scope, const char *family)
{
	size_t	len = strlen(family);

	return (strncmp(scope, family, len) == 0 && scope[len] == ':');
}

/* 1 if the comma-separated list has type. */
static int
sm_has_type(const char *list, const char *type)
{
	size_t		 len = strlen(type);
	const char	*p;

	for (p = list; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, type, len) == 0 && (p[len] == ',' ||
		    p[len] == '\0'))
			return (1);
	}
	return (0);
}

/* {"ok":false,"error":"missing_scope","needed":...,"provided":...} */
static cJSON *
sm_missing(const struct sm_grants *g, const char *const *needed, size_t n)
{
	cJSON	*o;
	char	*s, *t;
	size_t	 i;

	s = sb_strdup("");
	for (i = 0; i < n; i++) {
		sb_asprintf(&t, "%s%s%s", s, i > 0 ? "," : "", needed[i]);
		free(s);
		s = t;
	}
	o = sl_err("missing_scope");
	cJSON_AddStringToObject(o, "needed", s);
	free(s);
	cJSON_AddStringToObject(o, "provided",
	    g->header + strlen("X-OAuth-Scopes: "));
	return (o);
}

/* NULL if the bot (user: the user token) may call method with args,
 * else Slack's error. */
cJSON *
sl_scope_check(const char *method, cJSON *args, int user)
{
	const struct sm_method	*m;
	const struct sm_grants	*g = user ? &sm_user : &sm_bot;
	const char		*family, *types, *kinds[4], *need[SM_MAX_SCOPES];
	size_t			 i, k, nkinds = 0, n;

	m = user ? sm_find(sm_user_methods, SM_N(sm_user_methods), method) :
	    sm_find(sm_methods, SM_N(sm_methods), method);
	if (m == NULL || m->scopes[0] == NULL)
		return (NULL);
	/* users.conversations needs a scope for each type it lists. */
	if (strcmp(method, "users.conversations") == 0) {
		if ((types = sb_json_str(args, "types")) == NULL)
			types = "public_channel";
		for (i = 0; i < 4; i++) {
			if (sm_has_type(types, sm_types[i][0]))
				kinds[nkinds++] = sm_types[i][1];
		}
	} else if ((family = sm_family(args)) != NULL)
		kinds[nkinds++] = family;
	if (nkinds == 0)
		kinds[nkinds++] = NULL;
	for (k = 0; k < nkinds; k++) {
		n = 0;
		for (i = 0; i < SM_MAX_SCOPES && m->scopes[i] != NULL; i++) {
			if (kinds[k] != NULL && sm_in_family(m->scopes[i],
			    kinds[k]))
				need[n++] = m->scopes[i];
		}
		/* Not a per-kind method (chat:write): any of its scopes. */
		if (n == 0) {
			for (i = 0; i < SM_MAX_SCOPES && m->scopes[i] != NULL;
			    i++)
				need[n++] = m->scopes[i];
		}
		for (i = 0; i < n; i++) {
			if (sm_has(g, need[i]))
				break;
		}
		if (i == n)
			return (sm_missing(g, need, n));
	}
	return (NULL);
}

static cJSON *
sm_grants_json(const struct sm_grants *g)
{
	cJSON	*a;
	size_t	 i;

	a = cJSON_CreateArray();
	for (i = 0; i < g->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(g->v[i]));
	return (a);
}

static cJSON *
sm_table_json(const struct sm_method *t, size_t n)
{
	cJSON	*o, *a;
	size_t	 i, j;

	o = cJSON_CreateObject();
	for (i = 0; i < n; i++) {
		a = cJSON_AddArrayToObject(o, t[i].name);
		for (j = 0; j < SM_MAX_SCOPES && t[i].scopes[j] != NULL; j++)
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    t[i].scopes[j]));
	}
	return (o);
}

/*
 * Control ops: "manifest" (the file as JSON, the granted bot and user
 * scopes), "scopes" (the method -> bot scopes table, and user_methods:
 * the methods served to the user token, with their user scopes).
 */
cJSON *
sl_manifest_control(const char *op)
{
	cJSON	*o;

	if (strcmp(op, "manifest") == 0) {
		o = cJSON_CreateObject();
		if (sm_manifest != NULL)
			cJSON_AddItemToObject(o, "manifest",
			    cJSON_Duplicate(sm_manifest, 1));
		else
			cJSON_AddNullToObject(o, "manifest");
		cJSON_AddItemToObject(o, "granted", sm_grants_json(&sm_bot));
		cJSON_AddItemToObject(o, "granted_user",
		    sm_grants_json(&sm_user));
		cJSON_AddBoolToObject(o, "messages_tab", sm_messages_tab);
		return (o);
	}
	if (strcmp(op, "scopes") == 0) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "methods", sm_table_json(sm_methods,
		    SM_N(sm_methods)));
		cJSON_AddItemToObject(o, "user_methods",
		    sm_table_json(sm_user_methods, SM_N(sm_user_methods)));
		return (o);
	}
	return (NULL);
}
