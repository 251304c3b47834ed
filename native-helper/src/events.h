/* Change events for subscribed clients (docs/protocol.md "Events"): a
 * connection that sends events.subscribe leaves the request loop and gets
 * one EVENT frame per change from then on. Subscribers sit in a bounded
 * table; one whose queue overflows (it stopped reading) is dropped, and it
 * resynchronizes by subscribing again and re-listing. */
#ifndef BERTH_EVENTS_H
#define BERTH_EVENTS_H

#include <json-c/json.h>

#include "error.h"
#include "server.h"

#define EVENTS_MAX_SUBSCRIBERS 64
#define EVENTS_MAX_QUEUE (256 * 1024) /* bytes waiting for one subscriber */

/* The server that carries the subscribers' fds; before any other call. */
void events_init(struct server *srv);
/* Drops every subscriber (the daemon is stopping). */
void events_close(void);

/* Replies {"stream": true} to request id on c and takes the connection over
 * as a subscriber. Fails (c untouched) when the table is full. */
int events_subscribe(struct conn *c, json_object *id, berr_t *err);

/* Sends {"type", "action", "id", "time"} to every subscriber. type is
 * "container" or "image"; action "create", "start", "exit", "remove" or
 * "change"; id may be NULL (sent as ""). Never blocks. */
void events_emit(const char *type, const char *action, const char *id);

/* How many subscribers there are (tests, logging). */
int events_subscribers(void);

#endif
