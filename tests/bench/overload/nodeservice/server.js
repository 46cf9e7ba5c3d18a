// SPDX-License-Identifier: MIT
// nodeservice: the overload benchmark's event-loop service, a Node.js `http`
// server with the Go service's CPU-bound handler on one thread (the event
// loop), built differently from Go's goroutines and the JDK's thread pool.
//
//   node server.js [HOST:PORT]      default 127.0.0.1:8080
//   GET /work?cpu_us=N              spin N µs of CPU, answer "done"
'use strict';
const http = require('http');

const addr = process.argv[2] || '127.0.0.1:8080';
const colon = addr.lastIndexOf(':');
const host = addr.slice(0, colon);
const port = Number(addr.slice(colon + 1));
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
	console.error(`nodeservice: "${addr}": expected HOST:PORT`);
	process.exit(2);
}

// Busy-wait, as the Go handler does: CPU, not a timer, is what runs out.
function spin(us) {
	const end = process.hrtime.bigint() + BigInt(us) * 1000n;
	while (process.hrtime.bigint() < end);
}

const server = http.createServer((req, res) => {
	const url = new URL(req.url, 'http://service');
	if (url.pathname !== '/work') {
		res.writeHead(404);
		res.end('GET /work?cpu_us=N\n');
		return;
	}
	spin(Math.min(Number(url.searchParams.get('cpu_us')) || 0, 1000000));
	res.end('done\n');
});
// The accept backlog of the Go and JDK services (somaxconn), not Node's 511.
server.listen({ host, port, backlog: 4096 });
process.on('SIGTERM', () => process.exit(0));
