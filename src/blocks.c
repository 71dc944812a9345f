/*
 * blocks.c: small Block Kit builders.
 *
 * Text passed to the mrkdwn builders must already be escaped where it
 * holds user input (slack_escape); plain_text objects are escaped anyway
 * since clients differ in what they parse there.
 */
#include "config.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

static cJSON	*blocks_text(const char *, const char *);

static cJSON *
blocks_text(const char *type, const char *text)
{
	cJSON	*t;

	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", type);
	cJSON_AddStringToObject(t, "text", text);
	if (strcmp(type, "plain_text") == 0)
		cJSON_AddBoolToObject(t, "emoji", 1);
	return (t);
}

/* A plain_text object (labels, titles, button text). */
cJSON *
blocks_plain(const char *text)
{
	return (blocks_text("plain_text", text));
}

/* A section with mrkdwn text. */
cJSON *
blocks_section(const char *mrkdwn)
{
	cJSON	*b;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "section");
	cJSON_AddItemToObject(b, "text", blocks_text("mrkdwn", mrkdwn));
	return (b);
}

/* A context block with one mrkdwn element. */
cJSON *
blocks_context(const char *mrkdwn)
{
	cJSON	*b, *els;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "context");
	els = cJSON_AddArrayToObject(b, "elements");
	cJSON_AddItemToArray(els, blocks_text("mrkdwn", mrkdwn));
	return (b);
}

/* A header block (plain text, at most 150 characters). */
cJSON *
blocks_header(const char *text)
{
	cJSON	*b;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "header");
	cJSON_AddItemToObject(b, "text", blocks_plain(text));
	return (b);
}

/* A button; style is NULL, "primary" or "danger". */
cJSON *
blocks_button(const char *text, const char *action_id, const char *value,
    const char *style)
{
	cJSON	*b;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "button");
	cJSON_AddItemToObject(b, "text", blocks_plain(text));
	cJSON_AddStringToObject(b, "action_id", action_id);
	if (value != NULL)
		cJSON_AddStringToObject(b, "value", value);
	if (style != NULL)
		cJSON_AddStringToObject(b, "style", style);
	return (b);
}

/* An actions block holding the given elements (consumed). */
cJSON *
blocks_actions(const char *block_id, cJSON *elements)
{
	cJSON	*b;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "actions");
	if (block_id != NULL)
		cJSON_AddStringToObject(b, "block_id", block_id);
	cJSON_AddItemToObject(b, "elements", elements);
	return (b);
}

/* An optional plain-text input block for modals. */
cJSON *
blocks_input_text(const char *block_id, const char *label, int multiline,
    int max_length, const char *placeholder)
{
	cJSON	*b, *el;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "input");
	cJSON_AddStringToObject(b, "block_id", block_id);
	cJSON_AddBoolToObject(b, "optional", 1);
	cJSON_AddItemToObject(b, "label", blocks_plain(label));
	el = cJSON_AddObjectToObject(b, "element");
	cJSON_AddStringToObject(el, "type", "plain_text_input");
	cJSON_AddStringToObject(el, "action_id", block_id);
	cJSON_AddBoolToObject(el, "multiline", multiline);
	cJSON_AddNumberToObject(el, "max_length", max_length);
	if (placeholder != NULL)
		cJSON_AddItemToObject(el, "placeholder",
		    blocks_plain(placeholder));
	return (b);
}

/* An optional static select input; options is a NULL-ended list. */
cJSON *
blocks_input_select(const char *block_id, const char *label,
    const char **options)
{
	cJSON	*b, *el, *opts, *o;
	size_t	 i;

	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "type", "input");
	cJSON_AddStringToObject(b, "block_id", block_id);
	cJSON_AddBoolToObject(b, "optional", 1);
	cJSON_AddItemToObject(b, "label", blocks_plain(label));
	el = cJSON_AddObjectToObject(b, "element");
	cJSON_AddStringToObject(el, "type", "static_select");
	cJSON_AddStringToObject(el, "action_id", block_id);
	opts = cJSON_AddArrayToObject(el, "options");
	for (i = 0; options[i] != NULL; i++) {
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, "text", blocks_plain(options[i]));
		cJSON_AddStringToObject(o, "value", options[i]);
		cJSON_AddItemToArray(opts, o);
	}
	return (b);
}
