/*
 * assets.h: the browser panel's files (static/), compiled into the binary
 * by tools/embed-assets.sh as $(B)/gen/assets.c and served by assets.c.
 */
#ifndef FACTEUR_WEBADMIN_ASSETS_H
#define FACTEUR_WEBADMIN_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name;	/* path under static/: "index.html", "js/app.js" */
	const char *type;	/* Content-Type */
	const char *etag;	/* strong entity tag, quoted (RFC 9110 8.8.3) */
	const unsigned char *data;
	size_t len;
};

/* Sorted by name (byte order). */
extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
