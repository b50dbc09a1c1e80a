# The meter's web page, polled from the main loop (net_tcp.Server):
#   GET /               the page (net_page.html, read from the filesystem in
#                       512-byte pieces: it is never held in the heap whole)
#   GET /api/readings   JSON (net_view.View.api_head + a StateBuild, read
#                       over several polls): the float registers of the last
#                       measured second, register 146, the configuration
# Read-only: any other method is answered 405, so nothing on the network
# changes the configuration or the calibration (docs/network.md). HTTP/1.0,
# one request a connection, closed after the answer; a request line that
# longer than REQ_MAX bytes is refused (414), headers over HEAD_MAX (431).
from micropython import const

from net_tcp import Server, try_recv, try_send
from net_view import StateBuild

REQ_MAX = const(512)  # the request line
HEAD_MAX = const(4096)  # the request line and headers
CHUNK = const(512)
_HEAD = "HTTP/1.0 %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"


class _HttpClient:
    def __init__(self, sock, now):
        self.sock = sock
        self.last = now
        self.req = b""  # the request line while it arrives, then the headers' last 3 bytes
        self.line = None  # the request line
        self.seen = 0  # request bytes read
        self.out = None  # memoryview of what is being sent
        self.file = None  # the page, while it streams
        self.build = None  # net_view.StateBuild of an /api/readings answer


class HttpServer(Server):
    MAX_CLIENTS = 4
    IDLE_MS = 10000

    def __init__(self, view, page_path, port=80, clock=None, host="0.0.0.0"):
        super().__init__(port, clock, host)
        self.view = view
        self.page_path = page_path
        self._chunk = bytearray(CHUNK)
        self.requests = 0

    def client(self, sock, now):
        return _HttpClient(sock, now)

    def serve(self, cl, now):
        b = cl.build
        if b is not None:  # /api/readings: its registers read over several polls
            if b.step():
                cl.build = None
                self._answer(cl, "200 OK", "application/json",
                             (self.view.api_head() + b.text() + "}").encode())
            return True
        if cl.out is not None:
            n = try_send(cl.sock, cl.out)
            if n:
                cl.last = now
            cl.out = cl.out[n:] if n < len(cl.out) else None
            if cl.out is None and cl.file is not None:
                k = cl.file.readinto(self._chunk)
                if k:
                    cl.out = memoryview(bytes(self._chunk[:k]))
                else:
                    cl.file.close()
                    cl.file = None
            return cl.out is not None
        data = try_recv(cl.sock, REQ_MAX)
        if data is None:
            return True
        if not data:
            return False
        cl.last = now
        cl.seen += len(data)
        req = cl.req + data
        if cl.line is None:
            i = req.find(b"\r\n")
            if i < 0:
                if len(req) >= REQ_MAX:
                    self._answer(cl, "414 URI Too Long", "text/plain", b"request line too long\n")
                else:
                    cl.req = req
                return True
            cl.line = req[:i]
            req = req[i:]
        if req.find(b"\r\n\r\n") < 0:
            # the headers are read (a browser sends ~1 KB of them) but not
            # kept: only their last 3 bytes, to find the blank line after them
            if cl.seen > HEAD_MAX:
                self._answer(cl, "431 Request Header Fields Too Large", "text/plain", b"headers too long\n")
            else:
                cl.req = req[-3:]
            return True
        self.requests += 1
        self._route(cl, cl.line)
        return True

    def _route(self, cl, line):
        parts = line.split()
        if len(parts) < 2:
            self._answer(cl, "400 Bad Request", "text/plain", b"bad request line\n")
            return
        method, path = parts[0], parts[1]
        if method != b"GET":
            self._answer(cl, "405 Method Not Allowed", "text/plain",
                         b"read-only: the configuration is changed on the display or by Modbus\n")
        elif path == b"/api/readings":
            cl.build = StateBuild(self.view)
        elif path in (b"/", b"/index.html"):
            try:
                cl.file = open(self.page_path, "rb")
            except OSError:
                self._answer(cl, "500 Internal Server Error", "text/plain", b"no page file\n")
                return
            self._answer(cl, "200 OK", "text/html; charset=utf-8", b"")
        else:
            self._answer(cl, "404 Not Found", "text/plain", b"not found\n")

    def _answer(self, cl, status, ctype, body):
        cl.req = b""
        cl.out = memoryview((_HEAD % (status, ctype)).encode() + body)
