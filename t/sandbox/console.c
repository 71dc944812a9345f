/*
 * console.c: the demo console (sandbox --console).
 *
 * Reads lines from stdin (a libevent event on fd 0, non-blocking, no
 * threads) and acts as a person in the sandbox workspace: alice in
 * #general at first. A plain line is posted as "<@U0BOT> line", so
 * typing "help" asks the bot for help (/say posts a line as it is).
 * Everything the bot posts, updates or opens is printed readably, Block
 * Kit rendered as text, with interactive elements numbered globally for /click and messages
 * numbered for /react and /reply.
 */
#include "config.h"

#include <sys/time.h>

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <cjson/cJSON.h>

#include "sandbox.h"

#define CN_MAX_LINE	4096

/* A numbered interactive element: /click N. */
struct cn_button {
	char	*channel;	/* message buttons */
	char	*ts;
	char	*view_id;	/* modal buttons */
	char	*action_id;
	char	*label;
};

/* A numbered message: /react N, /reply N. */
struct cn_msg {
	char	*channel;
	char	*ts;
};

/* An input of the open modal: /set N VALUE. */
struct cn_input {
	char	*block_id;
	char	*action_id;
	char	*type;
	cJSON	*options;	/* static_select etc. */
	char	*value;		/* set by /set */
};

static struct event	*cn_ev;
static struct evbuffer	*cn_in;
static int		 cn_stdin_flags = -1;
static int		 cn_tty;
/*
 * Typed lines wait until the daemon has connected (events sent before that
 * would be lost). With stdin not a terminal (a script piped into make
 * demo), end-of-file ends the demo once the bot has answered the last
 * line and gone quiet for a second, or after 30 s.
 */
static struct event	*cn_tick;
static int		 cn_waiting;
static int		 cn_eof;
static struct timeval	 cn_eof_at, cn_last_post, cn_last_bot;
static char		*cn_user;
static char		*cn_channel;
static struct cn_button	*cn_buttons;
static size_t		 cn_nbuttons;
static struct cn_msg	*cn_msgs;
static size_t		 cn_nmsgs;
static struct cn_input	*cn_inputs;
static size_t		 cn_ninputs;
static char		*cn_view_id;
static char		*cn_view_user;

static void	 cn_read_cb(evutil_socket_t, short, void *);
static void	 cn_tick_cb(evutil_socket_t, short, void *);
static void	 cn_line(char *);
static void	 cn_printf(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
static char	*cn_mrkdwn(const char *);
static void	 cn_blocks(const cJSON *, const char *, const char *, int);
static void	 cn_inputs_clear(void);
static void	 cn_post(const char *, const char *, const char *);
static void	 cn_banner(void);
static void	 cn_buttons_clear(void);
static void	 cn_show_error(cJSON *);
static int	 cn_number(const char *, size_t, size_t *);
static void	 cn_submit(void);
static void	 cn_click(char *);
static void	 cn_indented(const char *, const char *);
static const char *cn_text(const cJSON *, const char *);
static void	 cn_show_text(const char *, const cJSON *);
static char	*cn_rstrip(char *);
static void	 cn_add_button(const cJSON *, const char *, const char *,
		    const char *, char *, size_t);
static void	 cn_add_input(const cJSON *, const char *);
static size_t	 cn_msg_number(const char *, const char *);
static void	 cn_where(const char *, char *, size_t);

static void
cn_printf(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Start reading stdin. */
void
console_init(void)
{
	cn_user = sb_strdup("U0ALICE");
	cn_channel = sb_strdup("C0GENERAL");
	if ((cn_in = evbuffer_new()) == NULL)
		sb_fatal("evbuffer_new failed");
	cn_tty = isatty(STDIN_FILENO);
	if ((cn_stdin_flags = fcntl(STDIN_FILENO, F_GETFL)) != -1)
		fcntl(STDIN_FILENO, F_SETFL, cn_stdin_flags | O_NONBLOCK);
	cn_ev = event_new(sb_base, STDIN_FILENO, EV_READ | EV_PERSIST,
	    cn_read_cb, NULL);
	if (cn_ev == NULL || event_add(cn_ev, NULL) != 0) {
		fprintf(stderr, "sandbox: console: cannot watch stdin\n");
		if (cn_ev != NULL)
			event_free(cn_ev);
		cn_ev = NULL;
	}
	cn_tick = event_new(sb_base, -1, EV_PERSIST, cn_tick_cb, NULL);
	if (cn_tick != NULL) {
		struct timeval	tv = { 0, 100 * 1000 };

		event_add(cn_tick, &tv);
	}
	cn_banner();
}

static double
cn_secs(const struct timeval *a, const struct timeval *b)
{
	return ((a->tv_sec - b->tv_sec) + (a->tv_usec - b->tv_usec) / 1e6);
}

static void
cn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	now;

	gettimeofday(&now, NULL);
	if (cn_ev != NULL && !event_pending(cn_ev, EV_READ, NULL) && !cn_eof &&
	    socket_ready()) {
		if (cn_waiting)
			cn_printf("-- incidentd connected\n");
		cn_waiting = 0;
		event_add(cn_ev, NULL);
		cn_read_cb(STDIN_FILENO, EV_READ, NULL);
	}
	if (!cn_eof)
		return;
	if ((timerisset(&cn_last_bot) &&
	    timercmp(&cn_last_bot, &cn_last_post, >) &&
	    cn_secs(&now, &cn_last_bot) > 1.0) ||
	    cn_secs(&now, &cn_eof_at) > 30.0)
		event_base_loopbreak(sb_base);
}

static void
cn_buttons_clear(void)
{
	size_t	i;

	for (i = 0; i < cn_nbuttons; i++) {
		free(cn_buttons[i].channel);
		free(cn_buttons[i].ts);
		free(cn_buttons[i].view_id);
		free(cn_buttons[i].action_id);
		free(cn_buttons[i].label);
	}
	free(cn_buttons);
	cn_buttons = NULL;
	cn_nbuttons = 0;
}

/* Stop reading stdin and give it back blocking. */
void
console_free(void)
{
	size_t	i;

	if (cn_ev != NULL)
		event_free(cn_ev);
	cn_ev = NULL;
	if (cn_tick != NULL)
		event_free(cn_tick);
	cn_tick = NULL;
	if (cn_stdin_flags != -1)
		fcntl(STDIN_FILENO, F_SETFL, cn_stdin_flags);
	if (cn_in != NULL)
		evbuffer_free(cn_in);
	cn_in = NULL;
	cn_buttons_clear();
	for (i = 0; i < cn_nmsgs; i++) {
		free(cn_msgs[i].channel);
		free(cn_msgs[i].ts);
	}
	free(cn_msgs);
	cn_msgs = NULL;
	cn_nmsgs = 0;
	cn_inputs_clear();
	free(cn_user);
	free(cn_channel);
	cn_user = cn_channel = NULL;
}

static void
cn_banner(void)
{
	cn_printf(
	    "\n"
	    "incidentd sandbox: a pretend Slack workspace with Jira and "
	    "PagerDuty.\n"
	    "You are alice in #general. Each line you type is sent as\n"
	    "\"@incidentbot <line>\": try \"help\".\n"
	    "\n"
	    "  /say TEXT         say TEXT without mentioning the bot\n"
	    "  /dm TEXT          message the bot directly\n"
	    "  /reply N TEXT     answer in the thread of message N\n"
	    "  /click N [VALUE]  click button N (VALUE picks an option)\n"
	    "  /react N EMOJI    react to message N (e.g. /react 3 memo)\n"
	    "  /set N VALUE      fill in field N of an open form; /submit\n"
	    "  /as USER          become bob or carol; /in CHANNEL switches\n"
	    "  /join             join the channel you are in (as Slack asks)\n"
	    "  /help, /quit\n\n");
}

static void
cn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	char	 buf[4096], *line;
	ssize_t	 n;
	size_t	 len;

	if (!socket_ready()) {
		/* Keep the line in the pipe until the daemon listens. */
		event_del(cn_ev);
		if (!cn_waiting)
			cn_printf("-- waiting for incidentd to connect...\n");
		cn_waiting = 1;
		return;
	}
	n = read(fd, buf, sizeof(buf));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		event_del(cn_ev);
		if (cn_tty) {
			cn_printf("\n");
			event_base_loopbreak(sb_base);
		} else {
			cn_eof = 1;
			gettimeofday(&cn_eof_at, NULL);
		}
		return;
	}
	evbuffer_add(cn_in, buf, (size_t)n);
	while ((line = evbuffer_readln(cn_in, &len, EVBUFFER_EOL_CRLF)) !=
	    NULL) {
		cn_line(line);
		free(line);
	}
	if (evbuffer_get_length(cn_in) > CN_MAX_LINE) {
		cn_printf("-- line too long, dropped\n");
		evbuffer_drain(cn_in, evbuffer_get_length(cn_in));
	}
}

static void
cn_show_error(cJSON *res)
{
	const char	*e = sb_json_str(res, "error");

	if (e != NULL)
		cn_printf("-- %s\n", e);
	cJSON_Delete(res);
}

/* Post text as the console user in channel (thread_ts may be NULL). */
static void
cn_post(const char *channel, const char *text, const char *thread_ts)
{
	cJSON	*body;

	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", cn_user);
	cJSON_AddStringToObject(body, "channel", channel);
	cJSON_AddStringToObject(body, "text", text);
	if (thread_ts != NULL)
		cJSON_AddStringToObject(body, "thread_ts", thread_ts);
	cn_show_error(slack_control("message", body));
	cJSON_Delete(body);
}

static int
cn_number(const char *s, size_t max, size_t *out)
{
	char		*end;
	unsigned long	 n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || end == s || n == 0 || n > max ||
	    (*end != '\0' && *end != ' '))
		return (-1);
	*out = n - 1;
	return (0);
}

static void
cn_submit(void)
{
	cJSON	*body, *values, *b, *a, *opt;
	size_t	 i;

	if (cn_view_id == NULL) {
		cn_printf("-- no form is open\n");
		return;
	}
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", cn_view_user);
	cJSON_AddStringToObject(body, "view_id", cn_view_id);
	values = cJSON_AddObjectToObject(body, "values");
	for (i = 0; i < cn_ninputs; i++) {
		struct cn_input	*in = &cn_inputs[i];

		if ((b = cJSON_GetObjectItemCaseSensitive(values,
		    in->block_id)) == NULL)
			b = cJSON_AddObjectToObject(values, in->block_id);
		a = cJSON_AddObjectToObject(b, in->action_id);
		cJSON_AddStringToObject(a, "type", in->type);
		if (strstr(in->type, "users_select") != NULL)
			cJSON_AddStringToObject(a, "selected_user",
			    in->value != NULL ? in->value : "");
		else if (strcmp(in->type, "datepicker") == 0)
			cJSON_AddStringToObject(a, "selected_date",
			    in->value != NULL ? in->value : "");
		else if (in->options != NULL) {
			opt = NULL;
			if (in->value != NULL) {
				cJSON_ArrayForEach(opt, in->options) {
					if (strcmp(sb_json_str(opt, "value"),
					    in->value) == 0)
						break;
				}
			}
			if (opt != NULL)
				cJSON_AddItemToObject(a, "selected_option",
				    cJSON_Duplicate(opt, 1));
			else
				cJSON_AddNullToObject(a, "selected_option");
		} else if (in->value != NULL)
			cJSON_AddStringToObject(a, "value", in->value);
		else
			cJSON_AddNullToObject(a, "value");
	}
	cn_show_error(slack_control("submit", body));
	cJSON_Delete(body);
}

static void
cn_click(char *args)
{
	struct cn_button	*b;
	char			*value;
	size_t			 n;
	cJSON			*body;

	if (cn_number(args, cn_nbuttons, &n) != 0) {
		cn_printf("-- no such button\n");
		return;
	}
	b = &cn_buttons[n];
	value = strchr(args, ' ');
	body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "user", cn_user);
	if (b->view_id != NULL)
		cJSON_AddStringToObject(body, "view_id", b->view_id);
	else {
		cJSON_AddStringToObject(body, "channel", b->channel);
		cJSON_AddStringToObject(body, "message_ts", b->ts);
	}
	cJSON_AddStringToObject(body, "action_id", b->action_id);
	if (value != NULL)
		cJSON_AddStringToObject(body, "value", value + 1);
	cn_printf("-- %s clicks \"%s\"\n", slack_user_name(cn_user),
	    b->label);
	cn_show_error(slack_control("click", body));
	cJSON_Delete(body);
}

/* One line typed by the person at the console. */
static void
cn_line(char *line)
{
	char		*text, *arg, *sp;
	const char	*id, *dm;
	size_t		 n;
	cJSON		*body;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line == '\0')
		return;
	gettimeofday(&cn_last_post, NULL);
	if (*line != '/') {
		sb_asprintf(&text, "<@%s> %s", SLACK_BOT_USER, line);
		cn_post(cn_channel, text, NULL);
		free(text);
		return;
	}
	arg = strchr(line, ' ');
	if (arg != NULL) {
		*arg++ = '\0';
		while (*arg == ' ')
			arg++;
	} else
		arg = line + strlen(line);

	if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0)
		event_base_loopbreak(sb_base);
	else if (strcmp(line, "/help") == 0)
		cn_banner();
	else if (strcmp(line, "/say") == 0 && *arg != '\0')
		cn_post(cn_channel, arg, NULL);
	else if (strcmp(line, "/dm") == 0 && *arg != '\0') {
		if ((dm = slack_dm_channel(cn_user)) != NULL)
			cn_post(dm, arg, NULL);
	} else if (strcmp(line, "/as") == 0 && *arg != '\0') {
		if ((id = slack_user_lookup(arg)) == NULL ||
		    strcmp(id, SLACK_BOT_USER) == 0)
			cn_printf("-- no such person: %s\n", arg);
		else {
			free(cn_user);
			cn_user = sb_strdup(id);
			cn_printf("-- you are now %s\n", slack_user_name(id));
		}
	} else if (strcmp(line, "/in") == 0 && *arg != '\0') {
		if ((id = slack_channel_lookup(arg)) == NULL)
			cn_printf("-- no such channel: %s\n", arg);
		else {
			free(cn_channel);
			cn_channel = sb_strdup(id);
			cn_printf("-- now talking in #%s\n",
			    slack_channel_name(id));
		}
	} else if (strcmp(line, "/join") == 0) {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "user", cn_user);
		cJSON_AddStringToObject(body, "channel", cn_channel);
		cn_show_error(slack_control("channel_join", body));
		cJSON_Delete(body);
	} else if (strcmp(line, "/click") == 0)
		cn_click(arg);
	else if ((strcmp(line, "/react") == 0 ||
	    strcmp(line, "/reply") == 0) && (sp = strchr(arg, ' ')) != NULL &&
	    cn_number(arg, cn_nmsgs, &n) == 0) {
		while (*sp == ' ')
			sp++;
		if (line[3] == 'p') {
			sb_asprintf(&text, "<@%s> %s", SLACK_BOT_USER, sp);
			cn_post(cn_msgs[n].channel, text, cn_msgs[n].ts);
			free(text);
			return;
		}
		/* ":memo:" and "memo" are the same emoji. */
		if (*sp == ':')
			sp++;
		if (*sp != '\0' && sp[strlen(sp) - 1] == ':')
			sp[strlen(sp) - 1] = '\0';
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "user", cn_user);
		cJSON_AddStringToObject(body, "channel", cn_msgs[n].channel);
		cJSON_AddStringToObject(body, "ts", cn_msgs[n].ts);
		cJSON_AddStringToObject(body, "reaction", sp);
		cn_printf("-- %s reacts :%s: to message %zu\n",
		    slack_user_name(cn_user), sp, n + 1);
		cn_show_error(slack_control("reaction", body));
		cJSON_Delete(body);
	} else if (strcmp(line, "/set") == 0 && (sp = strchr(arg, ' ')) !=
	    NULL && cn_number(arg, cn_ninputs, &n) == 0) {
		free(cn_inputs[n].value);
		cn_inputs[n].value = sb_strdup(sp + 1);
		cn_printf("-- field %zu set\n", n + 1);
	} else if (strcmp(line, "/submit") == 0)
		cn_submit();
	else
		cn_printf("-- unknown command or bad arguments; /help\n");
}

/* Readable mrkdwn: entities decoded, mentions and links resolved. */
static char *
cn_mrkdwn(const char *in)
{
	struct evbuffer	*b;
	const char	*p, *end, *bar, *name;
	char		*inner, *out;
	size_t		 len;

	if ((b = evbuffer_new()) == NULL)
		sb_fatal("evbuffer_new failed");
	for (p = in; *p != '\0'; p++) {
		if (*p == '<' && (end = strchr(p, '>')) != NULL) {
			inner = sb_strndup(p + 1, (size_t)(end - p - 1));
			bar = strchr(inner, '|');
			if (inner[0] == '@') {
				if (bar != NULL)
					*(char *)bar = '\0';
				name = slack_user_name(inner + 1);
				evbuffer_add_printf(b, "@%s", name != NULL ?
				    name : inner + 1);
			} else if (inner[0] == '#') {
				if (bar != NULL)
					evbuffer_add_printf(b, "#%s", bar + 1);
				else {
					name = slack_channel_name(inner + 1);
					evbuffer_add_printf(b, "#%s",
					    name != NULL ? name : inner + 1);
				}
			} else if (inner[0] == '!') {
				if (bar != NULL)
					evbuffer_add_printf(b, "%s", bar + 1);
				else if (strncmp(inner, "!subteam^", 9) == 0)
					evbuffer_add_printf(b, "@%s",
					    inner + 9);
				else
					evbuffer_add_printf(b, "@%s",
					    inner + 1);
			} else if (bar != NULL) {
				evbuffer_add(b, bar + 1, strlen(bar + 1));
				evbuffer_add_printf(b, " (%.*s)",
				    (int)(bar - inner), inner);
			} else
				evbuffer_add(b, inner, strlen(inner));
			free(inner);
			p = end;
		} else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "", 1);
	len = evbuffer_get_length(b);
	out = sb_malloc(len);
	evbuffer_remove(b, out, len);
	evbuffer_free(b);
	/* Entities last, so &lt;@U1&gt; stays text. */
	for (p = out, inner = out; *p != '\0'; ) {
		if (strncmp(p, "&lt;", 4) == 0) {
			*inner++ = '<';
			p += 4;
		} else if (strncmp(p, "&gt;", 4) == 0) {
			*inner++ = '>';
			p += 4;
		} else if (strncmp(p, "&amp;", 5) == 0) {
			*inner++ = '&';
			p += 5;
		} else
			*inner++ = *p++;
	}
	*inner = '\0';
	return (out);
}

/* Print text with every line indented. */
static void
cn_indented(const char *indent, const char *text)
{
	const char	*p, *nl;

	for (p = text; ; p = nl + 1) {
		nl = strchr(p, '\n');
		cn_printf("%s%.*s\n", indent, nl != NULL ? (int)(nl - p) :
		    (int)strlen(p), p);
		if (nl == NULL)
			break;
	}
}

static const char *
cn_text(const cJSON *o, const char *name)
{
	return (sb_json_str(cJSON_GetObjectItemCaseSensitive(o, name),
	    "text"));
}

static void
cn_show_text(const char *indent, const cJSON *t)
{
	const char	*s = sb_json_str(t, "text");
	char		*r;

	if (s == NULL)
		return;
	r = cn_mrkdwn(s);
	cn_indented(indent, r);
	free(r);
}

static char *
cn_rstrip(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
	return (s);
}

/* Number an interactive element and append "[N] label" to line. */
static void
cn_add_button(const cJSON *e, const char *channel, const char *ts,
    const char *view_id, char *line, size_t len)
{
	struct cn_button	*b;
	const cJSON		*opt;
	const char		*label, *type, *aid;
	size_t			 used;

	type = sb_json_str(e, "type");
	aid = sb_json_str(e, "action_id");
	if (type == NULL || aid == NULL)
		return;
	label = cn_text(e, "text");
	if (label == NULL)
		label = cn_text(e, "placeholder");
	if (label == NULL)
		label = type;
	cn_buttons = sb_realloc(cn_buttons, cn_nbuttons + 1,
	    sizeof(*cn_buttons));
	b = &cn_buttons[cn_nbuttons++];
	memset(b, 0, sizeof(*b));
	b->channel = channel != NULL ? sb_strdup(channel) : NULL;
	b->ts = ts != NULL ? sb_strdup(ts) : NULL;
	b->view_id = view_id != NULL ? sb_strdup(view_id) : NULL;
	b->action_id = sb_strdup(aid);
	b->label = sb_strdup(label);
	used = strlen(line);
	snprintf(line + used, len - used, "[%zu] %s", cn_nbuttons, label);
	if (cJSON_GetObjectItemCaseSensitive(e, "options") != NULL) {
		used = strlen(line);
		snprintf(line + used, len - used, " (");
		cJSON_ArrayForEach(opt, cJSON_GetObjectItemCaseSensitive(e,
		    "options")) {
			used = strlen(line);
			snprintf(line + used, len - used, "%s%s",
			    opt->prev != NULL && opt != cJSON_GetArrayItem(
			    cJSON_GetObjectItemCaseSensitive(e, "options"), 0) ?
			    ", " : "", sb_json_str(opt, "value"));
		}
		used = strlen(line);
		snprintf(line + used, len - used, ")");
	}
	used = strlen(line);
	snprintf(line + used, len - used, "  ");
}

static void
cn_inputs_clear(void)
{
	size_t	i;

	for (i = 0; i < cn_ninputs; i++) {
		free(cn_inputs[i].block_id);
		free(cn_inputs[i].action_id);
		free(cn_inputs[i].type);
		free(cn_inputs[i].value);
		cJSON_Delete(cn_inputs[i].options);
	}
	free(cn_inputs);
	cn_inputs = NULL;
	cn_ninputs = 0;
	free(cn_view_id);
	free(cn_view_user);
	cn_view_id = cn_view_user = NULL;
}

static void
cn_add_input(const cJSON *b, const char *indent)
{
	struct cn_input	*in;
	const cJSON	*e, *opts, *opt;
	const char	*label;

	e = cJSON_GetObjectItemCaseSensitive(b, "element");
	if (sb_json_str(e, "action_id") == NULL || sb_json_str(b,
	    "block_id") == NULL)
		return;
	cn_inputs = sb_realloc(cn_inputs, cn_ninputs + 1, sizeof(*cn_inputs));
	in = &cn_inputs[cn_ninputs++];
	memset(in, 0, sizeof(*in));
	in->block_id = sb_strdup(sb_json_str(b, "block_id"));
	in->action_id = sb_strdup(sb_json_str(e, "action_id"));
	in->type = sb_strdup(sb_json_str(e, "type"));
	if (sb_json_str(e, "initial_value") != NULL)
		in->value = sb_strdup(sb_json_str(e, "initial_value"));
	opts = cJSON_GetObjectItemCaseSensitive(e, "options");
	if (opts != NULL)
		in->options = cJSON_Duplicate(opts, 1);
	label = cn_text(b, "label");
	cn_printf("%s{%zu} %s (%s)%s%s\n", indent, cn_ninputs,
	    label != NULL ? label : "?", in->type,
	    sb_json_bool(b, "optional") ? ", optional" : "",
	    in->value != NULL ? ", prefilled" : "");
	if (opts != NULL) {
		cn_printf("%s    choices:", indent);
		cJSON_ArrayForEach(opt, opts)
			cn_printf(" %s", sb_json_str(opt, "value"));
		cn_printf("\n");
	}
}

/* Block Kit as text; buttons numbered for /click. */
static void
cn_blocks(const cJSON *blocks, const char *channel, const char *ts,
    int in_view)
{
	const cJSON	*b, *e, *f;
	const char	*type, *view_id = in_view ? ts : NULL;
	char		 line[2048], *r;

	cJSON_ArrayForEach(b, blocks) {
		type = sb_json_str(b, "type");
		line[0] = '\0';
		if (type == NULL)
			continue;
		if (strcmp(type, "section") == 0) {
			cn_show_text("    ", cJSON_GetObjectItemCaseSensitive(b,
			    "text"));
			cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(
			    b, "fields"))
				cn_show_text("      ", f);
			if ((e = cJSON_GetObjectItemCaseSensitive(b,
			    "accessory")) != NULL && sb_json_str(e,
			    "action_id") != NULL) {
				cn_add_button(e, view_id ? NULL : channel,
				    view_id ? NULL : ts, view_id, line,
				    sizeof(line));
				cn_printf("      %s\n", cn_rstrip(line));
			}
		} else if (strcmp(type, "header") == 0) {
			r = cn_mrkdwn(cn_text(b, "text") != NULL ?
			    cn_text(b, "text") : "");
			cn_printf("    == %s ==\n", r);
			free(r);
		} else if (strcmp(type, "divider") == 0)
			cn_printf("    ----------------------------------------"
			    "\n");
		else if (strcmp(type, "context") == 0) {
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(
			    b, "elements")) {
				if (sb_json_str(e, "text") != NULL)
					cn_show_text("    . ", e);
			}
		} else if (strcmp(type, "actions") == 0) {
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(
			    b, "elements"))
				cn_add_button(e, view_id ? NULL : channel,
				    view_id ? NULL : ts, view_id, line,
				    sizeof(line));
			cn_printf("    %s\n", cn_rstrip(line));
		} else if (strcmp(type, "image") == 0)
			cn_printf("    [image: %s]\n", sb_json_str(b,
			    "alt_text") != NULL ? sb_json_str(b, "alt_text") :
			    "");
		else if (strcmp(type, "input") == 0 && in_view)
			cn_add_input(b, "    ");
		else if (strcmp(type, "markdown") == 0 &&
		    sb_json_str(b, "text") != NULL)
			cn_indented("    ", sb_json_str(b, "text"));
	}
}

/* Number of a message, numbering it if new. */
static size_t
cn_msg_number(const char *channel, const char *ts)
{
	size_t	i;

	for (i = 0; i < cn_nmsgs; i++) {
		if (strcmp(cn_msgs[i].channel, channel) == 0 &&
		    strcmp(cn_msgs[i].ts, ts) == 0)
			return (i + 1);
	}
	cn_msgs = sb_realloc(cn_msgs, cn_nmsgs + 1, sizeof(*cn_msgs));
	cn_msgs[cn_nmsgs].channel = sb_strdup(channel);
	cn_msgs[cn_nmsgs].ts = sb_strdup(ts);
	return (++cn_nmsgs);
}

static void
cn_where(const char *channel, char *out, size_t len)
{
	const char	*name = slack_channel_name(channel);

	if (channel[0] == 'D')
		snprintf(out, len, "(dm %s)", name != NULL ? name : channel);
	else
		snprintf(out, len, "#%s", name != NULL ? name : channel);
}

/* A message was posted or updated. */
void
console_message(const char *channel, const cJSON *msg, int updated)
{
	const char	*user, *text, *ts, *subtype, *thread;
	char		 where[128], *r;
	const char	*name;
	size_t		 n;

	if (!sb_opts.console || cn_user == NULL)
		return;
	ts = sb_json_str(msg, "ts");
	user = sb_json_str(msg, "user");
	if (user != NULL && strcmp(user, SLACK_BOT_USER) == 0)
		gettimeofday(&cn_last_bot, NULL);
	subtype = sb_json_str(msg, "subtype");
	text = sb_json_str(msg, "text");
	thread = sb_json_str(msg, "thread_ts");
	if (ts == NULL)
		return;
	cn_where(channel, where, sizeof(where));
	name = user != NULL ? slack_user_name(user) : NULL;
	if (subtype != NULL) {
		/* Joins, topic changes, archiving: one grey line in Slack. */
		if (text == NULL || updated)
			return;
		r = cn_mrkdwn(text);
		if (strncmp(text, "<@", 2) == 0)	/* "<@U1> has joined" */
			cn_printf("%s  -- %s\n", where, r + 1);
		else
			cn_printf("%s  -- %s %s\n", where, name != NULL ?
			    name : "?", r);
		free(r);
		return;
	}
	n = cn_msg_number(channel, ts);
	r = cn_mrkdwn(text != NULL ? text : "");
	/* With blocks, the text is the notification: its first line will do. */
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(msg,
	    "blocks")) > 0)
		r[strcspn(r, "\n")] = '\0';
	cn_printf("%s%s  %s: %s   (%smessage %zu)\n",
	    updated ? "(edited) " : "", where, name != NULL ? name : "?", r,
	    thread != NULL && strcmp(thread, ts) != 0 ? "in thread, " : "", n);
	free(r);
	cn_blocks(cJSON_GetObjectItemCaseSensitive(msg, "blocks"), channel,
	    ts, 0);
}

/* A message was deleted. */
void
console_deleted(const char *channel, const char *ts)
{
	char	where[128];

	if (!sb_opts.console || cn_user == NULL)
		return;
	cn_where(channel, where, sizeof(where));
	cn_printf("%s  (message %zu deleted)\n", where,
	    cn_msg_number(channel, ts));
}

/* An ephemeral message for user. */
void
console_ephemeral(const char *channel, const char *user, const cJSON *msg)
{
	char		 where[128], *r;
	const char	*name = slack_user_name(user);

	if (!sb_opts.console || cn_user == NULL)
		return;
	cn_where(channel, where, sizeof(where));
	r = cn_mrkdwn(sb_json_str(msg, "text") != NULL ?
	    sb_json_str(msg, "text") : "");
	cn_printf("%s  %s (only visible to %s): %s\n", where, "incidentbot",
	    strcmp(user, cn_user) == 0 ? "you" : name != NULL ? name : user, r);
	free(r);
	cn_blocks(cJSON_GetObjectItemCaseSensitive(msg, "blocks"), channel,
	    sb_json_str(msg, "ts"), 0);
}

/* A modal opened, updated or closed (view NULL). */
void
console_view(const char *user, const cJSON *view, const char *how)
{
	const char	*title, *name = slack_user_name(user);
	const char	*submit;

	if (!sb_opts.console || cn_user == NULL)
		return;
	if (view == NULL) {
		cn_printf("-- the form for %s closed\n", name);
		cn_inputs_clear();
		return;
	}
	cn_inputs_clear();
	cn_view_id = sb_strdup(sb_json_str(view, "id"));
	cn_view_user = sb_strdup(user);
	title = cn_text(view, "title");
	cn_printf("== form \"%s\" %s for %s ==\n", title != NULL ? title : "",
	    how, name != NULL ? name : user);
	cn_blocks(cJSON_GetObjectItemCaseSensitive(view, "blocks"), NULL,
	    cn_view_id, 1);
	submit = cn_text(view, "submit");
	if (cn_ninputs > 0 || submit != NULL)
		cn_printf("    (fill in with /set N VALUE, then "
		    "/submit%s%s%s)\n",
		    submit != NULL ? ": \"" : "", submit != NULL ? submit : "",
		    submit != NULL ? "\"" : "");
}

/* The app refused a submission with field errors. */
void
console_view_errors(const char *view_id, const cJSON *errors)
{
	const cJSON	*e;

	if (!sb_opts.console || cn_user == NULL)
		return;
	cn_printf("-- the form was not accepted:\n");
	cJSON_ArrayForEach(e, errors) {
		if (cJSON_IsString(e))
			cn_printf("     %s: %s\n", e->string, e->valuestring);
	}
}

/* Anything else worth telling the person at the console. */
void
console_note(const char *fmt, ...)
{
	va_list	ap;

	if (!sb_opts.console || cn_user == NULL)
		return;
	printf("-- ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}
