/*
 * fuzz_addr.c: address and domain normalization and punycode on
 * arbitrary bytes. Normalizing a normalized address must give it back
 * unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/addr.h"
#include "lib/punycode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *error;
	char out[ADDR_MAX + 1], again[ADDR_MAX + 1];
	char dom[ADDR_DOMAIN_MAX + 1];
	uint32_t cp[256];
	int n;

	if (addr_normalize(p, size, true, out, sizeof(out), &error) == 0) {
		if (addr_normalize(out, strlen(out), true, again,
		    sizeof(again), &error) != 0 || strcmp(out, again) != 0)
			abort();
	}
	if (addr_domain_normalize(p, size, dom, sizeof(dom), &error) == 0) {
		if (addr_domain_normalize(dom, strlen(dom), again,
		    sizeof(again), &error) != 0 || strcmp(dom, again) != 0)
			abort();
	}
	n = punycode_decode(p, size, cp, 256);
	if (n > 0) {
		char enc[1024];

		if (punycode_encode(cp, (size_t)n, enc, sizeof(enc)) < 0)
			abort();
	}
	(void)utf8_valid(p, size);
	return 0;
}
