/*
 * cmd.c: the command table, lookup and the reply helpers.
 *
 * Each command lives in cmd-<verb>[-<noun>].c and exports one cmd_entry.
 * Names may take two words ("page list"); the longest exact name wins,
 * then a unique prefix of every word ("new inc"). Replies go to where the
 * command was typed: the channel (or its thread) or the DM.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "incidentd.h"

#define CMD_MAX_WORDS	1024	/* "page" takes hundreds of targets */
#define CMD_REPLY_MAX	3500	/* bytes of mrkdwn per reply message */

const struct cmd_entry *cmd_table[] = {
	&cmd_help_entry,
	&cmd_new_incident_entry,
	&cmd_new_channel_entry,
	&cmd_page_list_entry,
	&cmd_page_entry,
	&cmd_get_timeline_entry,
	&cmd_keep_open_entry,
	&cmd_status_entry,
	&cmd_postmortem_entry,
	&cmd_metrics_entry,
	&cmd_pagerduty_entry,
	NULL
};

static int	cmd_name_words(const char *, char [][32], int);
static int	cmd_match(const struct cmd_entry *, int, char **, int);
static void	cmd_item_free(struct cmd_item *);
static void	cmd_unknown(struct cmd_item *, const char *, const char *);
static const char *cmd_skip_words(const char *, int);
static int	cmd_rate_limited(struct cmd_item *);
static void	cmd_access_cb(const char *, void *);
static int	cmd_backlogged(struct cmd_item *);
static void	cmd_tell_private(struct cmd_item *, const char *);
static void	cmd_exec(struct cmd_item *);
static void	cmd_post(struct cmd_item *, const char *, cJSON *);
static void	cmd_post_cb(void *);
static void	cmd_post_free_cb(void *);
static void	cmd_post_sent_cb(const struct slack_result *, void *);
static void	cmd_post_retry_cb(evutil_socket_t, short, void *);
static void	cmd_reply_run(struct job *);
static void	cmd_job_for(const char *, const char *, cJSON *);
static void	cmd_reply_posted_cb(const struct slack_result *, void *);
static void	cmd_reply_probe(struct job *);
static void	cmd_reply_found_cb(int, const char *, void *);
static void	cmd_reply_done(struct job *);
static void	cmd_invite_run(struct job *);
static void	cmd_invited_cb(const struct slack_result *, void *);

/* Split into words; "double quotes" group words. */
int
cmd_split(const char *text, int *argc, char ***argv)
{
	const char	*p = text;
	char		*word;
	size_t		 len;
	int		 n = 0;
	char		**v = NULL;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (n == CMD_MAX_WORDS)
			goto fail;
		if (*p == '"') {
			p++;
			len = strcspn(p, "\"");
			if (p[len] != '"')
				goto fail;
			word = xstrndup(p, len);
			p += len + 1;
		} else {
			len = 0;
			while (p[len] != '\0' && !isspace((unsigned char)p[len]))
				len++;
			word = xstrndup(p, len);
			p += len;
		}
		v = xreallocarray(v, n + 2, sizeof(*v));
		v[n++] = word;
		v[n] = NULL;
	}
	if (v == NULL)
		v = xcalloc(1, sizeof(*v));
	*argc = n;
	*argv = v;
	return (0);
fail:
	cmd_free_argv(n, v);
	return (-1);
}

/* Where the text after n words starts (same rules as cmd_split). */
static const char *
cmd_skip_words(const char *p, int n)
{
	for (; n > 0; n--) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '"') {
			p = strchr(p + 1, '"');
			p = p != NULL ? p + 1 : "";
		} else {
			while (*p != '\0' && !isspace((unsigned char)*p))
				p++;
		}
	}
	while (isspace((unsigned char)*p))
		p++;
	return (p);
}

/* Free what cmd_split returned. */
void
cmd_free_argv(int argc, char **argv)
{
	int	i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

static int
cmd_name_words(const char *name, char words[][32], int max)
{
	int		 n = 0;
	size_t		 len;

	while (*name != '\0' && n < max) {
		len = strcspn(name, " ");
		if (len >= 32)
			len = 31;
		memcpy(words[n], name, len);
		words[n++][len] = '\0';
		name += len;
		while (*name == ' ')
			name++;
	}
	return (n);
}

/* Words matched: exact if every word equals, else prefix; 0 if neither. */
static int
cmd_match(const struct cmd_entry *e, int argc, char **argv, int exact)
{
	char	words[4][32];
	int	n, i;
	size_t	len;

	n = cmd_name_words(e->name, words, 4);
	if (argc < n)
		return (0);
	for (i = 0; i < n; i++) {
		len = strlen(argv[i]);
		if (exact && strcasecmp(argv[i], words[i]) != 0)
			return (0);
		if (!exact && (len == 0 || strncasecmp(argv[i], words[i],
		    len) != 0))
			return (0);
	}
	return (n);
}

/* Look up the command argv names. */
const struct cmd_entry *
cmd_find(int argc, char **argv, int *used, char **cause)
{
	const struct cmd_entry	*best = NULL, *e;
	int			 i, n, bestn = 0, found = 0;
	char			*list = NULL, *tmp;

	*cause = NULL;
	if (argc == 0) {
		*cause = xstrdup("no command given");
		return (NULL);
	}
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if ((n = cmd_match(e, argc, argv, 1)) > bestn) {
			best = e;
			bestn = n;
		}
	}
	if (best != NULL) {
		*used = bestn;
		return (best);
	}
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if ((n = cmd_match(e, argc, argv, 0)) == 0)
			continue;
		found++;
		best = e;
		bestn = n;
		xasprintf(&tmp, "%s%s`%s`", list != NULL ? list : "",
		    list != NULL ? ", " : "", e->name);
		free(list);
		list = tmp;
	}
	if (found == 1) {
		free(list);
		*used = bestn;
		return (best);
	}
	if (found > 1)
		xasprintf(cause, "ambiguous command: could be %s", list);
	else
		*cause = xstrdup("unknown command");
	free(list);
	return (NULL);
}

static void
cmd_item_free(struct cmd_item *item)
{
	free(item->channel);
	free(item->user);
	free(item->ts);
	free(item->thread_ts);
	free(item->text);
	cmd_free_argv(item->argc, item->argv);
	free(item);
}

static void
cmd_unknown(struct cmd_item *item, const char *word, const char *cause)
{
	char	*w;

	w = slack_escape(word);
	if (strcmp(cause, "unknown command") == 0)
		cmd_reply(item, "I don't know the command `%s`. Say `help` "
		    "to see what I can do.", w);
	else
		cmd_reply(item, "`%s` is an %s. Say `help` to see the full "
		    "names.", w, cause);
	free(w);
}

/* An item to reply through when no command was typed (a click). */
struct cmd_item *
cmd_item_new(const char *channel, const char *user, const char *thread_ts)
{
	struct cmd_item	*item;

	item = xcalloc(1, sizeof(*item));
	item->channel = xstrdup(channel);
	item->user = xstrdup(user != NULL ? user : "");
	item->ts = xstrdup("");
	if (thread_ts != NULL)
		item->thread_ts = xstrdup(thread_ts);
	item->text = xstrdup("");
	item->args = item->text;
	item->argv = xcalloc(1, sizeof(*item->argv));
	return (item);
}

/* Run the command in a chat message (text after the bot's mention). */
void
cmd_run(const char *channel, const char *user, const char *ts,
    const char *thread_ts, const char *text, int is_dm)
{
	struct cmd_item		*item;
	const struct cmd_entry	*e;
	char			**words, *cause;
	int			 nwords, used, i, what;

	item = cmd_item_new(channel, user, thread_ts);
	free(item->ts);
	item->ts = xstrdup(ts);
	free(item->text);
	item->text = xstrdup(text);
	free(item->argv);
	item->argv = NULL;
	item->is_dm = is_dm;

	if (cmd_rate_limited(item) || cmd_backlogged(item))
		goto done;
	if (cmd_split(text, &nwords, &words) != 0) {
		cmd_error(item, "I could not read that command: check the "
		    "quotes.");
		goto done;
	}
	if (nwords == 0) {
		/* A bare mention asks for help. */
		cmd_free_argv(nwords, words);
		(void)cmd_split("help", &nwords, &words);
	}
	if ((e = cmd_find(nwords, words, &used, &cause)) == NULL) {
		cmd_unknown(item, words[0], cause);
		free(cause);
		cmd_free_argv(nwords, words);
		goto done;
	}
	log_info("command %s from %s in %s", e->name, item->user, channel);
	metrics_command(e->name);
	item->entry = e;
	item->args = cmd_skip_words(item->text, used);
	item->argc = nwords - used;
	item->argv = xcalloc(item->argc + 1, sizeof(*item->argv));
	for (i = 0; i < nwords; i++) {
		if (i < used)
			free(words[i]);
		else
			item->argv[i - used] = words[i];
	}
	free(words);

	what = 0;
	if (cfg->access.commands.n > 0 && !(e->flags & CMD_ANYONE))
		what |= ACCESS_COMMANDS;
	if (e->flags & CMD_PAGES)
		what |= ACCESS_MEMBER | ACCESS_PAGE;
	if (what != 0) {
		access_check(item->user, what, cmd_access_cb, item);
		return;
	}
	cmd_exec(item);
	return;
done:
	cmd_item_free(item);
}

/*
 * Over the user's command budget: say so once a minute (privately in a
 * channel), then stay quiet, so the refusals cannot flood either.
 */
static int
cmd_rate_limited(struct cmd_item *item)
{
	char	*text;
	int	 retry, tell;

	if (access_rate_take(item->user, &retry, &tell) == 0)
		return (0);
	metrics_command_refused("rate");
	log_info("command from %s in %s refused: over %lld a minute",
	    item->user, item->channel, cfg->access.commands_per_minute);
	if (!tell)
		return (1);
	xasprintf(&text, ":hourglass: You are sending me commands faster than "
	    "I take them (%lld a minute). Try again in %d second%s.",
	    cfg->access.commands_per_minute, retry, retry == 1 ? "" : "s");
	cmd_tell_private(item, text);
	free(text);
	return (1);
}

/* Tell only the user: in the DM, else as an ephemeral in the channel. */
static void
cmd_tell_private(struct cmd_item *item, const char *text)
{
	if (item->is_dm)
		slack_post(item->channel, item->thread_ts, text, NULL, NULL,
		    NULL);
	else
		slack_post_ephemeral(item->channel, item->user, text, NULL,
		    NULL);
}

/*
 * The job backlog is full (jobs.max_pending): record nothing for this
 * command, only say privately that it was not taken and to try again.
 * Incident managers pass, as they pass the rate limit: they are the ones
 * running the response. The note is no job: it is not durable work, and
 * a full engine is exactly when it must not wait behind the backlog.
 * Every refused command is told, but the rate limit bounds how often.
 */
static int
cmd_backlogged(struct cmd_item *item)
{
	const char	*text;

	if (!jobs_full() || access_is_manager(item->user))
		return (0);
	log_warnx("command from %s in %s refused: %d jobs pending, "
	    "jobs.max_pending is %lld", item->user, item->channel,
	    jobs_queued() + jobs_running(), cfg->limits.jobs_max_pending);
	metrics_command_refused("backlog");
	text = ":hourglass: I am busy with too much work to take this "
	    "command: nothing was done. Please try again in a minute.";
	cmd_tell_private(item, text);
	return (1);
}

static void
cmd_access_cb(const char *refusal, void *arg)
{
	struct cmd_item	*item = arg;

	if (refusal != NULL) {
		metrics_command_refused("access");
		log_info("command %s from %s refused", item->entry->name,
		    item->user);
		cmd_error(item, "%s", refusal);
		cmd_item_free(item);
		return;
	}
	cmd_exec(item);
}

/* Run the command proper; the item is freed unless it waits. */
static void
cmd_exec(struct cmd_item *item)
{
	if (item->entry->exec(item) != CMD_WAIT)
		cmd_item_free(item);
}

/* Reply where the command was typed. */
void
cmd_reply(struct cmd_item *item, const char *fmt, ...)
{
	va_list	 ap;
	char	*text;

	va_start(ap, fmt);
	xvasprintf(&text, fmt, ap);
	va_end(ap);
	cmd_post(item, text, NULL);
	free(text);
}

/* Reply with Block Kit blocks (consumed); text is the fallback. */
void
cmd_reply_blocks(struct cmd_item *item, const char *text, cJSON *blocks)
{
	cmd_post(item, text, blocks);
}

/* Tell the user a command failed and why. */
void
cmd_error(struct cmd_item *item, const char *fmt, ...)
{
	va_list	 ap;
	char	*text, *msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&text, ":warning: %s", msg);
	cmd_post(item, text, NULL);
	free(msg);
	free(text);
}

/*
 * A reply goes out once the turn that produced it is committed: what it
 * says may depend on what the turn recorded. If the turn fails, the
 * reply is dropped with it; Slack redelivers the command.
 *
 * An immediate reply is no job (a job costs two commits, and `help` must
 * stay cheap), but a transient failure (no answer, 429, 5xx, a redirect,
 * a 200 that is not Slack's JSON) must not leave the user unanswered: it
 * is sent again from memory, up to CMD_POST_TRIES times with back-off.
 * Slack has no idempotency key for a post, so an answer lost after
 * Slack posted may repeat the reply (the durable reply job looks its
 * post up first; this one is not keyed). At most CMD_POST_PENDING
 * replies wait at once, so an outage cannot grow memory without bound;
 * a stop drops the ones waiting (the command is not acked twice, the
 * reply is lost, and the log says so).
 */
#define CMD_POST_TRIES		4
#define CMD_POST_PENDING	1000

struct cmd_post {
	char			*channel;
	char			*thread_ts;
	char			*text;
	cJSON			*blocks;
	int			 attempt;
	struct event		*retry;
	TAILQ_ENTRY(cmd_post)	 entry;
};
static TAILQ_HEAD(, cmd_post)	cmd_posts_waiting =
    TAILQ_HEAD_INITIALIZER(cmd_posts_waiting);
static u_int			cmd_posts_nwaiting;

static void
cmd_post(struct cmd_item *item, const char *text, cJSON *blocks)
{
	struct cmd_post	*p;

	p = xcalloc(1, sizeof(*p));
	p->channel = xstrdup(item->channel);
	if (item->thread_ts != NULL)
		p->thread_ts = xstrdup(item->thread_ts);
	p->text = xstrdup(text);
	p->blocks = blocks;
	reactor_after_commit_or_abort(cmd_post_cb, cmd_post_free_cb, p);
}

static void
cmd_post_cb(void *arg)
{
	struct cmd_post	*p = arg;

	p->attempt++;
	slack_post(p->channel, p->thread_ts, p->text, p->blocks != NULL ?
	    cJSON_Duplicate(p->blocks, 1) : NULL, cmd_post_sent_cb, p);
}

static void
cmd_post_sent_cb(const struct slack_result *sr, void *arg)
{
	struct cmd_post	*p = arg;
	struct timeval	 tv;
	uint64_t	 ms;

	if (sr->ok || !slack_transient(sr) || p->attempt >= CMD_POST_TRIES ||
	    cmd_posts_nwaiting >= CMD_POST_PENDING) {
		if (!sr->ok)
			log_warnx("reply in %s not posted after %d attempt(s)",
			    p->channel, p->attempt);
		cmd_post_free_cb(p);
		return;
	}
	ms = backoff_ms(p->attempt - 1, 1000, 8000);
	p->retry = evtimer_new(reactor_base, cmd_post_retry_cb, p);
	TAILQ_INSERT_TAIL(&cmd_posts_waiting, p, entry);
	cmd_posts_nwaiting++;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(p->retry, &tv);
}

static void
cmd_post_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	struct cmd_post	*p = arg;

	TAILQ_REMOVE(&cmd_posts_waiting, p, entry);
	cmd_posts_nwaiting--;
	event_free(p->retry);
	p->retry = NULL;
	cmd_post_cb(p);
}

static void
cmd_post_free_cb(void *arg)
{
	struct cmd_post	*p = arg;

	if (p->retry != NULL)
		event_free(p->retry);
	cJSON_Delete(p->blocks);
	free(p->channel);
	free(p->thread_ts);
	free(p->text);
	free(p);
}

/* At a stop: the replies waiting to be sent again are dropped. */
void
cmd_shutdown(void)
{
	struct cmd_post	*p;

	if (cmd_posts_nwaiting > 0)
		log_warnx("%u reply(ies) waiting to be sent again dropped",
		    cmd_posts_nwaiting);
	while ((p = TAILQ_FIRST(&cmd_posts_waiting)) != NULL) {
		TAILQ_REMOVE(&cmd_posts_waiting, p, entry);
		cmd_posts_nwaiting--;
		cmd_post_free_cb(p);
	}
}

/* An asynchronous command completed. */
void
cmd_finish(struct cmd_item *item)
{
	cmd_item_free(item);
}

/*
 * A reply that must survive a stop: a "reply" job keyed by what it
 * answers (a job id, an envelope), so it is posted once, after the
 * commit, even if the daemon stops first.
 */
void
cmd_reply_job(const char *channel, const char *thread_ts, const char *text,
    const char *for_id)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	if (thread_ts != NULL)
		cJSON_AddStringToObject(args, "thread_ts", thread_ts);
	cJSON_AddStringToObject(args, "text", text);
	cmd_job_for("reply", for_id, args);
}

/*
 * A follow-up job of kind for what for_id names (a job id, a request):
 * keyed by it, so asking twice records it once.
 */
static void
cmd_job_for(const char *kind, const char *for_id, cJSON *args)
{
	char	*id, *key, *p;

	key = xstrdup(for_id);
	for (p = key; *p != '\0'; p++) {
		if (*p == '/')
			*p = ':';
	}
	if ((id = job_create(kind, key, args, 0)) == NULL)
		log_warnx("%s for %s could not be recorded", kind, for_id);
	free(id);
	free(key);
}

/*
 * Slack has no idempotency key for a post: the job's token goes in the
 * message's metadata, and a post whose answer was lost is looked up
 * (cmd_reply_probe) before it is sent again.
 */
static void
cmd_reply_run(struct job *j)
{
	cJSON	*a = job_args(j);

	slack_post_keyed(json_str(a, "channel"), json_str(a, "thread_ts"),
	    json_str(a, "text"), NULL, job_token(j), cmd_reply_posted_cb, j);
}

static void
cmd_reply_posted_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok)
		job_done(j, NULL);
	else
		slack_job_post_failed(j, sr);
}

/* Is the reply there? Looks from a minute before the job began. */
static void
cmd_reply_probe(struct job *j)
{
	cJSON	*a = job_args(j);

	slack_post_find(json_str(a, "channel"), json_str(a, "thread_ts"),
	    job_token(j), job_created(j) - 60, cmd_reply_found_cb, j);
}

static void
cmd_reply_found_cb(int found, const char *ts, void *arg)
{
	slack_job_found(arg, found, cmd_reply_done);
}

static void
cmd_reply_done(struct job *j)
{
	job_done(j, NULL);
}

const struct job_kind cmd_reply_job_kind = {
	.name = "reply",
	.run = cmd_reply_run,
	.probe = cmd_reply_probe,
	.max_attempts = 8
};

/*
 * A click on a button some command posted: the command that owns its
 * action_id handles it (clicks belong to their command; events.c only
 * classifies envelopes). 1 if someone did.
 */
int
cmd_click(const cJSON *payload, const cJSON *action, struct envelope *env)
{
	const struct cmd_action	*a;
	const char		*id = json_str(action, "action_id");
	size_t			 i;

	for (i = 0; id != NULL && cmd_table[i] != NULL; i++) {
		for (a = cmd_table[i]->actions; a != NULL &&
		    a->action_id != NULL; a++) {
			if (strcmp(a->action_id, id) == 0) {
				a->fn(payload, action, env);
				return (1);
			}
		}
	}
	return (0);
}

/* A modal some command opened was submitted. 1 if someone took it. */
int
cmd_submit(const cJSON *payload, struct envelope *env)
{
	const struct cmd_view	*v;
	const char		*id = json_str(payload, "view.callback_id");
	size_t			 i;

	for (i = 0; id != NULL && cmd_table[i] != NULL; i++) {
		for (v = cmd_table[i]->views; v != NULL &&
		    v->callback_id != NULL; v++) {
			if (strcmp(v->callback_id, id) == 0) {
				v->fn(payload, env);
				return (1);
			}
		}
	}
	return (0);
}

/*
 * Lines of mrkdwn as replies that survive a stop: cut into messages of
 * at most CMD_REPLY_MAX bytes, never inside a line, each a reply job
 * keyed by for_id and its number.
 */
void
cmd_reply_lines_job(const char *channel, const char *thread_ts,
    const struct strlist *lines, const char *for_id)
{
	char	*msg = NULL, *tmp, *key, *line;
	size_t	 i;
	int	 n = 0;

	for (i = 0; i <= lines->n; i++) {
		line = i < lines->n ? utf8_truncate(lines->v[i], CMD_REPLY_MAX,
		    1) : NULL;
		if (msg != NULL && (line == NULL ||
		    strlen(msg) + strlen(line) + 1 > CMD_REPLY_MAX)) {
			xasprintf(&key, "%s#%d", for_id, n++);
			cmd_reply_job(channel, thread_ts, msg, key);
			free(key);
			free(msg);
			msg = NULL;
		}
		if (line == NULL)
			break;
		if (msg == NULL)
			msg = line;
		else {
			xasprintf(&tmp, "%s\n%s", msg, line);
			free(msg);
			free(line);
			msg = tmp;
		}
	}
}

/* Invite users (comma-separated ids) to a channel, as a job. */
void
cmd_invite_job(const char *channel, const char *users, const char *for_id)
{
	cJSON	*args;

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", channel);
	cJSON_AddStringToObject(args, "users", users);
	cmd_job_for("invite", for_id, args);
}

static void
cmd_invite_run(struct job *j)
{
	cJSON	*args, *a = job_args(j);

	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "channel", json_str(a, "channel"));
	cJSON_AddStringToObject(args, "users", json_str(a, "users"));
	/* Members already in the channel must not fail it. */
	cJSON_AddBoolToObject(args, "force", 1);
	slack_call("conversations.invite", args, cmd_invited_cb, j);
}

/* Inviting is idempotent: whoever is in already counts. */
static void
cmd_invited_cb(const struct slack_result *sr, void *arg)
{
	struct job	*j = arg;

	if (sr->ok || (sr->error != NULL &&
	    strcmp(sr->error, "already_in_channel") == 0))
		job_done(j, NULL);
	else
		slack_job_failed(j, sr);
}

const struct job_kind cmd_invite_job_kind = {
	.name = "invite",
	.run = cmd_invite_run,
	.max_attempts = 8
};
