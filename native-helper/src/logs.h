/* The `container.logs` streamer (runtime_logs in runtime.h): LOG frames of
 * whole lines from ctr.log.1 then ctr.log, the last `tail` lines when asked;
 * with follow it watches the directory (inotify) and ends with an EXIT frame
 * copied from exit.json once everything is sent. */
#ifndef BERTH_LOGS_H
#define BERTH_LOGS_H

#include <stddef.h>

/* Where the last n lines of buf start (n < 0: 0). */
size_t logs_tail_offset(const char *buf, size_t len, long n);

#endif
