/* explicit_bzero: a memset the compiler may not elide. */
#include "config.h"
#include <string.h>
#include "compat.h"

void
explicit_bzero(void *p, size_t n)
{
	memset(p, 0, n);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}
