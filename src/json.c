/* json.c: small helpers over cJSON trees. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

/* Follow a dotted path of object keys; NULL if any step is missing. */
cJSON *
json_path(const cJSON *j, const char *path)
{
	const char	*p = path, *dot;
	char		 key[128];
	size_t		 len;

	while (j != NULL && *p != '\0') {
		dot = strchr(p, '.');
		len = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (len >= sizeof(key) || !cJSON_IsObject(j))
			return (NULL);
		memcpy(key, p, len);
		key[len] = '\0';
		j = cJSON_GetObjectItemCaseSensitive(j, key);
		p += len + (dot != NULL);
	}
	return ((cJSON *)j);
}

/* String at path, or NULL if absent or not a string. */
const char *
json_str(const cJSON *j, const char *path)
{
	const cJSON	*v = json_path(j, path);

	return (cJSON_IsString(v) ? v->valuestring : NULL);
}

/* Number at path, or def. */
double
json_num(const cJSON *j, const char *path, double def)
{
	const cJSON	*v = json_path(j, path);

	return (cJSON_IsNumber(v) ? v->valuedouble : def);
}

/*
 * Number at path as an integer, or def if absent, not a number, not
 * whole or outside [min, max]: a remote number cast as it came would be
 * undefined behaviour when out of range (1e300, NaN).
 */
long long
json_int(const cJSON *j, const char *path, long long def, long long min,
    long long max)
{
	const cJSON	*v = json_path(j, path);
	double		 d;

	if (!cJSON_IsNumber(v))
		return (def);
	d = v->valuedouble;
	if (!(d >= (double)min && d <= (double)max) || d != (double)(long long)d)
		return (def);
	return ((long long)d);
}

/* 1 if the value at path is true. */
int
json_bool(const cJSON *j, const char *path)
{
	return (cJSON_IsTrue(json_path(j, path)));
}

/* s as a quoted JSON string literal. */
char *
json_quote(const char *s)
{
	cJSON	*str;
	char	*out;

	if ((str = cJSON_CreateString(s)) == NULL)
		fatalx("%s: out of memory", __func__);
	out = json_print(str);
	cJSON_Delete(str);
	return (out);
}

/* Compact serialization; never NULL. */
char *
json_print(const cJSON *j)
{
	char	*out, *copy;

	if ((out = cJSON_PrintUnformatted(j)) == NULL)
		fatalx("%s: out of memory", __func__);
	/* cJSON's allocator may differ from ours: hand back a malloc copy. */
	copy = xstrdup(out);
	cJSON_free(out);
	return (copy);
}

/* Replace (or remove, v NULL) member name of object o; v is consumed. */
void
json_set(cJSON *o, const char *name, cJSON *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, name);
	if (v != NULL)
		cJSON_AddItemToObject(o, name, v);
}
