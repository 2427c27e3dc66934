#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/util.h"
#include "smtp/sendlimit.h"

#define SENDLIMIT_BUCKETS 1024
/* Past this many remembered mailboxes, idle ones are forgotten. */
#define SENDLIMIT_MAX_ENTRIES 100000

struct sendlimit_entry {
	char mailbox[ADDR_MAX + 1];
	time_t hour, day;	/* window starts */
	unsigned messages;	/* in the hour */
	unsigned recipients;	/* in the day */
	struct sendlimit_entry *next;
};

static pthread_mutex_t sendlimit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sendlimit_entry *sendlimit_buckets[SENDLIMIT_BUCKETS];
static unsigned sendlimit_entries;

static unsigned
sendlimit_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % SENDLIMIT_BUCKETS;
}

/* Starts new windows when the hour or day changed. */
static void
sendlimit_roll(struct sendlimit_entry *e, time_t now)
{
	time_t hour = now - now % 3600, day = now - now % 86400;

	if (e->hour != hour) {
		e->hour = hour;
		e->messages = 0;
	}
	if (e->day != day) {
		e->day = day;
		e->recipients = 0;
	}
}

static void
sendlimit_forget_idle(time_t now)
{
	time_t day = now - now % 86400;

	for (unsigned i = 0; i < SENDLIMIT_BUCKETS; i++) {
		struct sendlimit_entry **pp = &sendlimit_buckets[i];

		while (*pp != NULL) {
			if ((*pp)->day != day) {
				struct sendlimit_entry *e = *pp;

				*pp = e->next;
				free(e);
				sendlimit_entries--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

/* Under the lock. */
static struct sendlimit_entry *
sendlimit_find(const char *mailbox, time_t now, bool create)
{
	struct sendlimit_entry **pp =
	    &sendlimit_buckets[sendlimit_hash(mailbox)], *e;

	for (e = *pp; e != NULL; e = e->next) {
		if (strcmp(e->mailbox, mailbox) == 0) {
			sendlimit_roll(e, now);
			return e;
		}
	}
	if (!create)
		return NULL;
	if (sendlimit_entries >= SENDLIMIT_MAX_ENTRIES)
		sendlimit_forget_idle(now);
	e = xcalloc(1, sizeof(*e));
	str_lcpy(e->mailbox, mailbox, sizeof(e->mailbox));
	sendlimit_roll(e, now);
	e->next = *pp;
	*pp = e;
	sendlimit_entries++;
	return e;
}

enum sendlimit_result
sendlimit_check(const char *mailbox, unsigned max_messages_hour,
    unsigned max_recipients_day, unsigned rcpts, time_t now)
{
	enum sendlimit_result r = SENDLIMIT_OK;
	struct sendlimit_entry *e;

	pthread_mutex_lock(&sendlimit_lock);
	e = sendlimit_find(mailbox, now, false);
	if (e != NULL) {
		if (max_messages_hour > 0 && e->messages >= max_messages_hour)
			r = SENDLIMIT_MESSAGES;
		else if (max_recipients_day > 0 &&
		    e->recipients + rcpts > max_recipients_day)
			r = SENDLIMIT_RECIPIENTS;
	} else if (max_recipients_day > 0 && rcpts > max_recipients_day) {
		r = SENDLIMIT_RECIPIENTS;
	}
	pthread_mutex_unlock(&sendlimit_lock);
	return r;
}

void
sendlimit_record(const char *mailbox, unsigned rcpts, time_t now)
{
	struct sendlimit_entry *e;

	pthread_mutex_lock(&sendlimit_lock);
	e = sendlimit_find(mailbox, now, true);
	e->messages++;
	e->recipients += rcpts;
	pthread_mutex_unlock(&sendlimit_lock);
}
