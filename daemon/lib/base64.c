#include "base64.h"

static const char base64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_encode(const void *in, size_t len, char *out)
{
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		out[o++] = base64_chars[p[i] >> 2];
		out[o++] = base64_chars[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[o++] = base64_chars[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[o++] = base64_chars[p[i + 2] & 63];
	}
	if (i < len) {
		out[o++] = base64_chars[p[i] >> 2];
		if (i + 1 < len) {
			out[o++] = base64_chars[((p[i] & 3) << 4) |
			    (p[i + 1] >> 4)];
			out[o++] = base64_chars[(p[i + 1] & 15) << 2];
		} else {
			out[o++] = base64_chars[(p[i] & 3) << 4];
			out[o++] = '=';
		}
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int
base64_value(unsigned char c, char c63)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == (unsigned char)c63)
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t len, void *out)
{
	unsigned char *o = out;
	size_t n = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;

		for (int k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;	/* data after '=' */
			v[k] = base64_value((unsigned char)in[i + k], '/');
			if (v[k] < 0)
				return -1;
		}
		if (pad == 1 && v[3] == 0 && in[i + 2] == '=')
			return -1;
		/* Non-zero bits in the padding are not canonical. */
		if ((pad == 2 && (v[1] & 15) != 0) ||
		    (pad == 1 && (v[2] & 3) != 0))
			return -1;
		o[n++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
		if (pad < 2)
			o[n++] = (unsigned char)(((v[1] & 15) << 4) |
			    (v[2] >> 2));
		if (pad < 1)
			o[n++] = (unsigned char)(((v[2] & 3) << 6) | v[3]);
	}
	return (long)n;
}
