/*
 * notify.c: tell systemd how the daemon is doing (sd_notify protocol).
 *
 * Why not libsystemd's sd_notify(3): the protocol is one datagram of
 * "KEY=VALUE" lines sent to the unix socket named in $NOTIFY_SOCKET (a
 * name starting with '@' is in the abstract namespace), and systemd
 * documents it as a stable interface for exactly this, to be spoken
 * without the library. Linking libsystemd would add a build and runtime
 * dependency for the sake of a sendto(2), on hosts and in tests where
 * there may be no systemd at all. Without $NOTIFY_SOCKET every call here
 * does nothing.
 *
 * What we say: STATUS= while starting (what we wait for), READY=1 once
 * the configuration is loaded, the store is open and Socket Mode has said
 * hello, or after a bounded wait so that a Slack outage at boot does not
 * fail the unit (the daemon keeps reconnecting); RELOADING=1 with
 * MONOTONIC_USEC= and READY=1 around a SIGHUP reload; WATCHDOG=1 from a
 * timer on the event loop at half of $WATCHDOG_USEC, so a stuck loop
 * stops the pings; STOPPING=1 at shutdown. A lost datagram is not an
 * error: systemd is the one who cares.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "incidentd.h"

static int			 notify_fd = -1;
static struct sockaddr_un	 notify_sun;
static socklen_t		 notify_sunlen;
static int			 notify_is_ready;
static char			 notify_last_status[256];
static struct event		*notify_wait_ev;
static struct event		*notify_dog_ev;

static void	notify_wait_cb(evutil_socket_t, short, void *);
static void	notify_dog_cb(evutil_socket_t, short, void *);

/* Open the socket named by $NOTIFY_SOCKET, if any. */
void
notify_init(void)
{
	const char	*path;
	size_t		 len;

	notify_is_ready = 0;
	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET %s is not a socket name; not "
		    "notifying systemd", path);
		return;
	}
	memset(&notify_sun, 0, sizeof(notify_sun));
	notify_sun.sun_family = AF_UNIX;
	memcpy(notify_sun.sun_path, path, len);
	if (path[0] == '@')
		notify_sun.sun_path[0] = '\0';	/* abstract: no NUL at end */
	notify_sunlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '@' ? 0 : 1));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd == -1)
		log_warn("NOTIFY_SOCKET: socket");
}

/* Send one message ("KEY=VALUE" lines); failures are logged at debug. */
void
notify_send(const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[512];
	int	 n;

	if (notify_fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return;
	if (sendto(notify_fd, buf, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_sun, notify_sunlen) == -1)
		log_debug("NOTIFY_SOCKET: sendto: %s", strerror(errno));
}

/* STATUS=, remembered for the READY=1 that ends a reload. */
void
notify_status(const char *status)
{
	strlcpy(notify_last_status, status, sizeof(notify_last_status));
	notify_send("STATUS=%s", notify_last_status);
}

/*
 * Ready with this status: READY=1 the first time, and a STATUS= update
 * after that (Socket Mode reconnected).
 */
void
notify_ready(const char *status)
{
	strlcpy(notify_last_status, status, sizeof(notify_last_status));
	if (notify_wait_ev != NULL)
		evtimer_del(notify_wait_ev);
	if (notify_is_ready) {
		notify_send("STATUS=%s", notify_last_status);
		return;
	}
	notify_is_ready = 1;
	notify_send("READY=1\nSTATUS=%s", notify_last_status);
}

static void
notify_wait_cb(evutil_socket_t fd, short events, void *arg)
{
	const char	*why = arg;
	char		 buf[200];

	log_warnx("still waiting for %s after %d s; ready without it",
	    why, INCIDENTD_READY_WAIT_MS / 1000);
	snprintf(buf, sizeof(buf), "running, still waiting for %s", why);
	notify_ready(buf);
}

/*
 * Say what we wait for before READY=1, and be ready anyway after
 * INCIDENTD_READY_WAIT_MS (why must be a string that lives forever).
 */
void
notify_wait_ready(const char *why)
{
	struct timeval	tv;
	char		buf[200];

	snprintf(buf, sizeof(buf), "waiting for %s", why);
	notify_status(buf);
	if (notify_wait_ev == NULL)
		notify_wait_ev = evtimer_new(reactor_base, notify_wait_cb,
		    (void *)why);
	tv.tv_sec = INCIDENTD_READY_WAIT_MS / 1000;
	tv.tv_usec = (INCIDENTD_READY_WAIT_MS % 1000) * 1000;
	evtimer_add(notify_wait_ev, &tv);
}

/* A SIGHUP reload begins. */
void
notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading "
	    "the configuration", (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
}

/* The reload is over, taken or rejected. */
void
notify_reloaded(void)
{
	/* Not ready yet: READY=1 waits for what it waited for. */
	if (!notify_is_ready) {
		notify_send("STATUS=%s", notify_last_status);
		return;
	}
	notify_send("READY=1\nSTATUS=%s", notify_last_status);
}

/* Shutdown begins. */
void
notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}

static void
notify_dog_cb(evutil_socket_t fd, short events, void *arg)
{
	notify_send("WATCHDOG=1");
}

/*
 * Ping the watchdog from the event loop at half of $WATCHDOG_USEC, if
 * that is set for us ($WATCHDOG_PID, when set, must be our pid).
 */
void
notify_watchdog_start(void)
{
	const char	*s, *errstr;
	long long	 usec, pid;
	struct timeval	 tv;

	if (notify_fd == -1 || (s = getenv("WATCHDOG_USEC")) == NULL)
		return;
	usec = strtonum(s, 1, LLONG_MAX / 2, &errstr);
	if (errstr != NULL) {
		log_warnx("WATCHDOG_USEC %s is %s; no watchdog pings", s,
		    errstr);
		return;
	}
	if ((s = getenv("WATCHDOG_PID")) != NULL) {
		pid = strtonum(s, 1, INT_MAX, &errstr);
		if (errstr != NULL || pid != (long long)getpid())
			return;
	}
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	notify_dog_ev = event_new(reactor_base, -1, EV_PERSIST, notify_dog_cb,
	    NULL);
	evtimer_add(notify_dog_ev, &tv);
	notify_send("WATCHDOG=1");
	log_debug("watchdog: a ping every %lld ms", usec / 1000);
}

/* Free the timers (before the event base) and close the socket. */
void
notify_shutdown(void)
{
	if (notify_wait_ev != NULL)
		event_free(notify_wait_ev);
	notify_wait_ev = NULL;
	if (notify_dog_ev != NULL)
		event_free(notify_dog_ev);
	notify_dog_ev = NULL;
	if (notify_fd != -1)
		close(notify_fd);
	notify_fd = -1;
}
