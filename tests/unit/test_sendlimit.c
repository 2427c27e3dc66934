/* Unit tests: per-mailbox sending limits in hour and day windows. */
#include "t.h"

#include "smtp/sendlimit.h"

int
main(void)
{
	time_t t = 1800000000 - 1800000000 % 86400 + 3600;	/* 01:00 UTC */
	const char *a = "a@example.com", *b = "b@example.com";

	CHECK(sendlimit_check(a, 2, 5, 0, t) == SENDLIMIT_OK);
	CHECK(sendlimit_check(a, 2, 5, 6, t) == SENDLIMIT_RECIPIENTS);
	sendlimit_record(a, 2, t);
	CHECK(sendlimit_check(a, 2, 5, 3, t) == SENDLIMIT_OK);
	CHECK(sendlimit_check(a, 2, 5, 4, t) == SENDLIMIT_RECIPIENTS);
	sendlimit_record(a, 1, t + 10);
	/* two messages this hour: the third waits */
	CHECK(sendlimit_check(a, 2, 5, 0, t + 20) == SENDLIMIT_MESSAGES);
	/* another mailbox is not affected; 0 means no limit */
	CHECK(sendlimit_check(b, 2, 5, 0, t + 20) == SENDLIMIT_OK);
	CHECK(sendlimit_check(a, 0, 0, 100, t + 20) == SENDLIMIT_OK);
	/* the next hour: messages again, but the day's recipients count */
	CHECK(sendlimit_check(a, 2, 5, 0, t + 3600) == SENDLIMIT_OK);
	CHECK(sendlimit_check(a, 2, 5, 3, t + 3600) == SENDLIMIT_RECIPIENTS);
	CHECK(sendlimit_check(a, 2, 5, 2, t + 3600) == SENDLIMIT_OK);
	/* the next day: everything resets */
	CHECK(sendlimit_check(a, 2, 5, 5, t + 86400) == SENDLIMIT_OK);
	return t_done("sendlimit");
}
