/*
 * cmd-new-incident.c: "new incident <summary>".
 *
 * Creates the Jira ticket, records the incident, and asks in the channel
 * whether to page the incident manager. "Page incident manager" opens a
 * modal whose fields are all optional (an emergency never waits on a
 * form); submitting it pages PagerDuty's incident-manager service and
 * copies the details to the ticket. The incident manager's page is an
 * ordinary page (page.c) whose one target is the incident-manager
 * service: it runs on the job engine, makes (or joins) the incident's one
 * PagerDuty incident, and its report is the im_announce job below. The
 * record's im_page (only this file reads or writes it) guards it: once
 * "paging" or "paged", further clicks and submissions only say who
 * already paged.
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

#define NI_REFUSED	"refused: "
#define NI_COMMENTS	20	/* newest comments a probe reads */
#define NI_LOOK_AGAIN_MS 8000	/* a second search, for Jira's index lag */

static enum cmd_retval	ni_exec(struct cmd_item *);
static char		*ni_clean_summary(const char *);
static void		 ni_created_cb(const struct jira_result *, void *);
static void		 ni_create_run(struct job *);
static void		 ni_create_probe(struct job *);
static void		 ni_probe_cb(const struct jira_result *, void *);
static void		 ni_create_ended(struct job *);
static void		 ni_prompt_run(struct job *);
static void		 ni_posted_cb(const struct slack_result *, void *);
static cJSON		*ni_prompt_blocks(const cJSON *, const char *);
static void		 ni_update_prompt(cJSON *, const char *);
static void		 ni_note_prompt(cJSON *, const char *, const char *);
static void		 ni_update_run(struct job *);
static void		 ni_updated_cb(const struct slack_result *, void *);
static const char	*ni_click_channel(const cJSON *);
static void		 ni_ephemeral(const char *, const char *, const char *);
static int		 ni_page_taken(const char *, const cJSON *,
			    const char *);
static cJSON		*ni_incident_from(const char *);
static void		 ni_page_access_cb(const char *, void *);
static void		 ni_open_modal(const cJSON *, const char *);
static void		 ni_set(cJSON *, const char *, const char *);
static void		 ni_announce_run(struct job *);
static void		 ni_comment(const cJSON *, const char *);
static void		 ni_comment_run(struct job *);
static void		 ni_comment_probe(struct job *);
static void		 ni_comments_cb(const struct jira_result *, void *);
static char		*ni_field(const cJSON *, const char *);
static char		*ni_details_text(const cJSON *, const cJSON *);

static const char *ni_severities[] = {
	"SEV1 - critical", "SEV2 - major", "SEV3 - minor", "SEV4 - low", NULL
};

static void		 ni_page_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 ni_decline_click(const cJSON *, const cJSON *,
			    struct envelope *);
static void		 ni_modal_submit(const cJSON *, struct envelope *);

static const struct cmd_action ni_actions[] = {
	{ "im_page", ni_page_click },
	{ "im_decline", ni_decline_click },
	{ NULL, NULL }
};
static const struct cmd_view ni_views[] = {
	{ "im_page_modal", ni_modal_submit },
	{ NULL, NULL }
};

const struct cmd_entry cmd_new_incident_entry = {
	.name = "new incident",
	.usage = "new incident <summary>",
	.help = "Open a Jira incident ticket and offer to page the incident "
	    "manager.",
	.exec = ni_exec,
	.actions = ni_actions,
	.views = ni_views
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

/*
 * Record the request as an incident_create job, in this turn: the ticket
 * is created after the commit, exactly once, and the requester gets an
 * answer even if the daemon stops in between (the job resumes).
 */
static enum cmd_retval
ni_exec(struct cmd_item *item)
{
	cJSON	*args;
	char	*summary, *key, *id;
	size_t	 len;

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
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", item->channel);
	cJSON_AddStringToObject(args, "user", item->user);
	cJSON_AddStringToObject(args, "ts", item->ts);
	if (item->thread_ts != NULL)
		cJSON_AddStringToObject(args, "thread_ts", item->thread_ts);
	cJSON_AddStringToObject(args, "summary", summary);
	free(summary);
	/* One message, one ticket: a redelivered envelope finds the job. */
	xasprintf(&key, "%s-%s", item->channel, item->ts);
	id = job_create("incident_create", key, args, 0);
	free(key);
	if (id == NULL) {
		cmd_error(item, "I could not record that (state store error); "
		    "nothing was done. Try again in a moment.");
		return (CMD_ERROR);
	}
	free(id);
	return (CMD_DONE);
}

/* incident_create: the Jira ticket, labelled with the job's token. */
static void
ni_create_run(struct job *j)
{
	cJSON	*a = job_args(j);
	char	*link, *desc, *label;

	link = slack_permalink(json_str(a, "channel"), json_str(a, "ts"));
	xasprintf(&desc, "Incident declared in Slack by user %s in channel "
	    "%s.\nSlack message: %s\n\nDeclared with incidentd.",
	    json_str(a, "user"), json_str(a, "channel"), link);
	xasprintf(&label, "incidentd-%s", job_token(j));
	jira_issue_create(json_str(a, "summary"), desc, label,
	    ni_created_cb, j);
	free(label);
	free(desc);
	free(link);
}

static void
ni_created_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	const char	*key = json_str(jr->json, "key");
	cJSON		*res;
	char		*why;

	if (jr->error == NULL && key != NULL && jira_valid_key(key)) {
		res = cJSON_CreateObject();
		cJSON_AddStringToObject(res, "key", key);
		job_done(j, res);
	} else if (jr->error == NULL)
		/* A 2xx that names no ticket: it may exist all the same. */
		job_unsure(j, "Jira answered without a valid ticket key");
	else if (jr->status == 429)
		job_retry(j, 0, jr->error);
	else if (jr->status >= 400 && jr->status < 500) {
		/* The marker tells the ended hook Jira said no. */
		xasprintf(&why, "%s%s", NI_REFUSED, jr->error);
		job_fail(j, why);
		free(why);
	} else
		/* A 5xx or no answer: Jira may have created it. */
		job_unsure(j, jr->error);
}

/* Was the ticket created? Look for the job's label before resending. */
static void
ni_create_probe(struct job *j)
{
	char	*label;

	xasprintf(&label, "incidentd-%s", job_token(j));
	jira_issue_find_label(label, ni_probe_cb, j);
	free(label);
}

static void
ni_probe_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*is;
	const char	*key;
	cJSON		*res;

	if (jr->error != NULL) {
		job_unsure(j, jr->error);
		return;
	}
	is = cJSON_GetArrayItem(json_path(jr->json, "issues"), 0);
	key = json_str(is, "key");
	if (key == NULL || !jira_valid_key(key)) {
		/*
		 * Jira's search is eventually consistent: a ticket created a
		 * moment ago may not be found yet. Look twice, some seconds
		 * apart, before creating again.
		 */
		if (!json_bool(job_args(j), "looked")) {
			cJSON_AddTrueToObject(job_args(j), "looked");
			job_probe_later(j, NI_LOOK_AGAIN_MS,
			    "no ticket with the label in Jira's search yet");
			return;
		}
		cJSON_DeleteItemFromObject(job_args(j), "looked");
		job_resend(j);
		return;
	}
	log_info("job %s: ticket %s was created before; not again",
	    job_id(j), key);
	res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "key", key);
	job_done(j, res);
}

/* The ticket exists (or never will): record it, or tell the requester. */
static void
ni_create_ended(struct job *j)
{
	const cJSON	*a = job_args(j);
	const char	*key = json_str(job_result(j), "key");
	cJSON		*inc, *im, *args, *by;
	char		*text, *err, *id;
	int		 refused;

	if (!job_succeeded(j) || key == NULL) {
		refused = str_has_prefix(job_error(j), NI_REFUSED);
		err = slack_escape(job_error(j) + (refused ?
		    strlen(NI_REFUSED) : 0));
		if (job_unknown(j))
			xasprintf(&text, ":warning: Jira did not answer "
			    "clearly (%s), so I cannot tell whether it created "
			    "the ticket. Before declaring again, look in Jira "
			    "for a ticket labelled `incidentd-%s`; if there is "
			    "one, run `new channel KEY` with it.", err,
			    job_token(j));
		else if (refused)
			xasprintf(&text, ":warning: Jira refused the ticket: "
			    "%s. Nothing was recorded. Check `jira.project` "
			    "and `jira.issue_type` in the configuration, or "
			    "open the ticket in Jira and run `new channel "
			    "KEY`.", err);
		else
			xasprintf(&text, ":warning: I could not create the "
			    "Jira ticket: %s. Nothing was recorded; try again "
			    "in a moment, or open the ticket in Jira and run "
			    "`new channel KEY`.", err);
		cmd_reply_job(json_str(a, "channel"),
		    json_str(a, "thread_ts"), text, job_id(j));
		free(text);
		free(err);
		return;
	}
	if ((inc = incident_load(key)) == NULL) {
		inc = cJSON_CreateObject();
		cJSON_AddStringToObject(inc, "key", key);
		cJSON_AddStringToObject(inc, "summary", json_str(a, "summary"));
		cJSON_AddStringToObject(inc, "declared_by", json_str(a, "user"));
		cJSON_AddNumberToObject(inc, "declared_at",
		    (double)now_wall());
		cJSON_AddStringToObject(inc, "origin_channel",
		    json_str(a, "channel"));
		cJSON_AddStringToObject(inc, "origin_ts", json_str(a, "ts"));
		im = cJSON_AddObjectToObject(inc, "im_page");
		cJSON_AddStringToObject(im, "state", "asked");
		incident_save(inc);
		by = cJSON_CreateObject();
		cJSON_AddStringToObject(by, "by", json_str(a, "user"));
		evlog_add(key, EVLOG_DECLARED, (time_t)json_num(inc,
		    "declared_at", 0), by);
		log_info("incident %s declared by %s", key,
		    json_str(a, "user"));
	}
	cJSON_Delete(inc);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	if (json_str(a, "thread_ts") != NULL)
		cJSON_AddStringToObject(args, "thread_ts",
		    json_str(a, "thread_ts"));
	if ((id = job_create("incident_prompt", key, args, 0)) == NULL)
		log_warnx("incident %s: could not record its prompt", key);
	free(id);
}

/* incident_prompt: "declared; page the incident manager?", once. */
static void
ni_prompt_run(struct job *j)
{
	cJSON	*inc, *a = job_args(j);
	char	*text, *sum;

	if ((inc = incident_load(job_key(j))) == NULL) {
		job_fail(j, "the incident record is gone");
		return;
	}
	sum = slack_escape(json_str(inc, "summary"));
	xasprintf(&text, "Incident %s declared: %s", job_key(j), sum);
	/* Paged or declined already (a click on a lost copy): say so. */
	slack_post(json_str(a, "channel"), json_str(a, "thread_ts"), text,
	    ni_prompt_blocks(inc, json_str(inc, "prompt_status")),
	    ni_posted_cb, j);
	free(text);
	free(sum);
	cJSON_Delete(inc);
}

const struct job_kind ni_create_job = {
	.name = "incident_create",
	.run = ni_create_run,
	.probe = ni_create_probe,
	.ended = ni_create_ended,
	.max_attempts = 4,
	.concurrency = 4,
	/* Jira's search index lags a create by a moment: probe later. */
	.backoff_base_ms = 1000,
	.backoff_cap_ms = 30000
};

const struct job_kind ni_prompt_job = {
	.name = "incident_prompt",
	.run = ni_prompt_run,
	.max_attempts = 8
};

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

/* Remember where the prompt is, so later clicks can update it. */
static void
ni_posted_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;
	cJSON		*inc;

	if (!sr->ok) {
		slack_job_failed(j, sr);
		return;
	}
	if ((inc = incident_load(job_key(j))) != NULL) {
		ni_note_prompt(inc, json_str(sr->json, "channel"),
		    json_str(sr->json, "ts"));
		incident_save(inc);
		cJSON_Delete(inc);
	}
	job_done(j, NULL);
}

/*
 * Show status (NULL: the buttons again) on every copy of the prompt: the
 * one the prompt job recorded and any other a click came from (a post
 * whose answer was lost is posted again, so a prompt may exist twice).
 * The status is kept in the record, so a prompt posted later shows it.
 */
static void
ni_update_prompt(cJSON *inc, const char *status)
{
	const cJSON	*p;
	cJSON		*args;
	char		*key, *id;
	int		 rev;

	cJSON_DeleteItemFromObject(inc, "prompt_status");
	if (status != NULL)
		cJSON_AddStringToObject(inc, "prompt_status", status);
	/* Each change is its own job; each shows the record as it is then. */
	rev = (int)json_num(inc, "prompt_rev", 0) + 1;
	cJSON_DeleteItemFromObject(inc, "prompt_rev");
	cJSON_AddNumberToObject(inc, "prompt_rev", rev);
	incident_save(inc);
	cJSON_ArrayForEach(p, json_path(inc, "prompts")) {
		if (json_str(p, "channel") == NULL || json_str(p, "ts") == NULL)
			continue;
		args = cJSON_CreateObject();
		cJSON_AddStringToObject(args, "incident", json_str(inc, "key"));
		cJSON_AddStringToObject(args, "channel", json_str(p, "channel"));
		cJSON_AddStringToObject(args, "ts", json_str(p, "ts"));
		xasprintf(&key, "%s:%s:%d", json_str(inc, "key"),
		    json_str(p, "ts"), rev);
		if ((id = job_create("prompt_update", key, args, 0)) == NULL)
			log_warnx("incident %s: could not record a prompt "
			    "update", json_str(inc, "key"));
		free(id);
		free(key);
	}
}

/* prompt_update: chat.update is idempotent, so a resend is harmless. */
static void
ni_update_run(struct job *j)
{
	cJSON		*inc, *args, *a = job_args(j);
	const char	*status;
	char		*text;

	if ((inc = incident_load(json_str(a, "incident"))) == NULL) {
		job_fail(j, "the incident record is gone");
		return;
	}
	status = json_str(inc, "prompt_status");
	xasprintf(&text, "Incident %s: %s", json_str(inc, "key"),
	    status != NULL ? status : "page the incident manager?");
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	cJSON_AddStringToObject(args, "ts", json_str(a, "ts"));
	cJSON_AddStringToObject(args, "text", text);
	cJSON_AddItemToObject(args, "blocks", ni_prompt_blocks(inc, status));
	slack_call("chat.update", args, ni_updated_cb, j);
	free(text);
	cJSON_Delete(inc);
}

static void
ni_updated_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok)
		job_done(j, NULL);
	else
		slack_job_failed(j, sr);
}

const struct job_kind ni_update_job = {
	.name = "prompt_update",
	.run = ni_update_run,
	.max_attempts = 8
};

/* Remember a message showing the prompt (posted, or clicked on). */
static void
ni_note_prompt(cJSON *inc, const char *channel, const char *ts)
{
	const cJSON	*p;
	cJSON		*list, *o;

	if (channel == NULL || ts == NULL)
		return;
	if ((list = cJSON_GetObjectItem(inc, "prompts")) == NULL)
		list = cJSON_AddArrayToObject(inc, "prompts");
	cJSON_ArrayForEach(p, list) {
		if (json_str(p, "ts") != NULL && strcmp(json_str(p, "ts"),
		    ts) == 0)
			return;
	}
	if (cJSON_GetArraySize(list) >= 8)
		return;		/* bounded: a prompt is not posted 8 times */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "channel", channel);
	cJSON_AddStringToObject(o, "ts", ts);
	cJSON_AddItemToArray(list, o);
	cJSON_DeleteItemFromObject(inc, "prompt_channel");
	cJSON_DeleteItemFromObject(inc, "prompt_ts");
	cJSON_AddStringToObject(inc, "prompt_channel", channel);
	cJSON_AddStringToObject(inc, "prompt_ts", ts);
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
static void
ni_page_click(const cJSON *payload, const cJSON *action,
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
	/* The message clicked on is a prompt to keep up to date. */
	ni_note_prompt(inc, ni_click_channel(payload), json_str(payload,
	    "container.message_ts"));
	incident_save(inc);
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
static void
ni_decline_click(const cJSON *payload, const cJSON *action,
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
	ni_note_prompt(inc, ni_click_channel(payload), json_str(payload,
	    "container.message_ts"));
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

/*
 * The modal was submitted. In this turn: the incident records who paged
 * (im_page.state "paging"), and a page with the incident manager's
 * service as its one target is started (page.c): it creates the
 * incident's PagerDuty incident, or joins it if a page made it already.
 * Its report is an im_announce job.
 */
static void
ni_modal_submit(const cJSON *payload, struct envelope *env)
{
	const char	*user = json_str(payload, "user.id");
	const cJSON	*values = json_path(payload, "view.state.values");
	cJSON		*inc, *im, *fields, *page, *t;
	const char	*names[] = { "severity", "impact", "services", "note" };
	const char	*key;
	char		*v, *id, *tmp;
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
	key = json_str(inc, "key");
	id = page_new_id();
	if ((im = cJSON_GetObjectItem(inc, "im_page")) == NULL)
		im = cJSON_AddObjectToObject(inc, "im_page");
	ni_set(im, "state", "paging");
	ni_set(im, "by", user);
	ni_set(im, "page", id);
	cJSON_DeleteItemFromObject(im, "error");
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
	/* Saved before page_start, which adds the PD incident's job. */
	if (incident_save(inc) != 0) {
		free(id);
		goto out;
	}

	page = cJSON_CreateObject();
	cJSON_AddStringToObject(page, "id", id);
	cJSON_AddStringToObject(page, "user", user);
	cJSON_AddStringToObject(page, "channel", json_str(inc,
	    "prompt_channel") != NULL ? json_str(inc, "prompt_channel") :
	    json_str(inc, "origin_channel"));
	if (json_str(inc, "prompt_ts") != NULL)
		cJSON_AddStringToObject(page, "ts", json_str(inc, "prompt_ts"));
	cJSON_AddStringToObject(page, "incident", key);
	cJSON_AddNumberToObject(page, "created", (double)now_wall());
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "kind", "service");
	cJSON_AddStringToObject(t, "id",
	    cfg->pagerduty.incident_manager_service);
	cJSON_AddStringToObject(t, "name", "the incident manager");
	cJSON_AddStringToObject(t, "label", "incident manager");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(page, "targets"), t);
	xasprintf(&tmp, "[%s] %s", key, json_str(inc, "summary"));
	v = utf8_truncate(tmp, NI_TITLE_MAX, 1);
	cJSON_AddStringToObject(page, "title", v);
	free(v);
	free(tmp);
	v = ni_details_text(inc, fields);
	cJSON_AddStringToObject(page, "details", v);
	free(v);
	xasprintf(&tmp, "incidentd/%s/incident-manager", key);
	cJSON_AddStringToObject(page, "incident_key", tmp);
	free(tmp);
	cJSON_AddStringToObject(page, "announce", ni_announce_job.name);
	cJSON_AddTrueToObject(page, "im");
	log_info("incident %s: paging the incident manager (page %s)", key,
	    id);
	if (page_start(page) != 0)
		log_warnx("incident %s: the incident manager's page could not "
		    "be recorded", key);
	cJSON_Delete(page);
	free(id);
out:
	cJSON_Delete(inc);
}

/* Set (replace) a string member. */
static void
ni_set(cJSON *o, const char *name, const char *v)
{
	cJSON_DeleteItemFromObject(o, name);
	if (v != NULL)
		cJSON_AddStringToObject(o, name, v);
}

/*
 * im_announce: the incident manager's page ended. Record it on the
 * incident, update the prompt (or bring its button back), copy the
 * details to Jira. Posts and the comment are at least once: a stop in
 * the middle repeats them on resume.
 */
static void
ni_announce_run(struct job *j)
{
	cJSON		*page, *out = NULL, *inc = NULL, *im;
	const cJSON	*t;
	const char	*url, *id, *by, *st, *err;
	char		*status, *text, *when;

	if ((page = page_load(job_key(j))) == NULL ||
	    (out = page_outcome(job_key(j))) == NULL ||
	    (inc = incident_load(json_str(page, "incident") != NULL ?
	    json_str(page, "incident") : "")) == NULL) {
		job_fail(j, "the page or its incident is gone");
		goto out;
	}
	im = cJSON_GetObjectItem(inc, "im_page");
	if (im == NULL || json_str(im, "page") == NULL ||
	    strcmp(json_str(im, "page"), job_key(j)) != 0) {
		/* A later page superseded this one. */
		job_done(j, NULL);
		goto out;
	}
	by = json_str(page, "user");
	t = cJSON_GetArrayItem(json_path(out, "targets"), 0);
	st = json_str(t, "state");
	id = json_str(t, "pd_incident");
	if (st == NULL || strcmp(st, "done") != 0 || id == NULL) {
		err = t == NULL ? "its job is gone" : json_str(t, "error") !=
		    NULL ? json_str(t, "error") : "no incident id";
		ni_set(im, "state", "failed");
		ni_set(im, "error", err);
		incident_save(inc);
		text = slack_escape(err);
		xasprintf(&status, ":warning: Paging the incident manager "
		    "failed: %s. Press the button to try again, or call "
		    "them.", text);
		free(text);
		ni_update_prompt(inc, NULL);
		cmd_reply_job(json_str(page, "channel"), NULL, status,
		    job_id(j));
		free(status);
		job_done(j, NULL);
		goto out;
	}
	url = json_str(t, "pd_url");
	ni_set(im, "state", "paged");
	ni_set(im, "pd_incident", id);
	ni_set(im, "pd_url", url);
	incident_save(inc);
	log_info("incident %s: incident manager paged (PagerDuty %s)",
	    json_str(inc, "key"), id);
	if (url != NULL && strncmp(url, "https://", 8) == 0 &&
	    strpbrk(url, "|<> ") == NULL)
		xasprintf(&text, "<%s|PagerDuty incident>", url);
	else {
		status = slack_escape(id);
		xasprintf(&text, "PagerDuty %s", status);
		free(status);
	}
	when = slack_date(now_wall(), "{date_short_pretty} {time}");
	xasprintf(&status, ":pager: Incident manager paged by <@%s> at "
	    "%s (%s).%s", by, when, text,
	    json_str(t, "status") != NULL && strcmp(json_str(t, "status"),
	    "resolved") == 0 ? " That PagerDuty incident was already "
	    "resolved; it was not opened again." : "");
	free(text);
	free(when);
	ni_update_prompt(inc, status);
	free(status);
	ni_comment(inc, id);
	job_done(j, NULL);
out:
	cJSON_Delete(out);
	cJSON_Delete(inc);
	cJSON_Delete(page);
}

const struct job_kind ni_announce_job = {
	.name = "im_announce",
	.run = ni_announce_run,
	.max_attempts = 4
};

/*
 * Copy the modal's details to the Jira ticket, if any were given: an
 * incident_comment job, so the comment is written once even across a
 * stop; its probe reads the newest comments for the very same text.
 */
static void
ni_comment(const cJSON *inc, const char *pdid)
{
	cJSON	*args;
	char	*details, *text, *id;

	if (cJSON_GetArraySize(json_path(inc, "details")) == 0)
		return;
	details = ni_details_text(inc, json_path(inc, "details"));
	xasprintf(&text, "Incident manager paged from Slack (PagerDuty "
	    "incident %s).\n%s", pdid, details);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "text", text);
	if ((id = job_create("incident_comment", json_str(inc, "key"), args,
	    0)) == NULL)
		log_warnx("incident %s: could not record the details comment",
		    json_str(inc, "key"));
	free(id);
	free(text);
	free(details);
}

static void
ni_comment_run(struct job *j)
{
	jira_issue_comment(job_key(j), json_str(job_args(j), "text"),
	    jira_job_cb, j);
}


static void
ni_comment_probe(struct job *j)
{
	jira_issue_comments(job_key(j), NI_COMMENTS, ni_comments_cb, j);
}

static void
ni_comments_cb(const struct jira_result *jr, void *arg)
{
	struct job	*j = arg;
	const cJSON	*c;
	const char	*body, *text = json_str(job_args(j), "text");

	if (jr->error != NULL) {
		job_unsure(j, jr->error);
		return;
	}
	cJSON_ArrayForEach(c, json_path(jr->json, "comments")) {
		body = json_str(c, "body");
		if (body != NULL && text != NULL && strcmp(body, text) == 0) {
			job_done(j, NULL);
			return;
		}
	}
	job_resend(j);
}

const struct job_kind ni_comment_job = {
	.name = "incident_comment",
	.run = ni_comment_run,
	.probe = ni_comment_probe,
	.max_attempts = 6,
	.backoff_base_ms = 1000
};
