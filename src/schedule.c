/* schedule.c: to be written. */
#include "config.h"
#include "incidentd.h"
