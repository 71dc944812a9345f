/* incidentd.c: to be written. */
#include "config.h"
#include "incidentd.h"
int main(void) { return 0; }
