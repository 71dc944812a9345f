/*
 * slack-blocks.c: Block Kit and modal validation for the fake Slack.
 *
 * The limits are Block Kit's published ones (blocks per message 50, per
 * modal 100; section text 3000, fields 10 x 2000; header 150; button text
 * 75, value 2000, url 3000; action_id and block_id 255; modal title,
 * submit and close 24; private_metadata 3000). Reasons read like Slack's:
 * "must be less than 3001 characters [json-pointer:/blocks/0/text/text]".
 *
 * Like Slack, blocks without a block_id and elements without an
 * action_id get generated ones when the message or view is stored.
 */
#include "config.h"

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sandbox.h"
#include "slack.h"

#define BK_ACTIONS	0	/* where an element sits */
#define BK_ACCESSORY	1
#define BK_INPUT	2
#define BK_CONTEXT	3

struct bk_ids {
	char	**v;
	size_t	  n;
};

static int	 bk_fail(char **, const char *, const char *, ...)
		    __attribute__((__format__(printf, 3, 4)));
static int	 bk_str(const cJSON *, const char *, const char *, int, size_t,
		    char **);
static int	 bk_text(const cJSON *, const char *, int, size_t, char **);
static int	 bk_text_member(const cJSON *, const char *, const char *, int,
		    int, size_t, char **);
static int	 bk_options(const cJSON *, const char *, const char *, size_t,
		    size_t, int, char **);
static int	 bk_element(cJSON *, const char *, int, struct bk_ids *,
		    char **);
static int	 bk_block(cJSON *, const char *, int, struct bk_ids *,
		    char **);
static int	 bk_id_add(struct bk_ids *, const char *);
static void	 bk_ids_free(struct bk_ids *);
static void	 bk_gen_id(cJSON *, const char *);
static int	 bk_elements(cJSON *, const char *, int, size_t, char **);
static cJSON	*bk_view_error(char *);

static int
bk_fail(char **why, const char *ptr, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		sb_fatal("out of memory");
	va_end(ap);
	sb_asprintf(why, "%s [json-pointer:%s]", msg, ptr);
	free(msg);
	return (-1);
}

/* A string member: required or not, at most max characters. */
static int
bk_str(const cJSON *o, const char *name, const char *ptr, int required,
    size_t max, char **why)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);
	char		*p;
	int		 rc = 0;

	sb_asprintf(&p, "%s/%s", ptr, name);
	if (v == NULL) {
		if (required)
			rc = bk_fail(why, ptr, "missing required field: %s",
			    name);
	} else if (!cJSON_IsString(v))
		rc = bk_fail(why, p, "must be a string");
	else if (required && *v->valuestring == '\0')
		rc = bk_fail(why, p, "must be more than 0 characters");
	else if (sb_utf8_len(v->valuestring) > max)
		rc = bk_fail(why, p, "must be less than %zu characters",
		    max + 1);
	free(p);
	return (rc);
}

/* A composition text object; plain: plain_text only. */
static int
bk_text(const cJSON *t, const char *ptr, int plain, size_t max, char **why)
{
	const char	*type;
	char		*p;
	int		 rc;

	if (!cJSON_IsObject(t))
		return (bk_fail(why, ptr, "must be an object"));
	type = sb_json_str(t, "type");
	sb_asprintf(&p, "%s/type", ptr);
	if (type == NULL)
		rc = bk_fail(why, ptr, "missing required field: type");
	else if (strcmp(type, "plain_text") != 0 &&
	    (plain || strcmp(type, "mrkdwn") != 0))
		rc = bk_fail(why, p, "must be one of the valid values: %s",
		    plain ? "plain_text" : "plain_text, mrkdwn");
	else if (cJSON_GetObjectItemCaseSensitive(t, "emoji") != NULL &&
	    (strcmp(type, "plain_text") != 0 ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(t, "emoji"))))
		rc = bk_fail(why, ptr, "emoji is only a boolean of "
		    "plain_text");
	else if (cJSON_GetObjectItemCaseSensitive(t, "verbatim") != NULL &&
	    strcmp(type, "mrkdwn") != 0)
		rc = bk_fail(why, ptr, "verbatim is only for mrkdwn");
	else
		rc = bk_str(t, "text", ptr, 1, max, why);
	free(p);
	return (rc);
}

static int
bk_text_member(const cJSON *o, const char *name, const char *ptr,
    int required, int plain, size_t max, char **why)
{
	const cJSON	*t = cJSON_GetObjectItemCaseSensitive(o, name);
	char		*p;
	int		 rc;

	if (t == NULL)
		return (required ? bk_fail(why, ptr,
		    "missing required field: %s", name) : 0);
	sb_asprintf(&p, "%s/%s", ptr, name);
	rc = bk_text(t, p, plain, max, why);
	free(p);
	return (rc);
}

/* options: min..max option objects {text, value[, description]}. */
static int
bk_options(const cJSON *o, const char *name, const char *ptr, size_t min,
    size_t max, int mrkdwn_ok, char **why)
{
	const cJSON	*arr, *opt;
	char		*p, *q;
	size_t		 i = 0;
	int		 rc = 0;

	arr = cJSON_GetObjectItemCaseSensitive(o, name);
	sb_asprintf(&p, "%s/%s", ptr, name);
	if (!cJSON_IsArray(arr))
		rc = bk_fail(why, p, "must be an array");
	else if ((size_t)cJSON_GetArraySize(arr) < min)
		rc = bk_fail(why, p, "must provide at least %zu items", min);
	else if ((size_t)cJSON_GetArraySize(arr) > max)
		rc = bk_fail(why, p, "must provide no more than %zu items",
		    max);
	cJSON_ArrayForEach(opt, arr) {
		if (rc != 0)
			break;
		sb_asprintf(&q, "%s/%zu", p, i++);
		if (!cJSON_IsObject(opt))
			rc = bk_fail(why, q, "must be an object");
		else if ((rc = bk_text_member(opt, "text", q, 1, !mrkdwn_ok,
		    75, why)) == 0 && (rc = bk_str(opt, "value", q, 1, 150,
		    why)) == 0)
			rc = bk_text_member(opt, "description", q, 0, 1, 75,
			    why);
		free(q);
	}
	free(p);
	return (rc);
}

static int
bk_id_add(struct bk_ids *ids, const char *id)
{
	size_t	i;

	for (i = 0; i < ids->n; i++) {
		if (strcmp(ids->v[i], id) == 0)
			return (-1);
	}
	ids->v = sb_realloc(ids->v, ids->n + 1, sizeof(*ids->v));
	ids->v[ids->n++] = sb_strdup(id);
	return (0);
}

static void
bk_ids_free(struct bk_ids *ids)
{
	size_t	i;

	for (i = 0; i < ids->n; i++)
		free(ids->v[i]);
	free(ids->v);
	ids->v = NULL;
	ids->n = 0;
}

/* Slack makes up short ids for what the app left unnamed. */
static void
bk_gen_id(cJSON *o, const char *name)
{
	char	hex[7];

	if (cJSON_GetObjectItemCaseSensitive(o, name) != NULL)
		return;
	sb_random_hex(hex, 3);
	cJSON_AddStringToObject(o, name, hex);
}

/* One interactive or context element at ptr, placed at where. */
static int
bk_element(cJSON *e, const char *ptr, int where, struct bk_ids *actions,
    char **why)
{
	static const char	*selects[] = { "users_select",
				    "multi_users_select",
				    "conversations_select",
				    "multi_conversations_select",
				    "channels_select", "multi_channels_select",
				    "external_select", "multi_external_select",
				    NULL };
	static const char	*inputs[] = { "plain_text_input",
				    "email_text_input", "url_text_input",
				    "number_text_input", "rich_text_input",
				    "file_input", NULL };
	const char		*type, *style, *aid;
	char			*p;
	size_t			 i;
	int			 rc = 0, known = 0;

	if (!cJSON_IsObject(e))
		return (bk_fail(why, ptr, "must be an object"));
	if ((type = sb_json_str(e, "type")) == NULL)
		return (bk_fail(why, ptr, "missing required field: type"));
	sb_asprintf(&p, "%s/type", ptr);
	if (where == BK_CONTEXT) {
		if (strcmp(type, "image") == 0) {
			rc = bk_str(e, "alt_text", ptr, 1, 2000, why);
			if (rc == 0 && sb_json_str(e, "image_url") == NULL &&
			    cJSON_GetObjectItemCaseSensitive(e, "slack_file")
			    == NULL)
				rc = bk_fail(why, ptr, "missing required "
				    "field: image_url");
		} else if (strcmp(type, "plain_text") == 0 ||
		    strcmp(type, "mrkdwn") == 0)
			rc = bk_text(e, ptr, 0, 3000, why);
		else
			rc = bk_fail(why, p, "context elements are images "
			    "and text objects, not %s", type);
		free(p);
		return (rc);
	}

	if (strcmp(type, "button") == 0) {
		known = 1;
		if (where == BK_INPUT)
			rc = bk_fail(why, p, "button is not an input element");
		if (rc == 0)
			rc = bk_text_member(e, "text", ptr, 1, 1, 75, why);
		if (rc == 0)
			rc = bk_str(e, "value", ptr, 0, 2000, why);
		if (rc == 0)
			rc = bk_str(e, "url", ptr, 0, 3000, why);
		if (rc == 0)
			rc = bk_str(e, "accessibility_label", ptr, 0, 75, why);
		style = sb_json_str(e, "style");
		if (rc == 0 && cJSON_GetObjectItemCaseSensitive(e, "style") !=
		    NULL && (style == NULL || (strcmp(style, "primary") != 0 &&
		    strcmp(style, "danger") != 0)))
			rc = bk_fail(why, ptr, "style must be primary or "
			    "danger");
	} else if (strcmp(type, "static_select") == 0 ||
	    strcmp(type, "multi_static_select") == 0) {
		known = 1;
		rc = bk_text_member(e, "placeholder", ptr, 0, 1, 150, why);
		if (rc == 0 && cJSON_GetObjectItemCaseSensitive(e,
		    "option_groups") == NULL)
			rc = bk_options(e, "options", ptr, 1, 100, 0, why);
	} else if (strcmp(type, "overflow") == 0) {
		known = 1;
		if (where == BK_INPUT)
			rc = bk_fail(why, p, "overflow is not an input "
			    "element");
		if (rc == 0)
			rc = bk_options(e, "options", ptr, 1, 5, 0, why);
	} else if (strcmp(type, "checkboxes") == 0 ||
	    strcmp(type, "radio_buttons") == 0) {
		known = 1;
		rc = bk_options(e, "options", ptr, 1, 10, 1, why);
	} else if (strcmp(type, "datepicker") == 0 ||
	    strcmp(type, "timepicker") == 0 ||
	    strcmp(type, "datetimepicker") == 0) {
		known = 1;
		rc = bk_text_member(e, "placeholder", ptr, 0, 1, 150, why);
	} else if (strcmp(type, "image") == 0) {
		known = 1;
		if (where != BK_ACCESSORY)
			rc = bk_fail(why, p, "an image element goes in a "
			    "section accessory or a context");
		if (rc == 0)
			rc = bk_str(e, "alt_text", ptr, 1, 2000, why);
		free(p);
		return (rc);
	}
	for (i = 0; !known && selects[i] != NULL; i++) {
		if (strcmp(type, selects[i]) == 0) {
			known = 1;
			rc = bk_text_member(e, "placeholder", ptr, 0, 1, 150,
			    why);
		}
	}
	for (i = 0; !known && inputs[i] != NULL; i++) {
		if (strcmp(type, inputs[i]) == 0) {
			known = 1;
			if (where != BK_INPUT)
				rc = bk_fail(why, p, "%s only goes in an "
				    "input block", type);
			if (rc == 0)
				rc = bk_text_member(e, "placeholder", ptr, 0,
				    1, 150, why);
		}
	}
	if (!known)
		rc = bk_fail(why, p, "unsupported element type: %s", type);
	free(p);
	if (rc != 0)
		return (rc);

	if (cJSON_GetObjectItemCaseSensitive(e, "action_id") != NULL) {
		if ((rc = bk_str(e, "action_id", ptr, 1, 255, why)) != 0)
			return (rc);
	} else
		bk_gen_id(e, "action_id");
	aid = sb_json_str(e, "action_id");
	if (bk_id_add(actions, aid) != 0) {
		sb_asprintf(&p, "%s/action_id", ptr);
		rc = bk_fail(why, p, "action_id %s is already used in this "
		    "block", aid);
		free(p);
	}
	return (rc);
}

/* The elements array of an actions or context block. */
static int
bk_elements(cJSON *b, const char *ptr, int where, size_t max, char **why)
{
	struct bk_ids	 actions = { NULL, 0 };
	cJSON		*arr, *e;
	char		*p, *q;
	size_t		 i = 0;
	int		 rc = 0;

	arr = cJSON_GetObjectItemCaseSensitive(b, "elements");
	sb_asprintf(&p, "%s/elements", ptr);
	if (!cJSON_IsArray(arr))
		rc = bk_fail(why, arr == NULL ? ptr : p, arr == NULL ?
		    "missing required field: elements" : "must be an array");
	else if (cJSON_GetArraySize(arr) == 0)
		rc = bk_fail(why, p, "must provide at least 1 items");
	else if ((size_t)cJSON_GetArraySize(arr) > max)
		rc = bk_fail(why, p, "must provide no more than %zu items",
		    max);
	cJSON_ArrayForEach(e, arr) {
		if (rc != 0)
			break;
		sb_asprintf(&q, "%s/%zu", p, i++);
		rc = bk_element(e, q, where, &actions, why);
		free(q);
	}
	bk_ids_free(&actions);
	free(p);
	return (rc);
}

static int
bk_block(cJSON *b, const char *ptr, int surface, struct bk_ids *block_ids,
    char **why)
{
	struct bk_ids	 actions = { NULL, 0 };
	const cJSON	*fields, *f;
	cJSON		*el;
	const char	*type, *bid;
	char		*p;
	size_t		 i;
	int		 rc = 0;

	if (!cJSON_IsObject(b))
		return (bk_fail(why, ptr, "must be an object"));
	if ((type = sb_json_str(b, "type")) == NULL)
		return (bk_fail(why, ptr, "missing required field: type"));
	if (cJSON_GetObjectItemCaseSensitive(b, "block_id") != NULL) {
		if ((rc = bk_str(b, "block_id", ptr, 1, 255, why)) != 0)
			return (rc);
	} else if (strcmp(type, "divider") != 0)
		bk_gen_id(b, "block_id");
	if ((bid = sb_json_str(b, "block_id")) != NULL &&
	    bk_id_add(block_ids, bid) != 0) {
		sb_asprintf(&p, "%s/block_id", ptr);
		rc = bk_fail(why, p, "block_id %s is already used", bid);
		free(p);
		return (rc);
	}

	if (strcmp(type, "section") == 0) {
		fields = cJSON_GetObjectItemCaseSensitive(b, "fields");
		if (cJSON_GetObjectItemCaseSensitive(b, "text") == NULL &&
		    fields == NULL)
			return (bk_fail(why, ptr, "must provide text or "
			    "fields"));
		if ((rc = bk_text_member(b, "text", ptr, 0, 0, 3000, why)) !=
		    0)
			return (rc);
		if (fields != NULL) {
			sb_asprintf(&p, "%s/fields", ptr);
			if (!cJSON_IsArray(fields) ||
			    cJSON_GetArraySize(fields) == 0)
				rc = bk_fail(why, p, "must be a non-empty "
				    "array");
			else if (cJSON_GetArraySize(fields) > 10)
				rc = bk_fail(why, p, "must provide no more "
				    "than 10 items");
			i = 0;
			cJSON_ArrayForEach(f, fields) {
				char	*q;

				if (rc != 0)
					break;
				sb_asprintf(&q, "%s/%zu", p, i++);
				rc = bk_text(f, q, 0, 2000, why);
				free(q);
			}
			free(p);
			if (rc != 0)
				return (rc);
		}
		if ((el = cJSON_GetObjectItemCaseSensitive(b, "accessory")) !=
		    NULL) {
			sb_asprintf(&p, "%s/accessory", ptr);
			rc = bk_element(el, p, BK_ACCESSORY, &actions, why);
			free(p);
		}
	} else if (strcmp(type, "divider") == 0)
		rc = 0;
	else if (strcmp(type, "header") == 0)
		rc = bk_text_member(b, "text", ptr, 1, 1, 150, why);
	else if (strcmp(type, "context") == 0)
		rc = bk_elements(b, ptr, BK_CONTEXT, 10, why);
	else if (strcmp(type, "actions") == 0)
		rc = bk_elements(b, ptr, BK_ACTIONS, 25, why);
	else if (strcmp(type, "image") == 0) {
		if (sb_json_str(b, "image_url") == NULL &&
		    cJSON_GetObjectItemCaseSensitive(b, "slack_file") == NULL)
			rc = bk_fail(why, ptr, "missing required field: "
			    "image_url");
		if (rc == 0)
			rc = bk_str(b, "image_url", ptr, 0, 3000, why);
		if (rc == 0)
			rc = bk_str(b, "alt_text", ptr, 1, 2000, why);
		if (rc == 0)
			rc = bk_text_member(b, "title", ptr, 0, 1, 2000, why);
	} else if (strcmp(type, "input") == 0) {
		rc = bk_text_member(b, "label", ptr, 1, 1, 2000, why);
		if (rc == 0)
			rc = bk_text_member(b, "hint", ptr, 0, 1, 2000, why);
		if (rc == 0 && (el = cJSON_GetObjectItemCaseSensitive(b,
		    "element")) == NULL)
			rc = bk_fail(why, ptr, "missing required field: "
			    "element");
		if (rc == 0) {
			sb_asprintf(&p, "%s/element", ptr);
			rc = bk_element(el, p, BK_INPUT, &actions, why);
			free(p);
		}
	} else if (strcmp(type, "rich_text") == 0) {
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(b,
		    "elements")))
			rc = bk_fail(why, ptr, "missing required field: "
			    "elements");
	} else if (strcmp(type, "markdown") == 0) {
		if (surface != SL_SURFACE_MESSAGE)
			rc = bk_fail(why, ptr, "markdown blocks are for "
			    "messages");
		if (rc == 0)
			rc = bk_str(b, "text", ptr, 1, 12000, why);
	} else {
		sb_asprintf(&p, "%s/type", ptr);
		rc = bk_fail(why, p, "unsupported block type: %s", type);
		free(p);
	}
	bk_ids_free(&actions);
	return (rc);
}

/*
 * Validate a blocks array for a message or a modal; fills in missing
 * block_id/action_id. 0, or -1 with *why (caller frees).
 */
int
sl_check_blocks(cJSON *blocks, int surface, const char *ptr, char **why)
{
	struct bk_ids	 ids = { NULL, 0 };
	cJSON		*b;
	char		*p;
	size_t		 i = 0, max;
	int		 rc = 0;

	*why = NULL;
	max = surface == SL_SURFACE_MODAL ? 100 : 50;
	if (!cJSON_IsArray(blocks))
		return (bk_fail(why, ptr, "must be an array"));
	if ((size_t)cJSON_GetArraySize(blocks) > max)
		return (bk_fail(why, ptr, "must provide no more than %zu "
		    "items", max));
	cJSON_ArrayForEach(b, blocks) {
		sb_asprintf(&p, "%s/%zu", ptr, i++);
		rc = bk_block(b, p, surface, &ids, why);
		free(p);
		if (rc != 0)
			break;
	}
	bk_ids_free(&ids);
	return (rc);
}

static cJSON *
bk_view_error(char *why)
{
	cJSON	*o;
	char	*msg;

	sb_asprintf(&msg, "[ERROR] %s", why);
	o = sl_err_msg("invalid_arguments", msg);
	free(msg);
	free(why);
	return (o);
}

/* NULL if view is a valid modal for views.open/update, else the reply. */
cJSON *
sl_check_view(cJSON *view)
{
	const cJSON	*b;
	cJSON		*blocks;
	const char	*type;
	char		*why = NULL;
	int		 inputs = 0;

	type = sb_json_str(view, "type");
	if (type == NULL || strcmp(type, "modal") != 0) {
		bk_fail(&why, "/view/type", "must be one of the valid values: "
		    "modal");
		return (bk_view_error(why));
	}
	if (bk_text_member(view, "title", "/view", 1, 1, 24, &why) != 0 ||
	    bk_text_member(view, "close", "/view", 0, 1, 24, &why) != 0 ||
	    bk_text_member(view, "submit", "/view", 0, 1, 24, &why) != 0 ||
	    bk_str(view, "private_metadata", "/view", 0, 3000, &why) != 0 ||
	    bk_str(view, "callback_id", "/view", 0, 255, &why) != 0 ||
	    bk_str(view, "external_id", "/view", 0, 255, &why) != 0)
		return (bk_view_error(why));
	blocks = cJSON_GetObjectItemCaseSensitive(view, "blocks");
	if (blocks == NULL) {
		bk_fail(&why, "/view", "missing required field: blocks");
		return (bk_view_error(why));
	}
	if (sl_check_blocks(blocks, SL_SURFACE_MODAL, "/view/blocks", &why)
	    != 0)
		return (bk_view_error(why));
	cJSON_ArrayForEach(b, blocks) {
		if (strcmp(sb_json_str(b, "type"), "input") == 0)
			inputs++;
	}
	if (inputs > 0 && cJSON_GetObjectItemCaseSensitive(view, "submit") ==
	    NULL) {
		bk_fail(&why, "/view", "must provide a submit property when "
		    "using input blocks");
		return (bk_view_error(why));
	}
	return (NULL);
}
