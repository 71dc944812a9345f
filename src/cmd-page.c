/*
 * cmd-page.c: "page <shortcut|service|@user> [more...] [-- message]".
 *
 * Each target is resolved first: a shortcut is checked against PagerDuty
 * (GET /services/{id}, which also gives its escalation policy), any
 * other name searches the service directory, and a Slack mention goes
 * users.info -> email -> GET /users?query=. One message then lists every
 * target with Confirm and Cancel; an ambiguous search adds a picker.
 * Only the requester's clicks count. Confirming records one job per
 * target (page.c) in the same turn; they are sent after the commit.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define CP_MAX_TARGETS	500
#define CP_MAX_OPTIONS	25
#define CP_MAX_PICKS	10

struct cp_state {
	struct cmd_item	*item;
	cJSON		*slots;		/* per target: target, pick or note */
	int		 pending;
	char		*message;
};

struct cp_lookup {
	struct cp_state	*st;
	int		 idx;
	char		*label;
};

static enum cmd_retval	cp_exec(struct cmd_item *);
static int	cp_over_cap(struct cmd_item *);
static void	cp_slot(struct cp_state *, int, cJSON *);
static void	cp_note(struct cp_state *, int, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static cJSON	*cp_target(const char *, const char *, const char *,
		    const char *, const char *);
static void	cp_service_cb(const struct pd_result *, void *);
static void	cp_search_cb(const struct pd_result *, void *);
static void	cp_slack_user_cb(const struct slack_result *, void *);
static void	cp_pd_user_cb(const struct pd_result *, void *);
static void	cp_lookup_done(struct cp_lookup *);
static void	cp_resolved(struct cp_state *);
static void	cp_posted_cb(const struct slack_result *, void *);
static cJSON	*cp_blocks(const cJSON *, const char *);
static void	cp_update(const cJSON *, const char *);
static cJSON	*cp_click_page(const cJSON *, const cJSON *, const char **);

static void		 cp_confirm_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 cp_cancel_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 cp_pick_click(const cJSON *, const cJSON *,
			    struct envelope *);

static const struct cmd_action cp_actions[] = {
	{ "page_confirm", cp_confirm_click },
	{ "page_cancel", cp_cancel_click },
	{ "page_pick", cp_pick_click },
	{ NULL, NULL }
};

const struct cmd_entry cmd_page_entry = {
	.name = "page",
	.usage = "page <shortcut|service name|@user> [more...] [-- message]",
	.help = "Page PagerDuty services or people after one confirmation. "
	    "In an incident channel the page joins that incident's "
	    "PagerDuty incident. `page list` shows the shortcuts.",
	.flags = CMD_PAGES,
	.exec = cp_exec,
	.actions = cp_actions
};

static cJSON *
cp_target(const char *kind, const char *id, const char *name,
    const char *ep, const char *label)
{
	cJSON	*t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "kind", kind);
	cJSON_AddStringToObject(t, "id", id);
	cJSON_AddStringToObject(t, "name", name != NULL ? name : id);
	if (ep != NULL)
		cJSON_AddStringToObject(t, "ep", ep);
	cJSON_AddStringToObject(t, "label", label);
	return (t);
}

static void
cp_slot(struct cp_state *st, int idx, cJSON *v)
{
	cJSON_ReplaceItemInArray(st->slots, idx, v);
}

static void
cp_note(struct cp_state *st, int idx, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	cJSON	*n;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	n = cJSON_CreateObject();
	cJSON_AddStringToObject(n, "note", s);
	cp_slot(st, idx, n);
	free(s);
}

/*
 * Too many targets for this user? Incident managers may page up to
 * CP_MAX_TARGETS at once (hundreds of teams, as in a Log4j response);
 * everyone else up to access.max_page_targets. Counted before any lookup.
 */
static int
cp_over_cap(struct cmd_item *item)
{
	const char	*w;
	char		*m;
	long long	 cap = CP_MAX_TARGETS;
	int		 a, n = 0;

	if (!access_is_manager(item->user) &&
	    cfg->access.max_page_targets < cap)
		cap = cfg->access.max_page_targets;
	for (a = 0; a < item->argc; a++) {
		w = item->argv[a];
		if (strcmp(w, "--") == 0)
			break;
		if (w[strspn(w, ",")] != '\0')
			n++;
	}
	if (n <= cap)
		return (0);
	if (cap == CP_MAX_TARGETS) {
		cmd_error(item, "At most %d targets per page.",
		    CP_MAX_TARGETS);
		return (1);
	}
	m = access_managers_text();
	cmd_error(item, "That is %d targets; you can page up to %lld at "
	    "once. Split the page, or ask an incident manager%s%s%s, who "
	    "can page up to %d.", n, cap, m != NULL ? " (" : "",
	    m != NULL ? m : "", m != NULL ? ")" : "", CP_MAX_TARGETS);
	free(m);
	return (1);
}

static enum cmd_retval
cp_exec(struct cmd_item *item)
{
	struct cp_state		*st;
	struct cp_lookup	*lk;
	const struct shortcut	*s;
	cJSON			*args;
	char			*w, *u, *msg = NULL, *tmp;
	size_t			 i, len;
	int			 a, n = 0, in_msg = 0;

	if (item->argc == 0) {
		cmd_error(item, "Whom should I page? `page <shortcut|service "
		    "name|@user> [more...]`; `page list` shows the "
		    "shortcuts.");
		return (CMD_ERROR);
	}
	if (cp_over_cap(item))
		return (CMD_ERROR);
	st = xcalloc(1, sizeof(*st));
	st->item = item;
	st->slots = cJSON_CreateArray();
	for (a = 0; a < item->argc; a++) {
		w = item->argv[a];
		if (in_msg) {
			xasprintf(&tmp, "%s%s%s", msg != NULL ? msg : "",
			    msg != NULL ? " " : "", w);
			free(msg);
			msg = tmp;
			continue;
		}
		if (strcmp(w, "--") == 0) {
			in_msg = 1;
			continue;
		}
		len = strlen(w);
		while (len > 0 && w[len - 1] == ',')
			w[--len] = '\0';
		if (len == 0)
			continue;
		if (n == CP_MAX_TARGETS) {
			cmd_error(item, "At most %d targets per page.",
			    CP_MAX_TARGETS);
			goto fail;
		}
		cJSON_AddItemToArray(st->slots, cJSON_CreateNull());
		lk = xcalloc(1, sizeof(*lk));
		lk->st = st;
		lk->idx = n++;
		lk->label = xstrdup(w);
		st->pending++;
		if (strncmp(w, "<@", 2) == 0 && w[len - 1] == '>') {
			u = xstrndup(w + 2, strcspn(w + 2, "|>"));
			args = cJSON_CreateObject();
			cJSON_AddStringToObject(args, "user", u);
			free(u);
			slack_call("users.info", args, cp_slack_user_cb, lk);
			continue;
		}
		s = NULL;
		for (i = 0; i < cfg->pagerduty.shortcuts.n; i++) {
			if (strcasecmp(cfg->pagerduty.shortcuts.v[i].name,
			    w) == 0) {
				s = &cfg->pagerduty.shortcuts.v[i];
				break;
			}
		}
		if (s != NULL)
			pd_service_get(s->service, cp_service_cb, lk);
		else
			pd_service_search(w, CP_MAX_OPTIONS, cp_search_cb, lk);
	}
	/* Not inside a UTF-8 sequence: PagerDuty wants valid JSON. */
	if (msg != NULL)
		msg[utf8_cut(msg, 500)] = '\0';
	st->message = msg;
	if (n == 0) {
		cmd_error(item, "Whom should I page? Name at least one target "
		    "before `--`.");
		goto fail;
	}
	return (CMD_WAIT);
fail:
	/* Nothing was started when we fail here (n == 0 or the limit). */
	if (st->pending > 0) {
		st->pending = -st->pending;	/* lookups finish and free */
		return (CMD_WAIT);
	}
	cJSON_Delete(st->slots);
	free(msg);
	free(st);
	return (CMD_ERROR);
}

static void
cp_lookup_done(struct cp_lookup *lk)
{
	struct cp_state	*st = lk->st;

	free(lk->label);
	free(lk);
	if (st->pending < 0) {
		/* The command failed while lookups ran. */
		if (++st->pending == 0) {
			cmd_finish(st->item);
			cJSON_Delete(st->slots);
			free(st->message);
			free(st);
		}
		return;
	}
	if (--st->pending == 0)
		cp_resolved(st);
}

static void
cp_service_cb(const struct pd_result *pr, void *arg)
{
	struct cp_lookup	*lk = arg;
	char			*l = slack_escape(lk->label), *e;

	if (pr->error == NULL && json_str(pr->json, "service.id") != NULL)
		cp_slot(lk->st, lk->idx, cp_target("service",
		    json_str(pr->json, "service.id"), json_str(pr->json,
		    "service.name"), json_str(pr->json,
		    "service.escalation_policy.id"), lk->label));
	else if (pr->status == 404)
		cp_note(lk->st, lk->idx, "Shortcut `%s` names a PagerDuty "
		    "service that does not exist; fix the shortcuts.", l);
	else {
		e = slack_escape(pr->error != NULL ? pr->error :
		    "no service in the answer");
		cp_note(lk->st, lk->idx, "Could not check shortcut `%s` with "
		    "PagerDuty: %s", l, e);
		free(e);
	}
	free(l);
	cp_lookup_done(lk);
}

static void
cp_search_cb(const struct pd_result *pr, void *arg)
{
	struct cp_lookup	*lk = arg;
	const cJSON		*s, *svcs = json_path(pr->json, "services");
	const cJSON		*exact = NULL;
	cJSON			*pick, *opts;
	char			*l = slack_escape(lk->label), *e;
	int			 n = cJSON_GetArraySize(svcs), nexact = 0;

	if (pr->error != NULL) {
		e = slack_escape(pr->error);
		cp_note(lk->st, lk->idx, "Could not search PagerDuty for `%s`: "
		    "%s", l, e);
		free(e);
		goto out;
	}
	cJSON_ArrayForEach(s, svcs) {
		if (json_str(s, "name") != NULL &&
		    strcasecmp(json_str(s, "name"), lk->label) == 0) {
			exact = s;
			nexact++;
		}
	}
	if (n == 0)
		cp_note(lk->st, lk->idx, "`%s` is not a shortcut and no "
		    "PagerDuty service matches it. Say `page list` for the "
		    "shortcuts.", l);
	else if (n == 1 || nexact == 1) {
		s = n == 1 ? cJSON_GetArrayItem(svcs, 0) : exact;
		cp_slot(lk->st, lk->idx, cp_target("service", json_str(s,
		    "id"), json_str(s, "name"), json_str(s,
		    "escalation_policy.id"), lk->label));
	} else {
		pick = cJSON_CreateObject();
		cJSON_AddStringToObject(pick, "label", lk->label);
		cJSON_AddBoolToObject(pick, "more",
		    json_bool(pr->json, "more"));
		opts = cJSON_AddArrayToObject(pick, "options");
		cJSON_ArrayForEach(s, svcs) {
			if (json_str(s, "id") == NULL)
				continue;
			cJSON_AddItemToArray(opts, cp_target("service",
			    json_str(s, "id"), json_str(s, "name"),
			    json_str(s, "escalation_policy.id"), lk->label));
		}
		cp_slot(lk->st, lk->idx, pick);
	}
out:
	free(l);
	cp_lookup_done(lk);
}

static void
cp_slack_user_cb(const struct slack_result *sr, void *arg)
{
	struct cp_lookup	*lk = arg;
	const char		*email = json_str(sr->json,
				    "user.profile.email");
	char			*l;

	if (!sr->ok || email == NULL) {
		l = slack_escape(lk->label);
		cp_note(lk->st, lk->idx, "I cannot page %s: %s.", l,
		    sr->ok ? "Slack shows no email for them" :
		    "Slack does not know that user");
		free(l);
		cp_lookup_done(lk);
		return;
	}
	free(lk->label);
	lk->label = xstrdup(email);
	pd_user_by_email(email, cp_pd_user_cb, lk);
}

static void
cp_pd_user_cb(const struct pd_result *pr, void *arg)
{
	struct cp_lookup	*lk = arg;
	const cJSON		*u = pr->json;
	char			*l = slack_escape(lk->label), *e;

	if (pr->error != NULL) {
		e = slack_escape(pr->error);
		cp_note(lk->st, lk->idx, "Could not look up %s in PagerDuty: "
		    "%s", l, e);
		free(e);
		goto out;
	}
	if (u == NULL)
		cp_note(lk->st, lk->idx, "%s is not a PagerDuty user (no "
		    "PagerDuty user has that email), so I cannot page them "
		    "directly. Page their team's shortcut or service "
		    "instead.", l);
	else
		cp_slot(lk->st, lk->idx, cp_target("user", json_str(u, "id"),
		    json_str(u, "name"), NULL, lk->label));
out:
	free(l);
	cp_lookup_done(lk);
}

/* Every lookup answered: offer the confirmation, or explain. */
static void
cp_resolved(struct cp_state *st)
{
	struct cmd_item	*item = st->item;
	cJSON		*page, *targets, *picks, *notes, *v;
	const cJSON	*t, *x;
	char		*id, *inc, *text;
	int		 dup;

	page = cJSON_CreateObject();
	targets = cJSON_AddArrayToObject(page, "targets");
	picks = cJSON_AddArrayToObject(page, "picks");
	notes = cJSON_AddArrayToObject(page, "notes");
	cJSON_ArrayForEach(t, st->slots) {
		if (json_str(t, "note") != NULL)
			cJSON_AddItemToArray(notes, cJSON_CreateString(
			    json_str(t, "note")));
		else if (json_path(t, "options") != NULL) {
			if (cJSON_GetArraySize(picks) < CP_MAX_PICKS)
				cJSON_AddItemToArray(picks,
				    cJSON_Duplicate(t, 1));
		} else if (json_str(t, "id") != NULL) {
			dup = 0;
			cJSON_ArrayForEach(x, targets) {
				if (strcmp(json_str(x, "id"),
				    json_str(t, "id")) == 0)
					dup = 1;
			}
			if (!dup)
				cJSON_AddItemToArray(targets,
				    cJSON_Duplicate(t, 1));
		}
	}
	if (cJSON_GetArraySize(targets) == 0 &&
	    cJSON_GetArraySize(picks) == 0) {
		text = NULL;
		cJSON_ArrayForEach(t, notes) {
			xasprintf(&id, "%s%s%s", text != NULL ? text : "",
			    text != NULL ? "\n" : "", t->valuestring);
			free(text);
			text = id;
		}
		cmd_error(item, "Nobody was paged. %s", text != NULL ? text :
		    "");
		free(text);
		cJSON_Delete(page);
		goto out;
	}
	id = page_new_id();
	cJSON_AddStringToObject(page, "id", id);
	cJSON_AddStringToObject(page, "state", "confirming");
	cJSON_AddStringToObject(page, "user", item->user);
	cJSON_AddStringToObject(page, "channel", item->channel);
	cJSON_AddStringToObject(page, "ts", item->ts);
	if (item->thread_ts != NULL)
		cJSON_AddStringToObject(page, "thread_ts", item->thread_ts);
	if (st->message != NULL)
		cJSON_AddStringToObject(page, "message", st->message);
	if ((inc = incident_key_for_channel(item->channel)) != NULL) {
		cJSON_AddStringToObject(page, "incident", inc);
		free(inc);
	}
	cJSON_AddNumberToObject(page, "created", (double)now_wall());
	if (page_save(page) != 0) {
		cmd_error(item, "I could not record the page (state store "
		    "error); see the daemon log.");
		free(id);
		cJSON_Delete(page);
		goto out;
	}
	xasprintf(&text, "Page %d target(s)? Confirm or cancel.",
	    cJSON_GetArraySize(targets));
	v = cp_blocks(page, NULL);
	slack_post(item->channel, item->thread_ts, text, v, cp_posted_cb, id);
	free(text);
	cJSON_Delete(page);
out:
	cmd_finish(item);
	cJSON_Delete(st->slots);
	free(st->message);
	free(st);
}

static void
cp_posted_cb(const struct slack_result *sr, void *arg)
{
	char	*id = arg;
	cJSON	*page;

	if (sr->ok && (page = page_load(id)) != NULL) {
		cJSON_AddStringToObject(page, "prompt_channel",
		    json_str(sr->json, "channel"));
		cJSON_AddStringToObject(page, "prompt_ts",
		    json_str(sr->json, "ts"));
		page_save(page);
		cJSON_Delete(page);
	} else if (!sr->ok)
		log_warnx("page %s: prompt not posted: %s", id, sr->error);
	free(id);
}

/* The prompt: targets, problems, pickers, buttons (or a status). */
static cJSON *
cp_blocks(const cJSON *page, const char *status)
{
	cJSON		*blocks, *els, *sel, *opts, *o, *b;
	const cJSON	*t, *p, *x;
	char		*text = NULL, *tmp, *n, *v;
	const char	*inc = json_str(page, "incident");
	int		 i, nblocks = 0, nt, shown = 0, pi = 0, npicks;

	blocks = cJSON_CreateArray();
	nt = cJSON_GetArraySize(json_path(page, "targets"));
	npicks = 0;
	cJSON_ArrayForEach(p, json_path(page, "picks")) {
		if (!cJSON_IsNull(p))
			npicks++;
	}
	if (inc != NULL)
		xasprintf(&text, ":pager: <@%s> asks to page *%d* target(s) "
		    "for incident *%s*:", json_str(page, "user"), nt, inc);
	else
		xasprintf(&text, ":pager: <@%s> asks to page *%d* target(s). "
		    "This channel is not an incident channel, so the page "
		    "belongs to no incident:", json_str(page, "user"), nt);
	cJSON_AddItemToArray(blocks, blocks_section(text));
	nblocks++;
	free(text);
	text = NULL;
	/* Leave room for notes, pickers and the buttons. */
	cJSON_ArrayForEach(t, json_path(page, "targets")) {
		n = slack_escape(json_str(t, "name"));
		xasprintf(&tmp, "%s%s• %s %s", text != NULL ? text : "",
		    text != NULL ? "\n" : "", strcmp(json_str(t, "kind"),
		    "user") == 0 ? ":bust_in_silhouette:" : ":telephone:", n);
		free(n);
		if (strlen(tmp) > 2900) {
			free(tmp);
			/* 50 blocks: 4 more and 2 per picker follow. */
			if (nblocks >= 27)
				break;
			cJSON_AddItemToArray(blocks, blocks_section(text));
			nblocks++;
			free(text);
			text = NULL;
			n = slack_escape(json_str(t, "name"));
			xasprintf(&tmp, "• %s", n);
			free(n);
		}
		free(text);
		text = tmp;
		shown++;
	}
	if (text != NULL) {
		if (shown < nt) {
			xasprintf(&tmp, "%s\n…and %d more", text, nt - shown);
			free(text);
			text = tmp;
		}
		cJSON_AddItemToArray(blocks, blocks_section(text));
		free(text);
		text = NULL;
	}
	cJSON_ArrayForEach(t, json_path(page, "notes")) {
		xasprintf(&tmp, "%s%s:warning: %s", text != NULL ? text : "",
		    text != NULL ? "\n" : "", t->valuestring);
		free(text);
		text = tmp;
	}
	if (text != NULL) {
		text[utf8_cut(text, 2900)] = '\0';
		cJSON_AddItemToArray(blocks, blocks_section(text));
		free(text);
		text = NULL;
	}
	if (status != NULL) {
		cJSON_AddItemToArray(blocks, blocks_section(status));
		return (blocks);
	}
	cJSON_ArrayForEach(p, json_path(page, "picks")) {
		if (cJSON_IsNull(p)) {
			pi++;
			continue;
		}
		n = slack_escape(json_str(p, "label"));
		xasprintf(&text, "`%s` matches several PagerDuty services%s; "
		    "pick one:", n, json_bool(p, "more") ?
		    " (only the first ones shown: be more specific)" : "");
		free(n);
		cJSON_AddItemToArray(blocks, blocks_section(text));
		free(text);
		sel = cJSON_CreateObject();
		cJSON_AddStringToObject(sel, "type", "static_select");
		cJSON_AddStringToObject(sel, "action_id", "page_pick");
		cJSON_AddItemToObject(sel, "placeholder",
		    blocks_plain("Pick a service"));
		opts = cJSON_AddArrayToObject(sel, "options");
		i = 0;
		cJSON_ArrayForEach(x, json_path(p, "options")) {
			o = cJSON_CreateObject();
			n = utf8_truncate(json_str(x, "name") != NULL ?
			    json_str(x, "name") : "", 70, 0);
			cJSON_AddItemToObject(o, "text", blocks_plain(n));
			free(n);
			xasprintf(&v, "%s|%d|%d", json_str(page, "id"), pi, i++);
			cJSON_AddStringToObject(o, "value", v);
			free(v);
			cJSON_AddItemToArray(opts, o);
		}
		els = cJSON_CreateArray();
		cJSON_AddItemToArray(els, sel);
		xasprintf(&v, "page_pick_%d", pi);
		cJSON_AddItemToArray(blocks, blocks_actions(v, els));
		free(v);
		pi++;
	}
	els = cJSON_CreateArray();
	if (npicks == 0)
		cJSON_AddItemToArray(els, blocks_button(nt == 1 ? "Page now" :
		    "Page them all", "page_confirm", json_str(page, "id"),
		    "danger"));
	cJSON_AddItemToArray(els, blocks_button("Cancel", "page_cancel",
	    json_str(page, "id"), NULL));
	b = blocks_actions("page_buttons", els);
	cJSON_AddItemToArray(blocks, b);
	return (blocks);
}

static void
cp_update(const cJSON *page, const char *status)
{
	cJSON		*args;
	const char	*ch = json_str(page, "prompt_channel");
	const char	*ts = json_str(page, "prompt_ts");

	if (ch == NULL || ts == NULL)
		return;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", ch);
	cJSON_AddStringToObject(args, "ts", ts);
	cJSON_AddStringToObject(args, "text", status != NULL ? status :
	    "Page: confirm or cancel.");
	cJSON_AddItemToObject(args, "blocks", cp_blocks(page, status));
	/* It says what this turn recorded: not before the commit. */
	slack_call_after_commit("chat.update", args);
}

/* The page a click names if the clicker may act on it; else NULL. */
static cJSON *
cp_click_page(const cJSON *payload, const cJSON *action, const char **user)
{
	const char	*ch = json_str(payload, "container.channel_id");
	const char	*state;
	char		*id, *text;
	const char	*v = json_str(action, "value");
	cJSON		*page;

	if (ch == NULL)
		ch = json_str(payload, "channel.id");
	*user = json_str(payload, "user.id");
	if (v == NULL)
		v = json_str(action, "selected_option.value");
	if (v == NULL || *user == NULL)
		return (NULL);
	id = xstrndup(v, strcspn(v, "|"));
	page = page_load(id);
	free(id);
	if (page == NULL) {
		if (ch != NULL)
			slack_post_ephemeral(ch, *user, "I have no record of "
			    "that page.", NULL, NULL);
		return (NULL);
	}
	if (strcmp(json_str(page, "user"), *user) != 0) {
		xasprintf(&text, "Only <@%s>, who asked for this page, can "
		    "confirm, pick or cancel it.", json_str(page, "user"));
		if (ch != NULL)
			slack_post_ephemeral(ch, *user, text, NULL, NULL);
		free(text);
		cJSON_Delete(page);
		return (NULL);
	}
	state = json_str(page, "state");
	if (state == NULL || strcmp(state, "confirming") != 0) {
		xasprintf(&text, "This page was already %s.", state != NULL &&
		    strcmp(state, "cancelled") == 0 ? "cancelled" :
		    "confirmed");
		if (ch != NULL)
			slack_post_ephemeral(ch, *user, text, NULL, NULL);
		free(text);
		cJSON_Delete(page);
		return (NULL);
	}
	return (page);
}

/* "Page them all": record the jobs; page.c sends them after the commit. */
static void
cp_confirm_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user;
	cJSON		*page;
	char		*status;

	if ((page = cp_click_page(payload, action, &user)) == NULL)
		return;
	cJSON_AddStringToObject(page, "confirmed_by", user);
	cJSON_AddNumberToObject(page, "confirmed_at", (double)now_wall());
	/* The page and its jobs, in this turn; sent after the commit. */
	if (page_start(page) != 0)
		goto out;
	xasprintf(&status, ":hourglass_flowing_sand: Confirmed by <@%s>: "
	    "paging %d target(s)…", user,
	    cJSON_GetArraySize(json_path(page, "targets")));
	cp_update(page, status);
	free(status);
out:
	cJSON_Delete(page);
}

/* "Cancel": nobody is paged. */
static void
cp_cancel_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user;
	cJSON		*page;
	char		*status;

	if ((page = cp_click_page(payload, action, &user)) == NULL)
		return;
	cJSON_ReplaceItemInObject(page, "state",
	    cJSON_CreateString("cancelled"));
	page_save(page);
	xasprintf(&status, "Cancelled by <@%s>: nobody was paged.", user);
	cp_update(page, status);
	free(status);
	cJSON_Delete(page);
}

/* A service picked for an ambiguous name. */
static void
cp_pick_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user, *v = json_str(action, "selected_option.value");
	const cJSON	*x;
	cJSON		*page, *picks, *pick, *opt;
	int		 pi, oi;

	if (v == NULL || (page = cp_click_page(payload, action, &user)) ==
	    NULL)
		return;
	if (sscanf(strchr(v, '|') != NULL ? strchr(v, '|') + 1 : "",
	    "%d|%d", &pi, &oi) != 2)
		goto out;
	picks = cJSON_GetObjectItem(page, "picks");
	pick = cJSON_GetArrayItem(picks, pi);
	if (pick == NULL || cJSON_IsNull(pick))
		goto out;
	if ((opt = cJSON_GetArrayItem(json_path(pick, "options"), oi)) == NULL)
		goto out;
	cJSON_ArrayForEach(x, json_path(page, "targets")) {
		if (strcmp(json_str(x, "id"), json_str(opt, "id")) == 0)
			break;
	}
	if (x == NULL)
		cJSON_AddItemToArray(cJSON_GetObjectItem(page, "targets"),
		    cJSON_Duplicate(opt, 1));
	cJSON_ReplaceItemInArray(picks, pi, cJSON_CreateNull());
	page_save(page);
	cp_update(page, NULL);
out:
	cJSON_Delete(page);
}
