/*
 * cmd-new-incident.c: "new incident <summary>".
 *
 * Creates the Jira ticket, records the incident, and asks in the channel
 * whether to page the incident manager. "Page incident manager" opens a
 * modal whose fields are all optional (an emergency never waits on a
 * form); submitting it pages PagerDuty's incident-manager service and
 * copies the details to the ticket. The page is guarded by the record's
 * im_page.state: once "paging" or "paged", further clicks and submissions
 * only say who already paged. The PagerDuty incident_key is derived from
 * the Jira key, so even a page resent after a crash cannot open a second
 * PagerDuty incident.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define NI_SUMMARY_MAX	255
#define NI_TITLE_MAX	1024		/* PagerDuty's incident title */

struct ni_state {
	struct cmd_item	*item;
	char		*summary;	/* plain text, as sent to Jira */
	char		*key;
};

struct ni_page {
	char		*key;
	char		*user;
	char		*channel;	/* where to report */
};

static enum cmd_retval	ni_exec(struct cmd_item *);
static char		*ni_clean_summary(const char *);
static void		 ni_created_cb(const struct jira_result *, void *);
static void		 ni_posted_cb(const struct slack_result *, void *);
static cJSON		*ni_prompt_blocks(const cJSON *, const char *);
static void		 ni_update_prompt(const cJSON *, const char *);
static const char	*ni_click_channel(const cJSON *);
static void		 ni_ephemeral(const char *, const char *, const char *);
static int		 ni_page_taken(const char *, const cJSON *,
			    const char *);
static cJSON		*ni_incident_from(const char *);
static void		 ni_page_access_cb(const char *, void *);
static void		 ni_open_modal(const cJSON *, const char *);
static void		 ni_send_page_cb(void *);
static void		 ni_paged_cb(const struct pd_result *, void *);
static void		 ni_existing_cb(const struct pd_result *, void *);
static void		 ni_page_done(struct ni_page *, const cJSON *,
			    const char *);
static void		 ni_comment_cb(const struct jira_result *, void *);
static char		*ni_field(const cJSON *, const char *);
static char		*ni_details_text(const cJSON *, const cJSON *);
static void		 ni_page_free(struct ni_page *);

static const char *ni_severities[] = {
	"SEV1 - critical", "SEV2 - major", "SEV3 - minor", "SEV4 - low", NULL
};

const struct cmd_entry cmd_new_incident_entry = {
	.name = "new incident",
	.usage = "new incident <summary>",
	.help = "Open a Jira incident ticket and offer to page the incident "
	    "manager.",
	.exec = ni_exec
};

/* One line, trimmed, markup made readable: what Jira gets. */
static char *
ni_clean_summary(const char *raw)
{
	char	*s, *o, *p;
	int	 space = 0;

	s = slack_plain_text(raw);
	for (o = p = s; *p != '\0'; p++) {
		if (isspace((unsigned char)*p) || (unsigned char)*p < 0x20) {
			space = o != s;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = 0;
		*o++ = *p;
	}
	*o = '\0';
	return (s);
}

static enum cmd_retval
ni_exec(struct cmd_item *item)
{
	struct ni_state	*st;
	cJSON		*body, *fields, *o;
	char		*summary, *desc, *link;
	size_t		 len;

	summary = ni_clean_summary(item->args);
	if (*summary == '\0') {
		free(summary);
		cmd_error(item, "A summary is required: `new incident "
		    "&lt;summary&gt;`, for example `new incident Checkout returns "
		    "500s`.");
		return (CMD_ERROR);
	}
	if ((len = strlen(summary)) > NI_SUMMARY_MAX) {
		free(summary);
		cmd_error(item, "The summary is %zu characters long; Jira "
		    "takes at most %d. Please shorten it.", len,
		    NI_SUMMARY_MAX);
		return (CMD_ERROR);
	}

	link = slack_permalink(item->channel, item->ts);
	xasprintf(&desc, "Incident declared in Slack by user %s in channel "
	    "%s.\nSlack message: %s\n\nDeclared with incidentd.", item->user,
	    item->channel, link);
	free(link);

	body = cJSON_CreateObject();
	fields = cJSON_AddObjectToObject(body, "fields");
	o = cJSON_AddObjectToObject(fields, "project");
	cJSON_AddStringToObject(o, "key", cfg->jira.project);
	o = cJSON_AddObjectToObject(fields, "issuetype");
	cJSON_AddStringToObject(o, "name", cfg->jira.issue_type);
	cJSON_AddStringToObject(fields, "summary", summary);
	cJSON_AddStringToObject(fields, "description", desc);
	free(desc);

	st = xcalloc(1, sizeof(*st));
	st->item = item;
	st->summary = summary;
	/* Retried on 5xx: a 5xx from Jira almost always means not created. */
	jira_request("POST", "/rest/api/2/issue", body, HTTP_IDEMPOTENT,
	    ni_created_cb, st);
	return (CMD_WAIT);
}

static cJSON *
ni_prompt_blocks(const cJSON *inc, const char *status)
{
	cJSON		*blocks, *buttons;
	const char	*key = json_str(inc, "key");
	char		*url, *sum, *text, *ctx;

	url = jira_browse_url(key);
	sum = slack_escape(json_str(inc, "summary"));
	xasprintf(&text, ":rotating_light: *Incident <%s|%s> declared*\n%s",
	    url, key, sum);
	xasprintf(&ctx, "Declared by <@%s>", json_str(inc, "declared_by"));
	blocks = cJSON_CreateArray();
	cJSON_AddItemToArray(blocks, blocks_section(text));
	cJSON_AddItemToArray(blocks, blocks_context(ctx));
	if (status == NULL) {
		cJSON_AddItemToArray(blocks, blocks_section(
		    "Page the incident manager?"));
		buttons = cJSON_CreateArray();
		cJSON_AddItemToArray(buttons, blocks_button(
		    "Page incident manager", "im_page", key, "danger"));
		cJSON_AddItemToArray(buttons, blocks_button("No", "im_decline",
		    key, NULL));
		cJSON_AddItemToArray(blocks, blocks_actions("im_prompt",
		    buttons));
	} else
		cJSON_AddItemToArray(blocks, blocks_section(status));
	free(url);
	free(sum);
	free(text);
	free(ctx);
	return (blocks);
}

static void
ni_created_cb(const struct jira_result *jr, void *arg)
{
	struct ni_state	*st = arg;
	struct cmd_item	*item = st->item;
	const char	*key;
	cJSON		*inc, *im;
	char		*text, *sum;

	if (jr->error != NULL) {
		text = slack_escape(jr->error);
		if (jr->status >= 400 && jr->status < 500)
			cmd_error(item, "Jira refused the ticket: %s. Nothing "
			    "was recorded. Check `jira.project` and "
			    "`jira.issue_type` in the configuration, or open "
			    "the ticket in Jira and run `new channel KEY`.",
			    text);
		else
			cmd_error(item, "I could not create the Jira ticket: "
			    "%s. Nothing was recorded; try again in a moment, "
			    "or open the ticket in Jira and run `new channel "
			    "KEY`.", text);
		free(text);
		goto done;
	}
	key = json_str(jr->json, "key");
	if (key == NULL || !jira_valid_key(key)) {
		cmd_error(item, "Jira answered without a valid ticket key; "
		    "nothing was recorded.");
		goto done;
	}
	st->key = xstrdup(key);
	inc = cJSON_CreateObject();
	cJSON_AddStringToObject(inc, "key", key);
	cJSON_AddStringToObject(inc, "summary", st->summary);
	cJSON_AddStringToObject(inc, "declared_by", item->user);
	cJSON_AddNumberToObject(inc, "declared_at", (double)now_wall());
	cJSON_AddStringToObject(inc, "origin_channel", item->channel);
	cJSON_AddStringToObject(inc, "origin_ts", item->ts);
	im = cJSON_AddObjectToObject(inc, "im_page");
	cJSON_AddStringToObject(im, "state", "asked");
	if (incident_save(inc) != 0) {
		cJSON_Delete(inc);
		cmd_error(item, "Ticket %s was created but I could not record "
		    "it (state store error); see the daemon log.", key);
		goto done;
	}
	log_info("incident %s declared by %s", key, item->user);
	sum = slack_escape(st->summary);
	xasprintf(&text, "Incident %s declared: %s", key, sum);
	slack_post(item->channel, item->thread_ts, text,
	    ni_prompt_blocks(inc, NULL), ni_posted_cb, xstrdup(key));
	free(text);
	free(sum);
	cJSON_Delete(inc);
done:
	cmd_finish(item);
	free(st->summary);
	free(st->key);
	free(st);
}

/* Remember where the prompt is, so later clicks can update it. */
static void
ni_posted_cb(const struct slack_result *sr, void *arg)
{
	char	*key = arg;
	cJSON	*inc;

	if (sr->ok && (inc = incident_load(key)) != NULL) {
		cJSON_AddStringToObject(inc, "prompt_channel",
		    json_str(sr->json, "channel"));
		cJSON_AddStringToObject(inc, "prompt_ts",
		    json_str(sr->json, "ts"));
		incident_save(inc);
		cJSON_Delete(inc);
	}
	free(key);
}

static void
ni_update_prompt(const cJSON *inc, const char *status)
{
	cJSON		*args;
	const char	*ch = json_str(inc, "prompt_channel");
	const char	*ts = json_str(inc, "prompt_ts");
	char		*text;

	if (ch == NULL || ts == NULL)
		return;
	xasprintf(&text, "Incident %s: %s", json_str(inc, "key"),
	    status != NULL ? status : "page the incident manager?");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", ch);
	cJSON_AddStringToObject(args, "ts", ts);
	cJSON_AddStringToObject(args, "text", text);
	cJSON_AddItemToObject(args, "blocks", ni_prompt_blocks(inc, status));
	slack_call("chat.update", args, NULL, NULL);
	free(text);
}

/* Where a click came from. */
static const char *
ni_click_channel(const cJSON *payload)
{
	const char	*ch;

	ch = json_str(payload, "container.channel_id");
	return (ch != NULL ? ch : json_str(payload, "channel.id"));
}

static void
ni_ephemeral(const char *channel, const char *user, const char *text)
{
	if (channel != NULL && user != NULL)
		slack_post_ephemeral(channel, user, text, NULL, NULL);
}

/* True (and the user told) if the page is already done or under way. */
static int
ni_page_taken(const char *channel, const cJSON *inc, const char *user)
{
	const char	*state = json_str(inc, "im_page.state");
	const char	*by = json_str(inc, "im_page.by");
	char		*text;

	if (state == NULL || (strcmp(state, "paging") != 0 &&
	    strcmp(state, "paged") != 0))
		return (0);
	xasprintf(&text, "The incident manager for %s was already paged by "
	    "<@%s>.", json_str(inc, "key"), by != NULL ? by : "someone");
	ni_ephemeral(channel, user, text);
	free(text);
	return (1);
}

/* Load the incident a click or submission names; NULL if unknown. */
static cJSON *
ni_incident_from(const char *value)
{
	if (value == NULL || !jira_valid_key(value))
		return (NULL);
	return (incident_load(value));
}

/*
 * A click on "Page incident manager", kept by value while access.c checks
 * the clicker (the payload is gone by then): ids, not pointers.
 */
struct ni_click {
	char	*key;
	char	*user;
	char	*channel;
	char	*trigger;
};

/* "Page incident manager": check who clicked, then open the modal. */
void
cmd_new_incident_page_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const char	*trigger = json_str(payload, "trigger_id");
	struct ni_click	*nc;
	cJSON		*inc;

	if ((inc = ni_incident_from(json_str(action, "value"))) == NULL) {
		ni_ephemeral(ni_click_channel(payload), user, "I have no "
		    "record of that incident.");
		return;
	}
	if (user == NULL || trigger == NULL ||
	    ni_page_taken(ni_click_channel(payload), inc, user)) {
		cJSON_Delete(inc);
		return;
	}
	nc = xcalloc(1, sizeof(*nc));
	nc->key = xstrdup(json_str(inc, "key"));
	nc->user = xstrdup(user);
	nc->channel = ni_click_channel(payload) != NULL ?
	    xstrdup(ni_click_channel(payload)) : NULL;
	nc->trigger = xstrdup(trigger);
	cJSON_Delete(inc);
	/* Anyone may page the incident manager, but not guests. */
	access_check(user, ACCESS_MEMBER, ni_page_access_cb, nc);
}

static void
ni_page_access_cb(const char *refusal, void *arg)
{
	struct ni_click	*nc = arg;
	cJSON		*inc;

	if (refusal != NULL)
		ni_ephemeral(nc->channel, nc->user, refusal);
	else if ((inc = incident_load(nc->key)) != NULL) {
		if (!ni_page_taken(nc->channel, inc, nc->user))
			ni_open_modal(inc, nc->trigger);
		cJSON_Delete(inc);
	}
	free(nc->key);
	free(nc->user);
	free(nc->channel);
	free(nc->trigger);
	free(nc);
}

/* The details modal; every field optional. */
static void
ni_open_modal(const cJSON *inc, const char *trigger)
{
	cJSON	*args, *view, *blocks;
	char	*title;

	view = cJSON_CreateObject();
	cJSON_AddStringToObject(view, "type", "modal");
	cJSON_AddStringToObject(view, "callback_id", "im_page_modal");
	cJSON_AddStringToObject(view, "private_metadata", json_str(inc, "key"));
	cJSON_AddItemToObject(view, "title", blocks_plain("Page incident mgr"));
	cJSON_AddItemToObject(view, "submit", blocks_plain("Page now"));
	cJSON_AddItemToObject(view, "close", blocks_plain("Cancel"));
	blocks = cJSON_AddArrayToObject(view, "blocks");
	xasprintf(&title, "*%s*: every field is optional. Page now and "
	    "fill in the details later if you are in a hurry.",
	    json_str(inc, "key"));
	cJSON_AddItemToArray(blocks, blocks_section(title));
	free(title);
	cJSON_AddItemToArray(blocks, blocks_input_select("severity",
	    "Severity", ni_severities));
	cJSON_AddItemToArray(blocks, blocks_input_text("impact", "Impact", 1,
	    1000, "Who or what is affected, and how badly?"));
	cJSON_AddItemToArray(blocks, blocks_input_text("services",
	    "Affected services", 0, 500, "checkout, payments-api"));
	cJSON_AddItemToArray(blocks, blocks_input_text("note",
	    "Note for the incident manager", 1, 2000, NULL));

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "trigger_id", trigger);
	cJSON_AddItemToObject(args, "view", view);
	slack_call("views.open", args, NULL, NULL);
}

/* "No": record the decision and take the buttons away. */
void
cmd_new_incident_decline_click(const cJSON *payload, const cJSON *action,
    struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const char	*declarer;
	cJSON		*inc, *im;
	char		*status;

	if ((inc = ni_incident_from(json_str(action, "value"))) == NULL ||
	    user == NULL) {
		ni_ephemeral(ni_click_channel(payload), user, "I have no "
		    "record of that incident.");
		cJSON_Delete(inc);
		return;
	}
	if (ni_page_taken(ni_click_channel(payload), inc, user))
		goto out;
	/* Declining is for the declarer or a manager; paging is for all. */
	declarer = json_str(inc, "declared_by");
	if (!access_is_manager(user) && (declarer == NULL ||
	    strcmp(declarer, user) != 0)) {
		xasprintf(&status, "Only %s%s%s or an incident manager can "
		    "decide not to page. You can still page with the button.",
		    declarer != NULL ? "<@" : "the person who declared it",
		    declarer != NULL ? declarer : "",
		    declarer != NULL ? "> (who declared it)" : "");
		ni_ephemeral(ni_click_channel(payload), user, status);
		free(status);
		goto out;
	}
	im = cJSON_GetObjectItem(inc, "im_page");
	cJSON_ReplaceItemInObject(im, "state", cJSON_CreateString("declined"));
	cJSON_DeleteItemFromObject(im, "by");
	cJSON_AddStringToObject(im, "by", user);
	incident_save(inc);
	xasprintf(&status, "The incident manager was not paged (<@%s> chose "
	    "not to).", user);
	ni_update_prompt(inc, status);
	free(status);
out:
	cJSON_Delete(inc);
}

/* A modal field's value, or NULL if left empty. */
static char *
ni_field(const cJSON *values, const char *block)
{
	const cJSON	*b = cJSON_GetObjectItem(values, block);
	const cJSON	*f = cJSON_GetObjectItem(b, block);
	const char	*v;

	v = json_str(f, "value");
	if (v == NULL)
		v = json_str(f, "selected_option.value");
	if (v == NULL || *v == '\0')
		return (NULL);
	return (xstrdup(v));
}

/* The page's details: plain text for PagerDuty and the Jira comment. */
static char *
ni_details_text(const cJSON *inc, const cJSON *fields)
{
	static const char	*names[][2] = {
		{ "severity", "Severity" }, { "impact", "Impact" },
		{ "services", "Affected services" }, { "note", "Note" }
	};
	const char		*v;
	char			*out, *tmp, *url;
	size_t			 i;

	url = jira_browse_url(json_str(inc, "key"));
	xasprintf(&out, "Jira: %s %s\nSummary: %s\nSlack channel: %s\n"
	    "Paged by Slack user %s", json_str(inc, "key"), url,
	    json_str(inc, "summary"),
	    json_str(inc, "channel") != NULL ? json_str(inc, "channel") :
	    json_str(inc, "origin_channel"), json_str(inc, "im_page.by"));
	free(url);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((v = json_str(fields, names[i][0])) == NULL)
			continue;
		xasprintf(&tmp, "%s\n%s: %s", out, names[i][1], v);
		free(out);
		out = tmp;
	}
	return (out);
}

/* The modal was submitted: record the intent, page after the commit. */
void
cmd_new_incident_modal_submit(const cJSON *payload, struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const cJSON	*values = json_path(payload, "view.state.values");
	struct ni_page	*pg;
	cJSON		*inc, *im, *fields;
	const char	*names[] = { "severity", "impact", "services", "note" };
	char		*v;
	size_t		 i;

	inc = ni_incident_from(json_str(payload, "view.private_metadata"));
	if (inc == NULL || user == NULL) {
		log_warnx("modal submitted for an unknown incident");
		cJSON_Delete(inc);
		return;
	}
	/* A modal has no channel: answer where the prompt was posted. */
	if (ni_page_taken(json_str(inc, "prompt_channel"), inc, user))
		goto out;

	im = cJSON_GetObjectItem(inc, "im_page");
	cJSON_ReplaceItemInObject(im, "state", cJSON_CreateString("paging"));
	cJSON_DeleteItemFromObject(im, "by");
	cJSON_AddStringToObject(im, "by", user);
	cJSON_DeleteItemFromObject(im, "at");
	cJSON_AddNumberToObject(im, "at", (double)now_wall());
	fields = cJSON_CreateObject();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((v = ni_field(values, names[i])) != NULL)
			cJSON_AddStringToObject(fields, names[i], v);
		free(v);
	}
	cJSON_DeleteItemFromObject(inc, "details");
	cJSON_AddItemToObject(inc, "details", fields);
	if (incident_save(inc) != 0)
		goto out;

	pg = xcalloc(1, sizeof(*pg));
	pg->key = xstrdup(json_str(inc, "key"));
	pg->user = xstrdup(user);
	if (json_str(inc, "prompt_channel") != NULL)
		pg->channel = xstrdup(json_str(inc, "prompt_channel"));
	reactor_after_commit(ni_send_page_cb, pg);
out:
	cJSON_Delete(inc);
}

static void
ni_page_free(struct ni_page *pg)
{
	free(pg->key);
	free(pg->user);
	free(pg->channel);
	free(pg);
}

/* The intent is committed: create the PagerDuty incident. */
static void
ni_send_page_cb(void *arg)
{
	struct ni_page	*pg = arg;
	cJSON		*inc, *body, *i, *o;
	char		*title, *details, *ikey, *tmp;

	if ((inc = incident_load(pg->key)) == NULL) {
		ni_page_free(pg);
		return;
	}
	xasprintf(&tmp, "[%s] %s", pg->key, json_str(inc, "summary"));
	title = utf8_truncate(tmp, NI_TITLE_MAX, 1);
	free(tmp);
	details = ni_details_text(inc, json_path(inc, "details"));
	xasprintf(&ikey, "incidentd/%s/incident-manager", pg->key);

	body = cJSON_CreateObject();
	i = cJSON_AddObjectToObject(body, "incident");
	cJSON_AddStringToObject(i, "type", "incident");
	cJSON_AddStringToObject(i, "title", title);
	o = cJSON_AddObjectToObject(i, "service");
	cJSON_AddStringToObject(o, "id", cfg->pagerduty.incident_manager_service);
	cJSON_AddStringToObject(o, "type", "service_reference");
	cJSON_AddStringToObject(i, "urgency", "high");
	cJSON_AddStringToObject(i, "incident_key", ikey);
	o = cJSON_AddObjectToObject(i, "body");
	cJSON_AddStringToObject(o, "type", "incident_body");
	cJSON_AddStringToObject(o, "details", details);
	log_info("incident %s: paging the incident manager", pg->key);
	pd_request("POST", "/incidents", body, 0, ni_paged_cb, pg);
	free(title);
	free(details);
	free(ikey);
	cJSON_Delete(inc);
}

static void
ni_paged_cb(const struct pd_result *pr, void *arg)
{
	struct ni_page	*pg = arg;
	char		*path, *q;

	if (pr->error == NULL) {
		ni_page_done(pg, json_path(pr->json, "incident"), NULL);
		return;
	}
	/*
	 * 400 for our incident_key means the incident exists already (a
	 * resend after a crash, or a second daemon): fetch it. Only an
	 * open one: a resolved incident may carry the same key.
	 */
	if (pr->status == 400 && pr->error != NULL &&
	    strstr(pr->error, "matching dedup key") != NULL) {
		xasprintf(&q, "incidentd/%s/incident-manager", pg->key);
		path = url_encode(q);
		free(q);
		xasprintf(&q, "/incidents?incident_key=%s"
		    "&statuses[]=triggered&statuses[]=acknowledged", path);
		pd_request("GET", q, NULL, 0, ni_existing_cb, pg);
		free(q);
		free(path);
		return;
	}
	ni_page_done(pg, NULL, pr->error);
}

static void
ni_existing_cb(const struct pd_result *pr, void *arg)
{
	struct ni_page	*pg = arg;
	const cJSON	*first;

	first = cJSON_GetArrayItem(json_path(pr->json, "incidents"), 0);
	if (pr->error == NULL && first != NULL)
		ni_page_done(pg, first, NULL);
	else
		ni_page_done(pg, NULL, pr->error != NULL ? pr->error :
		    "PagerDuty reported a duplicate but has no such incident");
}

/* Record the outcome, update the prompt, copy the details to Jira. */
static void
ni_page_done(struct ni_page *pg, const cJSON *pdinc, const char *error)
{
	cJSON		*inc, *im, *body;
	const char	*url, *id;
	char		*status, *text, *path, *details;

	if ((inc = incident_load(pg->key)) == NULL)
		goto out;
	im = cJSON_GetObjectItem(inc, "im_page");
	if (error != NULL || (id = json_str(pdinc, "id")) == NULL) {
		cJSON_ReplaceItemInObject(im, "state",
		    cJSON_CreateString("failed"));
		cJSON_DeleteItemFromObject(im, "error");
		cJSON_AddStringToObject(im, "error", error != NULL ? error :
		    "no incident id in PagerDuty's answer");
		incident_save(inc);
		text = slack_escape(error != NULL ? error : "no incident id");
		xasprintf(&status, ":warning: Paging the incident manager "
		    "failed: %s. Press the button to try again, or call "
		    "them.", text);
		free(text);
		ni_update_prompt(inc, NULL);
		if (pg->channel != NULL)
			slack_post(pg->channel, NULL, status, NULL, NULL, NULL);
		free(status);
		goto out;
	}
	url = json_str(pdinc, "html_url");
	cJSON_ReplaceItemInObject(im, "state", cJSON_CreateString("paged"));
	cJSON_AddStringToObject(im, "pd_incident", id);
	if (url != NULL)
		cJSON_AddStringToObject(im, "pd_url", url);
	incident_save(inc);
	log_info("incident %s: incident manager paged (PagerDuty %s)",
	    pg->key, id);
	if (url != NULL && strncmp(url, "https://", 8) == 0 &&
	    strpbrk(url, "|<> ") == NULL)
		xasprintf(&status, ":pager: Incident manager paged by <@%s> "
		    "at <!date^%lld^{date_short_pretty} {time}|%lld> "
		    "(<%s|PagerDuty incident>).", pg->user,
		    (long long)now_wall(), (long long)now_wall(), url);
	else {
		text = slack_escape(id);
		xasprintf(&status, ":pager: Incident manager paged by <@%s> "
		    "at <!date^%lld^{date_short_pretty} {time}|%lld> "
		    "(PagerDuty %s).", pg->user, (long long)now_wall(),
		    (long long)now_wall(), text);
		free(text);
	}
	ni_update_prompt(inc, status);
	free(status);

	details = ni_details_text(inc, json_path(inc, "details"));
	if (cJSON_GetArraySize(json_path(inc, "details")) > 0) {
		body = cJSON_CreateObject();
		xasprintf(&text, "Incident manager paged from Slack "
		    "(PagerDuty incident %s).\n%s", id, details);
		cJSON_AddStringToObject(body, "body", text);
		free(text);
		xasprintf(&path, "/rest/api/2/issue/%s/comment", pg->key);
		jira_request("POST", path, body, 0, ni_comment_cb,
		    xstrdup(pg->key));
		free(path);
	}
	free(details);
out:
	cJSON_Delete(inc);
	ni_page_free(pg);
}

static void
ni_comment_cb(const struct jira_result *jr, void *arg)
{
	char	*key = arg;

	if (jr->error != NULL)
		log_warnx("incident %s: could not copy the page details to "
		    "Jira: %s", key, jr->error);
	free(key);
}

static int
ni_resume_cb(const char *key, const char *val, size_t len, void *arg)
{
	struct strlist	*keys = arg;
	cJSON		*inc;
	const char	*state;

	if ((inc = cJSON_ParseWithLength(val, len)) == NULL)
		return (0);
	state = json_str(inc, "im_page.state");
	if (state != NULL && strcmp(state, "paging") == 0)
		strlist_add(keys, key);
	cJSON_Delete(inc);
	return (0);
}

/*
 * At startup: an incident-manager page recorded as "paging" may or may not
 * have reached PagerDuty before the daemon stopped. Send it again; the
 * incident_key makes a second create come back as the first incident.
 */
void
cmd_new_incident_resume(void)
{
	struct strlist	 keys = { NULL, 0 };
	struct ni_page	*pg;
	cJSON		*inc;
	size_t		 i;

	store_foreach(store, STORE_INCIDENTS, "", ni_resume_cb, &keys);
	for (i = 0; i < keys.n; i++) {
		if ((inc = incident_load(keys.v[i])) == NULL)
			continue;
		pg = xcalloc(1, sizeof(*pg));
		pg->key = xstrdup(keys.v[i]);
		pg->user = xstrdup(json_str(inc, "im_page.by") != NULL ?
		    json_str(inc, "im_page.by") : "");
		if (json_str(inc, "prompt_channel") != NULL)
			pg->channel = xstrdup(json_str(inc, "prompt_channel"));
		log_info("incident %s: resuming the incident-manager page",
		    pg->key);
		ni_send_page_cb(pg);
		cJSON_Delete(inc);
	}
	strlist_free(&keys);
}
