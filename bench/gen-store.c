/*
 * gen-store.c: a large store for the start-up and scale benchmarks.
 *
 * Writes incidents (INC-1.., channel C0LG00001..), cached channel
 * messages and timeline marks through the daemon's own code
 * (incident_set_channel, timeline_message, timeline_reaction), so the
 * records are exactly what a long-running daemon would have stored.
 * Messages go to the first incident channels, MSGS_PER_CHANNEL each;
 * every (messages / marks)-th one is tagged. bench/run.pl keeps the
 * result in bench-cache/ and copies it for each run.
 *
 * Usage: gen-store DIR INCIDENTS MESSAGES MARKS [UNLINKED]
 *
 * UNLINKED (t/reconcile.t): incident numbers, comma-separated, whose
 * channel is not yet linked back in Jira, as a daemon killed in the
 * middle of "new channel" leaves them; the repair pass must link them.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "incidentd.h"

#define GEN_MSGS_PER_CHANNEL	1000
#define GEN_BATCH		2000	/* writes per commit */

static void
gen_commit(unsigned long *n)
{
	if (++*n % GEN_BATCH == 0 && store_commit(store) != 0)
		fatalx("commit failed");
}

/* Is n in the comma-separated list? */
static int
gen_listed(const char *list, long n)
{
	char	*end;
	long	 v;

	while (*list != '\0') {
		v = strtol(list, &end, 10);
		if (end != list && v == n)
			return (1);
		list = *end != '\0' ? end + 1 : end;
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct strlist	 errors;
	struct config	*conf;
	char		 path[1024], key[32], ch[32], ts[32], text[160];
	cJSON		*ev, *item, *inc;
	char		*cause;
	FILE		*f;
	long		 incidents, messages, marks, i, every;
	const char	*unlinked = ",";
	unsigned long	 n = 0;
	time_t		 t0 = time(NULL);

	if (argc != 5 && argc != 6)
		fatalx("usage: gen-store DIR INCIDENTS MESSAGES MARKS "
		    "[UNLINKED]");
	if (argc == 6)
		unlinked = argv[5];
	incidents = strtol(argv[2], NULL, 10);
	messages = strtol(argv[3], NULL, 10);
	marks = strtol(argv[4], NULL, 10);
	if (incidents < 1 || incidents > 10000000 || messages < 0 ||
	    marks < 0 || marks > messages ||
	    (messages + GEN_MSGS_PER_CHANNEL - 1) / GEN_MSGS_PER_CHANNEL >
	    incidents)
		fatalx("bad sizes: need marks <= messages <= %d * incidents",
		    GEN_MSGS_PER_CHANNEL);
	log_init(LOG_LEVEL_ERROR, "gen-store");

	if (mkdir(argv[1], 0700) == -1 && errno != EEXIST)
		fatal("%s", argv[1]);
	/* The timeline code reads its settings from a configuration. */
	snprintf(path, sizeof(path), "%s/gen-store.yaml", argv[1]);
	if ((f = fopen(path, "w")) == NULL)
		fatal("%s", path);
	(void)fchmod(fileno(f), 0600);	/* it holds (fake) secrets */
	fprintf(f, "state_dir: %s\n"
	    "slack: {app_token: xapp-gen, bot_token: xoxb-gen}\n"
	    "jira: {url: \"https://jira.example.com\", email: a@example.com,"
	    " api_token: x, project: INC}\n"
	    "pagerduty: {api_token: x, from: a@example.com,"
	    " incident_manager_service: PGEN123}\n", argv[1]);
	fclose(f);
	memset(&errors, 0, sizeof(errors));
	if ((conf = config_load(path, &errors)) == NULL)
		fatalx("%s: %s", path, errors.n > 0 ? errors.v[0] : "invalid");
	cfg = conf;
	unlink(path);
	if (store_open(argv[1], 8LL << 30, 0, &store, &cause) != 0)
		fatalx("%s", cause);

	for (i = 1; i <= incidents; i++) {
		snprintf(key, sizeof(key), "INC-%ld", i);
		snprintf(ch, sizeof(ch), "C0LG%05ld", i);
		snprintf(text, sizeof(text), "inc-%ld", i);
		if (incident_set_channel(key, "generated: checkout errors",
		    "U0LGUSER", ch, text) != 0 ||
		    (inc = incident_load(key)) == NULL)
			fatalx("incident %s not stored", key);
		/* Its channel is on the ticket already (cmd-new-channel.c). */
		if (!gen_listed(unlinked, i))
			cJSON_AddStringToObject(inc, "linked", ch);
		if (incident_save(inc) != 0)
			fatalx("incident %s not stored", key);
		cJSON_Delete(inc);
		gen_commit(&n);
	}
	every = marks > 0 ? messages / marks : 0;
	for (i = 0; i < messages; i++) {
		snprintf(ch, sizeof(ch), "C0LG%05ld",
		    i / GEN_MSGS_PER_CHANNEL + 1);
		snprintf(ts, sizeof(ts), "%ld.%06ld", (long)t0 - 3600 +
		    i / 1000000, i % 1000000);
		snprintf(text, sizeof(text), "generated message %ld: the "
		    "error rate on <https://grafana.example.com/d/%ld|api> "
		    "is back to normal", i, i);
		ev = cJSON_CreateObject();
		cJSON_AddStringToObject(ev, "type", "message");
		cJSON_AddStringToObject(ev, "channel", ch);
		cJSON_AddStringToObject(ev, "user", "U0LGUSER");
		cJSON_AddStringToObject(ev, "text", text);
		cJSON_AddStringToObject(ev, "ts", ts);
		timeline_message(ev);
		cJSON_Delete(ev);
		gen_commit(&n);
		if (every > 0 && i % every == 0 && i / every < marks) {
			ev = cJSON_CreateObject();
			cJSON_AddStringToObject(ev, "type", "reaction_added");
			cJSON_AddStringToObject(ev, "user", "U0LGTAGR");
			cJSON_AddStringToObject(ev, "reaction", "memo");
			item = cJSON_AddObjectToObject(ev, "item");
			cJSON_AddStringToObject(item, "type", "message");
			cJSON_AddStringToObject(item, "channel", ch);
			cJSON_AddStringToObject(item, "ts", ts);
			timeline_reaction(ev, 1);
			cJSON_Delete(ev);
			gen_commit(&n);
		}
	}
	if (store_commit(store) != 0)
		fatalx("commit failed");
	printf("{\"incidents\":%ld,\"messages\":%ld,\"marks\":%ld,"
	    "\"timeline_records\":%zu,\"seconds\":%ld}\n", incidents,
	    messages, marks, store_count(store, STORE_TIMELINE),
	    (long)(time(NULL) - t0));
	store_close(store);
	store = NULL;
	config_free(conf);
	return (0);
}
