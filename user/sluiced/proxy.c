// SPDX-License-Identifier: MIT
/* Reverse proxy to --upstream (placeholder until the proxy lands). */
#include "conn.h"
#include "http_response.h"
#include "sluiced.h"

int sld_proxy_init(struct sld *d)
{
	(void)d;
	return 0;
}

void sld_proxy_fini(void)
{
}

void sld_proxy_request(struct sld *d, struct conn *c)
{
	struct http_response r = { .status = 502, .close = true };
	int n = http_write_simple(c->out_inline, sizeof(c->out_inline), &r, "no proxy\n");

	sld_conn_set_out_inline(c, n, 502, true);
	sld_conn_try_write(c);
	sld_conn_done(d, c);
}
