/*
 * slack.h: internals of the fake Slack, shared by its files:
 *
 *   fake-slack.c	the workspace model and the request dispatcher
 *   slack-api.c	the Web API methods
 *   slack-blocks.c	Block Kit and modal validation
 *   slack-control.c	control ops (user actions) and interactivity
 *   slack-manifest.c	granted scopes and Messages tab (--manifest)
 */
#ifndef SLACK_H
#define SLACK_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

struct sb_req;

struct sl_user {
	char	*id;
	char	*name;
	char	*real_name;
	char	*email;
	char	*tz;
	char	*team_id;	/* NULL: the sandbox workspace */
	int	 is_bot;
	int	 is_restricted;		/* multi-channel guest */
	int	 is_ultra_restricted;	/* single-channel guest */
	int	 is_admin;		/* workspace admin and owner */
};

/* A user group (S...), as usergroups.list shows it. */
struct sl_group {
	char		 *id;
	char		 *handle;
	char		 *name;
	char		**users;
	size_t		  nusers;
	long long	  created;
};

struct sl_chan {
	char	 *id;
	char	 *name;		/* NULL for DMs */
	char	 *im_user;	/* DMs: the other member */
	int	  is_private;
	int	  is_archived;
	int	  is_general;
	char	 *creator;
	long long created;
	char	 *topic;
	char	 *purpose;
	char	**members;
	size_t	  nmembers;
	cJSON	 *messages;	/* oldest first, thread replies included */
	cJSON	 *bookmarks;
};

/* A trigger_id from a click or submission, good once within 3 s. */
struct sl_trigger {
	char		 id[80];
	char		 user[32];
	uint64_t	 issued_ms;
	int		 used;
};

/* A modal opened with views.open. */
struct sl_view {
	char	*id;
	char	*user;
	cJSON	*view;		/* as views.open returned it */
	cJSON	*errors;	/* last response_action "errors", or NULL */
	int	 closed;
};

/* A response_url handed out with a block_actions payload. */
struct sl_hook {
	char		*path;		/* /actions/T.../N/secret */
	char		*channel;
	char		*message_ts;
	char		*user;
	uint64_t	 issued_ms;
	int		 uses;
};

/* The workspace admin, whose user token --slack-user-token is. */
#define SL_ADMIN_USER		"U0ALICE"
#define SL_TEAM_DOMAIN		"sandbox"
#define SL_TEAM_URL		"https://sandbox.slack.test/"
#define SL_BOT_NAME		"incidentbot"
#define SL_TRIGGER_TTL_MS	3000
#define SL_HOOK_TTL_MS		(30 * 60 * 1000)
#define SL_HOOK_USES		5
#define SL_MAX_TEXT		40000
#define SL_MAX_UPDATE_TEXT	4000
/* conversations.history/.replies for non-Marketplace apps (2025). */
#define SL_HISTORY_MAX		15
#define SL_HISTORY_PER_MINUTE	1

#define SL_SURFACE_MESSAGE	0
#define SL_SURFACE_MODAL	1

/* fake-slack.c: state. */
extern struct sl_user	**sl_users;
extern size_t		  sl_nusers;
extern struct sl_chan	**sl_chans;
extern size_t		  sl_nchans;
extern struct sl_trigger *sl_triggers;
extern size_t		  sl_ntriggers;
extern struct sl_view	**sl_views;
extern size_t		  sl_nviews;
extern struct sl_hook	**sl_hooks;
extern size_t		  sl_nhooks;
extern cJSON		 *sl_ephemeral;
extern struct sl_group	**sl_groups;
extern size_t		  sl_ngroups;
/* Whose token the Web API call being answered came with: SLACK_BOT_USER
 * for the bot token, SL_ADMIN_USER for the user token. */
extern const char	 *sl_caller;

/* fake-slack.c: replies and ids. */
cJSON	*sl_ok(void);
cJSON	*sl_err(const char *);
cJSON	*sl_err_msg(const char *, const char *);
cJSON	*sl_missing(const char *);
void	 sl_new_ts(char out[32]);
int	 sl_parse_ts(const char *, long long *);
char	*sl_new_id(const char *);
void	 sl_set_str(cJSON *, const char *, const char *);
void	 sl_set_item(cJSON *, const char *, cJSON *);

/* fake-slack.c: the model. */
void	 sl_seed(void);
void	 sl_clear(void);
struct sl_user *sl_user_find(const char *);
struct sl_user *sl_user_add(const char *, const char *, const char *,
	    const char *, const char *, int);
struct sl_chan *sl_chan_find(const char *);
struct sl_chan *sl_chan_by_name(const char *);
struct sl_chan *sl_chan_add(const char *, const char *, int, const char *);
struct sl_chan *sl_dm(const char *);
int	 sl_is_member(const struct sl_chan *, const char *);
void	 sl_add_member(struct sl_chan *, const char *);
int	 sl_bot_sees(const struct sl_chan *);
int	 sl_sees(const struct sl_chan *, const char *);
const char *sl_channel_type(const struct sl_chan *);
cJSON	*sl_chan_json(const struct sl_chan *, int);
cJSON	*sl_user_json(const struct sl_user *);
cJSON	*sl_msg_find(struct sl_chan *, const char *);
int	 sl_resolve_thread(struct sl_chan *, const char *, const char **);
cJSON	*sl_store(struct sl_chan *, const char *, const char *, cJSON *,
	    const char *, const char *);
cJSON	*sl_rich_text(const char *);
void	 sl_emit(const struct sl_chan *, cJSON *, cJSON *, cJSON *);
void	 sl_emit_as(const struct sl_chan *, cJSON *, const char *,
	    const char *, cJSON *, cJSON *);
void	 sl_system_message(struct sl_chan *, const char *, const char *,
	    const char *, const char *, const char *);
/* Archive (as user; member: user must be in it), unarchive, delete:
 * NULL, or Slack's error for the channel's state. */
cJSON	*sl_archive(struct sl_chan *, const char *, int);
cJSON	*sl_unarchive(struct sl_chan *, const char *);
void	 sl_chan_delete(struct sl_chan *);
const char *sl_user_team(const struct sl_user *);
struct sl_group *sl_group_find(const char *);
struct sl_group *sl_group_set(const char *, const char *, const char *);
cJSON	*sl_group_json(const struct sl_group *, int);
cJSON	*sl_msg_event(const struct sl_chan *, const cJSON *);
void	 sl_edit(struct sl_chan *, cJSON *, const char *, cJSON *,
	    const char *, cJSON *, cJSON *);
void	 sl_delete(struct sl_chan *, cJSON *, cJSON *, cJSON *);
cJSON	*sl_react(struct sl_chan *, cJSON *, const char *, const char *, int,
	    cJSON *, cJSON *);
struct sl_view *sl_view_find(const char *);
/* Dispatcher ops: "ratelimit", "history_limits" (and their part of
 * "reset", after which sl_limits_seed restores Slack's). */
void	 sl_limits_seed(void);
int	 sl_history_page_max(void);
cJSON	*sl_dispatch_control(const char *, cJSON *);

/* slack-api.c: the Web API methods. */
struct sl_method {
	const char	*name;
	int		 json;		/* accepts application/json */
	int		 app_token;	/* wants the app-level token */
	cJSON		*(*fn)(cJSON *);
};
const struct sl_method *sl_method_find(const char *);
int	 sl_arg_json(cJSON *, const char *, cJSON **);
cJSON	*sl_invalid_blocks(char *);

/* slack-manifest.c: the app's scopes and Messages tab (--manifest). */
void	 sl_manifest_init(const char *);
void	 sl_manifest_free(void);
const char *sl_scopes_header(int);
int	 sl_messages_tab(void);
int	 sl_granted(const char *);
/* The user token may call the method (in the sandbox). */
int	 sl_user_method(const char *);
/* The manifest subscribes the bot to the event. */
int	 sl_subscribed(const char *);
/* NULL if the bot (1: the user token) may call the method with args,
 * else missing_scope. */
cJSON	*sl_scope_check(const char *, cJSON *, int);
cJSON	*sl_manifest_control(const char *);

/* slack-blocks.c: Block Kit. */
int	 sl_check_blocks(cJSON *, int, const char *, char **);
/* NULL if the view is a valid modal, else the error reply. */
cJSON	*sl_check_view(cJSON *);

/* slack-control.c: control ops, interactivity, response_url. */
cJSON	*sl_control(const char *, cJSON *);
const char *sl_trigger_new(const char *user);
/* NULL if trigger_id may open a view now, else the Slack error. */
const char *sl_trigger_use(const char *, const char **user);
void	 sl_hook_handle(struct sb_req *);

#endif
