// SPDX-License-Identifier: MIT
/*
 * Decoder for a chunked request body (RFC 9112 7.1), in place: the data
 * bytes are moved to the front of the caller's buffer, so a body never
 * needs a second buffer. Chunk extensions are skipped (bounded); trailer
 * fields are read, bounded and discarded.
 */
#include "http_parse.h"

#include <errno.h>
#include <string.h>

#include "http_token.h"

enum chunk_state {
	CS_SIZE = 0,	/* hex digits of a chunk size */
	CS_EXT,		/* after ';': a chunk extension, up to CR */
	CS_SIZE_LF,	/* CR seen after the size line */
	CS_DATA,
	CS_DATA_CR,	/* the CRLF after a chunk's data */
	CS_DATA_LF,
	CS_TRAILER,	/* at the start of a trailer line or the final CRLF */
	CS_TRAILER_LINE,
	CS_TRAILER_LF,
	CS_END_LF,
	CS_DONE,
	CS_ERROR,
};

/* 16 hex digits hold any 64-bit size; more can only be leading zeros,
 * which no honest client sends. */
#define MAX_SIZE_DIGITS 16
/* A size line's extensions; sluiced understands none of them. */
#define MAX_EXT_BYTES 256
/* All trailer lines together, as the head's default bound. */
#define MAX_TRAILER_BYTES HTTP_DEFAULT_MAX_HEAD

void http_chunked_init(struct http_chunked *c, uint64_t max_body)
{
	memset(c, 0, sizeof(*c));
	c->max_body = max_body;
	c->state = CS_SIZE;
}

static int fail(struct http_chunked *c, int status)
{
	c->state = CS_ERROR;
	c->status = status;
	return -EPROTO;
}

/* One byte of framing (anything but chunk data): 0 to go on, or -EPROTO. */
static int framing_byte(struct http_chunked *c, char b)
{
	switch (c->state) {
	case CS_SIZE: {
		int v = http_hex_value(b);

		if (v >= 0) {
			if (++c->digits > MAX_SIZE_DIGITS)
				return fail(c, 400);
			c->remaining = c->remaining * 16 + (unsigned)v;
			if (c->remaining > c->max_body - c->total)
				return fail(c, 413);
			return 0;
		}
		if (c->digits == 0 || (b != ';' && b != '\r'))
			return fail(c, 400);	/* no BWS: strict on purpose */
		c->state = b == ';' ? CS_EXT : CS_SIZE_LF;
		c->line_len = 0;
		return 0;
	}
	case CS_EXT:
		if (b == '\r') {
			c->state = CS_SIZE_LF;
			return 0;
		}
		if (++c->line_len > MAX_EXT_BYTES)
			return fail(c, 400);
		if (b != '\t' && !http_is_field_vchar(b) && b != ' ')
			return fail(c, 400);
		return 0;
	case CS_SIZE_LF:
		if (b != '\n')
			return fail(c, 400);
		c->state = c->remaining ? CS_DATA : CS_TRAILER;
		return 0;
	case CS_DATA_CR:
		if (b != '\r')
			return fail(c, 400);
		c->state = CS_DATA_LF;
		return 0;
	case CS_DATA_LF:
		if (b != '\n')
			return fail(c, 400);
		c->state = CS_SIZE;
		c->digits = 0;
		return 0;
	case CS_TRAILER:
		if (b == '\r') {
			c->state = CS_END_LF;
			return 0;
		}
		if (http_is_ows(b) || b == '\n')
			return fail(c, 400);	/* obs-fold, bare LF */
		c->state = CS_TRAILER_LINE;
		/* fall through: the byte belongs to the line */
		/* FALLTHROUGH */
	case CS_TRAILER_LINE:
		if (++c->trailer_len > MAX_TRAILER_BYTES)
			return fail(c, 431);
		if (b == '\r') {
			c->state = CS_TRAILER_LF;
			return 0;
		}
		if (b == '\n' || (!http_is_field_vchar(b) && !http_is_ows(b)))
			return fail(c, 400);
		return 0;
	case CS_TRAILER_LF:
		if (b != '\n')
			return fail(c, 400);
		c->state = CS_TRAILER;
		return 0;
	case CS_END_LF:
		if (b != '\n')
			return fail(c, 400);
		c->state = CS_DONE;
		return 0;
	default:
		return fail(c, 400);
	}
}

int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
			size_t *consumed, size_t *produced)
{
	size_t in = 0, out = 0;
	int err = 0;

	if (c->state == CS_ERROR) {
		err = -EPROTO;
		goto out;
	}
	while (in < len && c->state != CS_DONE) {
		if (c->state == CS_DATA) {
			size_t n = len - in;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			/* out <= in always: the framing bytes we skipped
			 * make room, so the copy only moves data forward. */
			memmove(buf + out, buf + in, n);
			in += n;
			out += n;
			c->remaining -= n;
			c->total += n;
			if (c->remaining == 0)
				c->state = CS_DATA_CR;
			continue;
		}
		err = framing_byte(c, buf[in++]);
		if (err)
			goto out;
	}
	err = c->state == CS_DONE ? 0 : -EAGAIN;
out:
	*consumed = in;
	*produced = out;
	return err;
}
