/* tap.h: a tiny TAP producer for the C unit tests. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed, tap_planned;

static void __attribute__((unused))
plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

static int __attribute__((unused))
ok_at(int cond, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
	if (!cond) {
		tap_failed++;
		printf("#   Failed test '%s'\n#   at %s line %d.\n", name,
		    file, line);
	}
	fflush(stdout);
	return (cond);
}
#define ok(cond, name)		ok_at(!!(cond), __FILE__, __LINE__, (name))

static int __attribute__((unused))
is_str_at(const char *got, const char *want, const char *file, int line,
    const char *name)
{
	int	cond;

	cond = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);
	if (!ok_at(cond, file, line, name))
		printf("#          got: '%s'\n#     expected: '%s'\n",
		    got ? got : "(null)", want ? want : "(null)");
	return (cond);
}
#define is_str(got, want, name)	is_str_at((got), (want), __FILE__, __LINE__, (name))

static int __attribute__((unused))
is_int_at(long long got, long long want, const char *file, int line,
    const char *name)
{
	if (!ok_at(got == want, file, line, name))
		printf("#          got: %lld\n#     expected: %lld\n", got, want);
	return (got == want);
}
#define is_int(got, want, name)	is_int_at((got), (want), __FILE__, __LINE__, (name))

static void __attribute__((unused))
diag(const char *msg)
{
	printf("# %s\n", msg);
}

static int __attribute__((unused))
done_testing(void)
{
	if (tap_planned == 0)
		printf("1..%d\n", tap_n);
	else if (tap_planned != tap_n)
		printf("# planned %d tests but ran %d\n", tap_planned, tap_n);
	return (tap_failed != 0 || (tap_planned && tap_planned != tap_n));
}

#endif
