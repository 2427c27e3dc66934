/*
 * sendlimit.h: per-mailbox sending limits for submission (messages per
 * hour, recipients per day), so that a leaked password does not turn a
 * mailbox into a spam cannon. Counters live in memory, in fixed windows
 * (the current clock hour and UTC day), shared by every loop thread; a
 * restart resets them. Depends on lib/ only.
 */
#ifndef FACTEUR_SENDLIMIT_H
#define FACTEUR_SENDLIMIT_H

#include <stdbool.h>
#include <time.h>

enum sendlimit_result {
	SENDLIMIT_OK = 0,
	SENDLIMIT_MESSAGES,	/* messages per hour reached */
	SENDLIMIT_RECIPIENTS,	/* recipients per day reached */
};

/*
 * May mailbox send one more message (when rcpts is 0: start one) with
 * rcpts recipients so far? max_* of 0 means no limit.
 */
enum sendlimit_result sendlimit_check(const char *mailbox,
    unsigned max_messages_hour, unsigned max_recipients_day,
    unsigned rcpts, time_t now);

/* Counts an accepted message with its recipients. */
void sendlimit_record(const char *mailbox, unsigned rcpts, time_t now);

#endif
