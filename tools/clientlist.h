/* evthrottle-inspect clients: the region's client registry. */
#ifndef EVT_CLIENTLIST_H
#define EVT_CLIENTLIST_H

#include <stdio.h>

#include "evthrottle.h"

void clients_text(FILE *f, const char *name, const evt_throttle *t);
void clients_json(FILE *f, const evt_throttle *t);

#endif /* EVT_CLIENTLIST_H */
