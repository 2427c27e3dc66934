/*
 * imap_parser.h: pure parsers and encoders of the IMAP server (RFC 3501
 * section 9 formal syntax, RFC 7888 LITERAL+): the incremental command
 * parser, sequence sets, FETCH BODY[] sections, dates, string output and
 * LIST pattern matching. Depends on lib/ only; never reads a socket.
 */
#ifndef FACTEUR_IMAP_PARSER_H
#define FACTEUR_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"

/* ---- command parser ---- */

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	/*
	 * ATOM, QUOTED (unescaped), in-memory LITERAL: NUL-terminated, but a
	 * literal may hold NULs: use len. NIL: the atom as sent ("NIL",
	 * "nil"...), so a mailbox named NIL can be read back as an astring.
	 * LIST and spooled LITERAL: NULL.
	 */
	char *str;
	size_t len;
	/*
	 * LITERAL spooled to a file (bigger than max_mem_literal, or the
	 * command's memory budget is used up, see below): str NULL, fd >= 0
	 * positioned anywhere, len = size. -1 otherwise. The command owns it
	 * (imap_parser_reset closes it) unless the caller takes it by
	 * setting fd = -1.
	 */
	int fd;
	struct imap_arg *list;	/* LIST children */
	size_t count;
};

struct imap_command {
	char *tag;
	/* Upper-cased. For "UID FETCH ..." name is "UID" and the first
	 * argument is the atom FETCH. */
	char *name;
	struct imap_arg *args;	/* top-level arguments after the name */
	size_t nargs;
};

/*
 * Limits; a field left 0 takes its default (a NULL pointer: all defaults).
 * Literals are kept in memory while they are at most max_mem_literal each
 * and the command's in-memory literals total at most
 * IMAP_PARSER_MEM_BUDGET(lim); others are spooled, at most
 * IMAP_PARSER_MAX_SPOOLED per command.
 */
struct imap_parser_limits {
	size_t max_line;	/* octets of a command outside literals,
				   >= 8192; default 65536 */
	uint64_t max_literal;	/* largest literal; default 64 MiB */
	size_t max_mem_literal;	/* default 64 KiB */
	unsigned max_depth;	/* list nesting; default 16 */
	size_t max_args;	/* args, all levels; default 10000 */
	uint64_t max_command;	/* octets of a command with its literals;
				   default max_literal + 1 MiB */
};

#define IMAP_PARSER_MEM_BUDGET(lim) \
	((uint64_t)(lim)->max_line + 2 * (uint64_t)(lim)->max_mem_literal)
#define IMAP_PARSER_MAX_SPOOLED 64

struct imap_parser;

/*
 * spool_open(ctx) returns a fresh read/write fd (an unlinked temporary
 * file), or -1 (the command then fails with IMAP_PARSE_ERROR). lim is
 * copied. Never returns NULL.
 */
struct imap_parser *imap_parser_new(const struct imap_parser_limits *lim,
    int (*spool_open)(void *ctx), void *ctx);
void imap_parser_free(struct imap_parser **p);

enum imap_parse_status {
	/* Consumed everything given; needs more bytes. */
	IMAP_PARSE_MORE,
	/* A synchronizing literal {n} was announced and accepted: write
	 * "+ Ready for literal data\r\n", then feed more. */
	IMAP_PARSE_CONTINUE,
	/* A command is complete: read imap_parser_command(), then call
	 * imap_parser_reset() before feeding again. */
	IMAP_PARSE_COMMAND,
	/*
	 * Bad syntax: imap_parser_error() gives the tag (NULL when none
	 * could be read) and a message. Answer "<tag> BAD <msg>" (or
	 * "* BAD <msg>") and call imap_parser_reset(); the rest of the bad
	 * line is skipped on later feeds (with the data of any LITERAL+
	 * literal announced on it).
	 */
	IMAP_PARSE_ERROR,
	/*
	 * A synchronizing literal beyond max_literal (or the command beyond
	 * max_command, or too many spooled literals): answer
	 * "<tag> NO [TOOBIG] <msg>" with no continuation, then reset as for
	 * ERROR. A LITERAL+ literal over the limits gives FATAL instead.
	 */
	IMAP_PARSE_TOO_BIG,
	/* Cannot resynchronize (more than max_line octets with no end of
	 * line, a LITERAL+ literal over the limit): say "* BYE <msg>" and
	 * close. Later feeds return FATAL again and consume nothing. */
	IMAP_PARSE_FATAL,
};

/*
 * Feeds bytes. *consumed_r (always <= len) stops right after the event
 * reported: after the LF of a command or of a "{n}\r\n" announcement, at
 * the offending byte of an error. A line ends with CRLF or a bare LF;
 * empty lines are ignored.
 */
enum imap_parse_status imap_parser_feed(struct imap_parser *p,
    const char *data, size_t len, size_t *consumed_r);
/* The command after IMAP_PARSE_COMMAND (NULL otherwise), valid until
 * imap_parser_reset(); the caller may take pointers and fds out of it,
 * setting them to NULL and -1. */
struct imap_command *imap_parser_command(const struct imap_parser *p);
/* Tag (or NULL) and a static message for ERROR, TOO_BIG and FATAL. The
 * tag stays valid until imap_parser_reset(). */
const char *imap_parser_error(const struct imap_parser *p,
    const char **tag_r);
/* Frees the command (closing spooled fds not taken) and gets ready for
 * the next one. Feeding after COMMAND or ERROR without a reset resets. */
void imap_parser_reset(struct imap_parser *p);
/* True while literal data is being read (for timeouts and logs). */
bool imap_parser_in_literal(const struct imap_parser *p);

/* An astring argument (atom, quoted, in-memory literal, or NIL read as
 * the mailbox "NIL"): 0 with the string, -1 otherwise (list, spooled
 * literal). */
int imap_arg_astring(const struct imap_arg *a, const char **s_r,
    size_t *len_r);

/* ---- sequence sets (RFC 3501 9, sequence-set) ---- */

/* "*"; a number 4294967295 reads as "*" as well. */
#define IMAP_SEQ_STAR UINT32_MAX
#define IMAP_SEQSET_MAX_RANGES 10000

struct imap_seqrange {
	uint32_t lo, hi;
};

struct imap_seqset {
	struct imap_seqrange *r;
	size_t count;
};

/* "1", "1:5", "5:1", "*", "3:*", "1,3:4,7:*". Ranges come out with
 * lo <= hi ("*" last), in the order given. 0 or -1 (0 is invalid, as are
 * leading zeroes, empty parts and more than IMAP_SEQSET_MAX_RANGES
 * ranges); on -1 *set_r is empty. */
int imap_seqset_parse(const char *s, size_t len, struct imap_seqset *set_r);
/* Replaces "*" by star_value (the highest sequence number or UID; 0 for
 * an empty mailbox), orders lo <= hi, sorts and merges overlapping and
 * adjacent ranges. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star_value);
/* After resolve: binary search. */
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Appends lo:hi (lo <= hi), merged into the last range when adjacent to
 * it: for building COPYUID sets in order. */
void imap_seqset_append(struct imap_seqset *set, uint32_t lo, uint32_t hi);
void imap_seqset_free(struct imap_seqset *set);
/* Appends the set as "1:3,7" ("*" for a star) to out. */
void imap_seqset_format(const struct imap_seqset *set, struct buf *out);

/* ---- FETCH BODY[section]<partial> (RFC 3501 6.4.5) ---- */

enum imap_sect_kind {
	IMAP_SECT_ALL,
	IMAP_SECT_HEADER,
	IMAP_SECT_HEADER_FIELDS,
	IMAP_SECT_HEADER_FIELDS_NOT,
	IMAP_SECT_TEXT,
	IMAP_SECT_MIME,
};

struct imap_section {
	bool peek;
	uint32_t part[32];
	size_t nparts;
	enum imap_sect_kind kind;
	char **fields;		/* HEADER.FIELDS(.NOT) names as given */
	size_t nfields;
	bool partial;
	uint32_t offset, length;
	/* The response item: "BODY[1.2.HEADER.FIELDS (FROM TO)]<0>", with
	 * keywords upper-cased, the origin only (RFC 3501 7.4.2), never
	 * ".PEEK". */
	char *canonical;
};

/* s is the whole att atom, "BODY[...]..." or "BODY.PEEK[...]..."
 * (case-insensitive). 0, or -1 when invalid: MIME without a part, part
 * 0, more than 32 parts, an empty HEADER.FIELDS list, junk after ']'
 * other than "<origin.length>" with a non-zero length. On -1 *sec_r
 * needs no imap_section_free. */
int imap_section_parse(const char *s, size_t len, struct imap_section *sec_r);
void imap_section_free(struct imap_section *sec);

/* ---- dates ---- */

/* APPEND date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (the day also " d" or
 * "d"; surrounding quotes tolerated): 0 with the UTC time and the zone
 * offset in seconds, or -1. */
int imap_datetime_parse(const char *s, size_t len, time_t *t_r,
    int *tzoff_r);
/* SEARCH date "d-Mon-yyyy" or "dd-Mon-yyyy" (quotes tolerated): 0 with
 * that day at 00:00 UTC, or -1. */
int imap_date_parse(const char *s, size_t len, time_t *day_r);
/* INTERNALDATE "dd-Mon-yyyy hh:mm:ss +zzzz" at zone offset tzoff
 * (seconds). outsize >= 27, else out gets "". */
void imap_datetime_format(time_t t, int tzoff, char *out, size_t outsize);

/* ---- output ---- */

/* An astring: atom when non-empty, every byte ASTRING-CHAR and not
 * "NIL"; quoted when printable 7-bit (escaping \ and "); else a literal
 * "{n}\r\n" and the bytes. */
void imap_append_astring(struct buf *out, const char *s, size_t len);
/* An nstring: NIL for a NULL s, else quoted or literal (never an atom). */
void imap_append_nstring(struct buf *out, const char *s, size_t len);
void imap_append_quoted_or_literal(struct buf *out, const char *s,
    size_t len);

/* LIST/LSUB pattern (RFC 3501 6.3.8): '*' matches anything, '%' anything
 * but sep. Case-sensitive, except that an INBOX first level of name
 * ("INBOX" or "INBOX<sep>...") matches case-insensitively. */
bool imap_list_match(const char *pattern, const char *name, char sep);

#endif
