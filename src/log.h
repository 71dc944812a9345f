/* log.h: leveled logging to stderr with secret redaction. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include "compat.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

void	log_init(int level, const char *progname);
void	log_setlevel(int);
int	log_getlevel(void);
int	log_level_parse(const char *);	/* -1 if unknown */
const char *log_level_name(int);
/* Any later log line containing this string shows "[redacted]" instead. */
void	log_redact(const char *secret);
void	log_redact_clear(void);
/* Redact secrets and token-shaped words in buf, in place. */
void	log_scrub(char *buf, size_t size);

void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif
