#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A scripted HTTP/1.1 upstream, and the table of reverse-proxy cases run
through a proxy in front of it (sluiced, or HAProxy for comparison).

  proxy_cases.py upstream PORT [NAME]   serve the script below on 127.0.0.1
  proxy_cases.py cases PROXY_PORT UPSTREAM_PORT [--only a,b]
                                        run every case through the proxy;
                                        print cmocka-style lines and a table
  proxy_cases.py status|xff|metric PORT [PATH|NAME] [HEADER]
                                        one-line answers for test_proxy.sh

The upstream answers by path (the query is ignored):
  /len       200, Content-Length 12        /head-len  the same (for HEAD)
  /103       103 Early Hints, then 200     /100       100 Continue, then 200
  /204       204                           /304       304 with an ETag
  /gzip      Transfer-Encoding: gzip, chunked (a gzip body in 3 chunks)
  /close     HTTP/1.0, no length: the body ends at close
  /chunked   chunked (400 to a request without Host)
  /echo      the request head it received, as the body
  /slow      waits 6 s, then 200           /trickle   head, then a byte each 0.3 s
  /nap       waits 0.2 s, then 200
  /port      200, the client port of the connection it came on
  /split     200, its head sent in three pieces 50 ms apart
  /big       5 MiB (above the proxy's response cap)
  /mib?n=N   N MiB of body                 /reset     reads the request, then RST
  /doom      200, and the next request on this connection is read and
             dropped with a close (a stale keep-alive connection)
  /stats     JSON: hits by path, connections accepted
Every answer carries X-Upstream: NAME.
"""
import gzip
import json
import os
import re
import select
import socket
import struct
import sys
import threading
import time

# --------------------------------------------------------------- upstream

HITS = {}
CONNS = [0]
LOCK = threading.Lock()


def read_request(f):
    """One request head and body from the buffered socket file; None at EOF."""
    line = f.readline(65536)
    if not line:
        return None
    head = [line]
    while True:
        h = f.readline(65536)
        if not h:
            return None
        head.append(h)
        if h in (b"\r\n", b"\n"):
            break
    raw = b"".join(head)
    m = re.search(rb"(?im)^content-length:\s*(\d+)", raw)
    body = f.read(int(m.group(1))) if m else b""
    method, target = line.split(b" ")[:2]
    return method.decode(), target.decode(), raw, body


def answer(status, body=b"", extra=b"", length=True):
    h = b"HTTP/1.1 %s\r\nX-Upstream: %s\r\n" % (status.encode(), NAME.encode())
    if length:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + extra + b"\r\n" + body


def serve_conn(s):
    f = s.makefile("rb")
    doomed = False
    while True:
        try:
            req = read_request(f)
        except OSError:
            req = None
        if req is None:
            break
        method, target, raw, body = req
        path = target.split("?")[0]
        with LOCK:
            HITS[path] = HITS.get(path, 0) + 1
        if doomed:
            break  # read and dropped: the proxy's stale connection
        if path == "/reset":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            break
        if path in ("/len", "/head-len"):
            out = answer("200 OK", b"hello world\n")
            if method == "HEAD":
                out = out[:-12]
        elif path == "/103":
            out = (b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                   + answer("200 OK", b"ok"))
        elif path == "/100":
            out = b"HTTP/1.1 100 Continue\r\n\r\n" + answer("200 OK", b"ok")
        elif path == "/204":
            out = answer("204 No Content", length=False)
        elif path == "/304":
            out = answer("304 Not Modified", extra=b'ETag: "v1"\r\n', length=False)
        elif path == "/gzip":
            z = gzip.compress(b"compressed hello\n" * 50)
            n = len(z) // 3
            parts = [z[:n], z[n:2 * n], z[2 * n:]]
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
            out = answer("200 OK", chunks,
                         b"Transfer-Encoding: gzip, chunked\r\n", length=False)
        elif path == "/chunked":
            # as an HTTP/1.1 server may: a request without Host is 400
            if not re.search(rb"(?im)^host:", raw):
                out = answer("400 Bad Request", b"no host\n")
            else:
                out = answer("200 OK", b"6\r\nhello \r\n8\r\nchunked\n\r\n0\r\n\r\n",
                             b"Transfer-Encoding: chunked\r\n", length=False)
        elif path == "/close":
            s.sendall(b"HTTP/1.0 200 OK\r\nX-Upstream: %s\r\n\r\nuntil close\n" % NAME.encode())
            break
        elif path == "/echo":
            out = answer("200 OK", raw)
        elif path == "/split":
            out = answer("200 OK", b"split\n")
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                for piece in (out[:20], out[20:40]):
                    s.sendall(piece)
                    time.sleep(0.05)
            except OSError:
                break
            out = out[40:]
        elif path == "/slow":
            time.sleep(6)
            out = answer("200 OK", b"late\n")
        elif path == "/port":
            out = answer("200 OK", b"%d" % s.getpeername()[1])
        elif path == "/nap":
            time.sleep(0.2)
            out = answer("200 OK", b"rested\n")
        elif path == "/trickle":
            try:
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
                for _ in range(100):
                    time.sleep(0.3)
                    s.sendall(b"x")
            except OSError:
                pass
            break
        elif path == "/big":
            out = answer("200 OK", b"b" * (5 << 20))
        elif path == "/mib":
            n = int(target.split("n=")[1]) if "n=" in target else 1
            out = answer("200 OK", b"m" * (n << 20))
        elif path == "/doom":
            out = answer("200 OK", b"doomed\n")
            doomed = True
        elif path == "/stats":
            with LOCK:
                out = answer("200 OK", json.dumps({"hits": HITS, "conns": CONNS[0]}).encode())
        else:
            out = answer("404 Not Found", b"no\n")
        try:
            s.sendall(out)
        except OSError:
            break
    try:
        s.close()
    except OSError:
        pass


def upstream(port, name):
    global NAME
    NAME = name
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(128)
    while True:
        s, _ = ls.accept()
        with LOCK:
            CONNS[0] += 1
        threading.Thread(target=serve_conn, args=(s,), daemon=True).start()


# ------------------------------------------------------------------ client

class Resp:
    def __init__(self):
        self.status = None
        self.heads = []      # [(status, {name: value})], interim ones first
        self.body = b""
        self.closed = False  # the proxy closed after the answer
        self.error = None


def parse_heads(data):
    """Splits leading response heads (1xx and the final one) off data."""
    heads = []
    while True:
        i = data.find(b"\r\n\r\n")
        if i < 0:
            return heads, data, False
        lines = data[:i].decode("latin-1").split("\r\n")
        st = int(lines[0].split(" ")[1])
        hdrs = {}
        for l in lines[1:]:
            k, v = l.split(":", 1)
            k = k.strip().lower()
            hdrs[k] = hdrs[k] + ", " + v.strip() if k in hdrs else v.strip()
        heads.append((st, hdrs))
        data = data[i + 4:]
        if st >= 200:
            return heads, data, True


def dechunk(b):
    out = b""
    while True:
        i = b.find(b"\r\n")
        if i < 0:
            return None
        n = int(b[:i].split(b";")[0], 16)
        if n == 0:
            return out
        out += b[i + 2:i + 2 + n]
        b = b[i + 4 + n:]


def request(port, raw, wait=4.0, head=False, read=True):
    """Sends raw, reads one response (head, then a body framed as told)."""
    r = Resp()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(raw)
    end = time.time() + wait
    data = b""
    done_head = False
    while time.time() < end:
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(1 << 20)
        except socket.timeout:
            break
        except OSError as e:
            r.error = str(e)
            break
        if not d:
            r.closed = True
            break
        data += d
        if not done_head:
            heads, rest, done_head = parse_heads(data)
        if done_head:
            st, h = heads[-1]
            if head or st in (204, 304):
                break
            if "content-length" in h and len(rest) >= int(h["content-length"]):
                break
            if "chunked" in h.get("transfer-encoding", "") and rest.endswith(b"0\r\n\r\n"):
                break
    s.close()
    heads, rest, ok = parse_heads(data)
    r.heads = heads
    if ok:
        r.status = heads[-1][0]
        r.body = rest
    return r


def pipelined(port, raw, n, wait=4.0):
    """Statuses of the answers to n pipelined requests on one connection."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(raw)
    end, data = time.time() + wait, b""
    while time.time() < end and len(re.findall(rb"HTTP/1\.1 [2-5]\d\d", data)) < n:
        s.settimeout(max(0.05, end - time.time()))
        try:
            d = s.recv(65536)
        except (socket.timeout, OSError):
            break
        if not d:
            break
        data += d
    s.close()
    return [int(x) for x in re.findall(rb"HTTP/1\.1 ([2-5]\d\d)", data)]


def stats(up):
    r = request(up, b"GET /stats HTTP/1.1\r\nHost: u\r\nConnection: close\r\n\r\n")
    return json.loads(r.body)


def get(path, extra=b"", method=b"GET", body=b""):
    cl = b"Content-Length: %d\r\n" % len(body) if body or method == b"POST" else b""
    return (method + b" " + path + b" HTTP/1.1\r\nHost: test\r\n" + extra + cl
            + b"Connection: close\r\n\r\n" + body)


# Each case: (name, what is expected, function(proxy, upstream) -> (ok, seen)).
def c_long_cookie(p, u):
    cookie = b"s=" + b"j" * 2000
    r = request(p, get(b"/echo", b"Cookie: " + cookie + b"\r\n"))
    return r.status == 200 and cookie in r.body, "%s" % r.status


def c_long_url(p, u):
    url = b"/echo?q=" + b"u" * 1500
    r = request(p, get(url))
    return r.status == 200 and url in r.body, "%s" % r.status


def c_long_target(p, u):
    url = b"/echo?q=" + b"t" * 3000
    r = request(p, get(url))
    return r.status == 200 and url in r.body, "%s" % r.status


def c_target_too_long(p, u):
    r = request(p, get(b"/echo?q=" + b"t" * 9000))
    return r.status in (414, 431), "%s" % r.status


def c_head(p, u):
    r = request(p, get(b"/head-len", method=b"HEAD"), head=True)
    cl = r.heads[-1][1].get("content-length") if r.heads else None
    return r.status == 200 and cl == "12", "%s Content-Length %s" % (r.status, cl)


def then_get(p, first, want):
    """first, then a pipelined GET on the same client connection."""
    st = pipelined(p, b"GET " + first + b" HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /len HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 2)
    return st == [want, 200], " ".join(map(str, st))


def c_204_pipelined(p, u):
    return then_get(p, b"/204", 204)


def c_304(p, u):
    r = request(p, get(b"/304"))
    h = r.heads[-1][1] if r.heads else {}
    return (r.status == 304 and "content-length" not in h and h.get("etag") == '"v1"',
            "%s Content-Length %s" % (r.status, h.get("content-length")))


def c_304_pipelined(p, u):
    return then_get(p, b"/304", 304)


def c_103(p, u):
    r = request(p, get(b"/103"))
    st = [h[0] for h in r.heads]
    ok = r.status == 200 and r.body == b"ok" and st in ([103, 200], [200])
    # what the next request on a pooled upstream connection gets
    r2 = request(p, get(b"/len"))
    return ok and r2.body == b"hello world\n", " ".join(map(str, st)) + ", next %s" % r2.status


def c_split_head(p, u):
    r = request(p, get(b"/split"))
    # and what the next request on a pooled upstream connection gets
    r2 = request(p, get(b"/len"))
    return (r.status == 200 and r.body == b"split\n" and r2.body == b"hello world\n",
            "%s %r, next %s" % (r.status, r.body[:20], r2.status))


def c_100_upstream(p, u):
    r = request(p, get(b"/100"))
    return r.status == 200 and r.body == b"ok", " ".join(str(h[0]) for h in r.heads)


def c_gzip_chunked(p, u):
    r = request(p, get(b"/gzip"))
    h = r.heads[-1][1] if r.heads else {}
    te = h.get("transfer-encoding", "")
    body = dechunk(r.body) if "chunked" in te else r.body
    try:
        plain = gzip.decompress(body or b"")
    except Exception:
        plain = b""
    return "gzip" in te and plain == b"compressed hello\n" * 50, "TE '%s'" % te


def c_close_delimited(p, u):
    r = request(p, get(b"/close"))
    return r.status == 200 and r.body == b"until close\n", "%s %r" % (r.status, r.body[:20])


def c_http10_client(p, u):
    r = request(p, b"GET /chunked HTTP/1.0\r\n\r\n")
    h = r.heads[-1][1] if r.heads else {}
    return (r.status == 200 and r.body == b"hello chunked\n" and "transfer-encoding" not in h,
            "%s %r" % (r.status, r.body[:20]))


def c_xff_untrusted(p, u):
    r = request(p, get(b"/echo", b"X-Forwarded-For: 6.6.6.6\r\n"))
    xff = re.findall(rb"(?im)^x-forwarded-for:\s*(.*?)\r$", r.body)
    return xff == [b"127.0.0.1"], "%s" % b", ".join(xff).decode()


def c_hop_by_hop(p, u):
    r = request(p, get(b"/echo", b"Connection: X-Secret\r\nX-Secret: s\r\n"
                                 b"Proxy-Authorization: Basic eDp5\r\nKeep-Alive: 5\r\n"))
    leaked = [h for h in (b"x-secret", b"proxy-authorization", b"keep-alive")
              if re.search(rb"(?im)^" + h + rb":", r.body)]
    return r.status == 200 and not leaked, "leaked: " + (b" ".join(leaked).decode() or "none")


def c_keepalive_reuse(p, u):
    before = stats(u)["conns"]
    for _ in range(5):
        request(p, get(b"/len"))
    grew = stats(u)["conns"] - before - 1  # the stats request's own
    return grew <= 1, "%d new upstream connections for 5 requests" % grew


def c_idle_order(p, u):
    """The longest idle upstream connection first (upstream.c says why):
    with two or more idle, sequential requests never take the connection
    the last one was answered on."""
    naps = [threading.Thread(target=request, args=(p, get(b"/nap"))) for _ in range(2)]
    for t in naps:
        t.start()
    for t in naps:
        t.join()
    ports = [request(p, get(b"/port")).body.decode() for _ in range(6)]
    again = sum(a == b for a, b in zip(ports, ports[1:]))
    return again == 0, "upstream ports %s" % " ".join(ports)


def c_reset_post(p, u):
    before = stats(u)["hits"].get("/reset", 0)
    r = request(p, get(b"/reset", method=b"POST", body=b"pay=1"))
    n = stats(u)["hits"].get("/reset", 0) - before
    return r.status == 502 and n == 1, "%s, upstream saw it %d times" % (r.status, n)


def c_reset_get(p, u):
    r = request(p, get(b"/reset"))
    return r.status == 502, "%s" % r.status


def c_stale_get(p, u):
    request(p, get(b"/doom"))
    before = stats(u)["hits"].get("/len", 0)
    r = request(p, get(b"/len"))
    n = stats(u)["hits"].get("/len", 0) - before
    return r.status == 200, "%s after %d attempts" % (r.status, n)


def c_stale_post(p, u):
    request(p, get(b"/doom"))
    before = stats(u)["hits"].get("/echo", 0)
    r = request(p, get(b"/echo", method=b"POST", body=b"x"))
    n = stats(u)["hits"].get("/echo", 0) - before
    # 200 if the proxy saw the close before sending; otherwise never twice
    return n <= 1 and r.status in (200, 502), "%s, upstream saw it %d times" % (r.status, n)


def c_slow_504(p, u):
    r = request(p, get(b"/slow"), wait=10)
    return r.status == 504, "%s" % r.status


def c_trickle_504(p, u):
    t0 = time.time()
    r = request(p, get(b"/trickle"), wait=25)
    took = time.time() - t0
    # a bound on the whole exchange (4 s in the tests) cuts it well before
    # the 30 s the trickle lasts: a 504, or a 200 whose connection the
    # proxy closed short; a bound per read would pass it on for 30 s (the
    # 20 s here leave room for a loaded machine, and still tell them apart)
    cut = r.status in (502, 504) or (r.closed and len(r.body) < 100)
    return cut and took < 20, "%s after %.0f s%s" % (
        r.status, took, ", cut short" if r.closed and r.status == 200 else "")


def c_cap_502(p, u):
    r = request(p, get(b"/big"), wait=8)
    return r.status == 502, "%s" % r.status


CASES = [
    ("2,000-byte Cookie", "forwarded", c_long_cookie),
    ("1,500-byte URL", "forwarded", c_long_url),
    ("3,000-byte target", "forwarded", c_long_target),
    ("9,000-byte target", "414/431", c_target_too_long),
    ("HEAD", "upstream's Content-Length", c_head),
    ("204 then a pipelined GET", "204 200", c_204_pipelined),
    ("304", "no invented length", c_304),
    ("304 then a pipelined GET", "304 200", c_304_pipelined),
    ("103 then 200", "1xx passed or dropped, then 200", c_103),
    ("upstream 100 then 200", "200", c_100_upstream),
    ("a head in three pieces", "200, whole", c_split_head),
    ("Transfer-Encoding: gzip, chunked", "gzip kept", c_gzip_chunked),
    ("close-delimited HTTP/1.0", "body whole", c_close_delimited),
    ("HTTP/1.0 client, no Host; chunked answer", "200, decoded", c_http10_client),
    ("X-Forwarded-For: 6.6.6.6 from a client", "replaced by 127.0.0.1", c_xff_untrusted),
    ("Connection-named, Proxy-Authorization", "not forwarded", c_hop_by_hop),
    ("5 sequential GETs", "upstream connection reused", c_keepalive_reuse),
    ("sequential GETs take the longest idle connection", "no port twice in a row", c_idle_order),
    ("POST the upstream read, then reset", "502, not retried", c_reset_post),
    ("GET reset on a new connection", "502", c_reset_get),
    ("GET on a stale pooled connection", "retried: 200", c_stale_get),
    ("POST on a stale pooled connection", "never sent twice", c_stale_post),
    ("upstream silent past the timeout", "504", c_slow_504),
    ("upstream trickling past the timeout", "cut at the timeout", c_trickle_504),
    ("response above the cap", "502", c_cap_502),
]


def cases(proxy, up, only, label):
    failed = 0
    rows = []
    print("[==========] Running %d proxy cases against %s" % (len(CASES), label))
    for name, want, fn in CASES:
        if only and name not in only:
            continue
        try:
            ok, seen = fn(proxy, up)
        except Exception as e:  # a crash in a case is its failure
            ok, seen = False, "error: %s" % e
        rows.append((name, want, seen, ok))
        if ok:
            print("[       OK ] proxy: %s (%s)" % (name, seen))
        else:
            failed += 1
            print("[  FAILED  ] proxy: %s: expected %s, got %s" % (name, want, seen))
    print("[==========] %d test(s) run." % len(rows))
    with open(os.environ.get("PROXY_CASES_TABLE", "/dev/null"), "w") as f:
        json.dump(rows, f)
    return failed


def fetch(port, raw):
    """The whole answer to raw on a new connection (the server closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return data
        data += d


def helper(cmd, port, arg, extra):
    """One-line answers for the shell tests: `status` prints the status and
    the X-Upstream of GET arg; `xff` the X-Forwarded-For the upstream saw
    for a client that sent 6.6.6.6; `metric` a Prometheus sample (NAME_ms:
    a seconds gauge in milliseconds)."""
    if cmd == "metric":
        data = fetch(port, b"GET /metrics HTTP/1.1\r\nHost: m\r\n\r\n").decode()
        scale, name = (1000, arg[:-3]) if arg.endswith("_ms") else (1, arg)
        for l in data.splitlines():
            if l.startswith(name + " "):
                print(int(round(float(l.split()[1]) * scale)))
        return
    if cmd == "xff":
        data = fetch(port, get(b"/echo", b"X-Forwarded-For: 6.6.6.6\r\n"))
        print(", ".join(x.decode() for x in
                        re.findall(rb"(?im)^x-forwarded-for:\s*(.*?)\r$", data)))
        return
    try:
        data = fetch(port, get(arg.encode(), extra.encode() + b"\r\n" if extra else b""))
    except OSError as e:
        print("error", e.__class__.__name__)
        return
    head = data.split(b"\r\n\r\n")[0].decode("latin-1")
    up = [l.split(":", 1)[1].strip() for l in head.split("\r\n")
          if l.lower().startswith("x-upstream:")]
    print(head.split(" ")[1] if head else "none", up[0] if up else "-")


if __name__ == "__main__":
    if sys.argv[1] == "upstream":
        upstream(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "A")
    elif sys.argv[1] == "cases":
        only = None
        if "--only" in sys.argv:
            only = sys.argv[sys.argv.index("--only") + 1].split(",")
        label = os.environ.get("PROXY_LABEL", "the proxy")
        sys.exit(1 if cases(int(sys.argv[2]), int(sys.argv[3]), only, label) else 0)
    else:
        helper(sys.argv[1], int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "",
               sys.argv[4] if len(sys.argv) > 4 else "")
