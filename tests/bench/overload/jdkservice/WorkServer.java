// SPDX-License-Identifier: MIT
// WorkServer: the overload benchmark's thread-pool service, the JDK's
// com.sun.net.httpserver with a fixed pool of 8 threads and the Go
// service's CPU-bound handler. Its dispatcher thread accepts and hands
// each exchange to the pool, whose queue is unbounded: under overload,
// accepted connections wait there with their request unread.
//
//   java -cp DIR WorkServer [HOST:PORT]   default 127.0.0.1:8080
//   GET /work?cpu_us=N                    spin N µs of CPU, answer "done"

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public final class WorkServer {
	private static final int THREADS = 8;
	private static final int BACKLOG = 4096;	// somaxconn, as Go's

	private static long cpuMicros(String query) {
		if (query == null)
			return 0;
		for (String kv : query.split("&")) {
			if (kv.startsWith("cpu_us=")) {
				try {
					return Math.min(Long.parseLong(kv.substring(7)), 1000000L);
				} catch (NumberFormatException e) {
					return 0;
				}
			}
		}
		return 0;
	}

	// Busy-wait, as the Go handler does: CPU is what runs out.
	private static void spin(long us) {
		long end = System.nanoTime() + us * 1000L;
		while (System.nanoTime() < end)
			Thread.onSpinWait();
	}

	private static void work(HttpExchange ex) throws IOException {
		spin(cpuMicros(ex.getRequestURI().getRawQuery()));
		byte[] body = "done\n".getBytes(StandardCharsets.US_ASCII);
		ex.sendResponseHeaders(200, body.length);
		try (OutputStream os = ex.getResponseBody()) {
			os.write(body);
		}
	}

	public static void main(String[] args) throws IOException {
		String addr = args.length > 0 ? args[0] : "127.0.0.1:8080";
		int colon = addr.lastIndexOf(':');
		int port;
		try {
			port = Integer.parseInt(addr.substring(colon + 1));
		} catch (NumberFormatException | StringIndexOutOfBoundsException e) {
			port = -1;
		}
		if (colon <= 0 || port < 1 || port > 65535) {
			System.err.println("WorkServer: \"" + addr + "\": expected HOST:PORT");
			System.exit(2);
		}
		HttpServer s = HttpServer.create(
			new InetSocketAddress(addr.substring(0, colon), port), BACKLOG);
		s.createContext("/work", WorkServer::work);
		s.setExecutor(Executors.newFixedThreadPool(THREADS));
		s.start();
	}
}
