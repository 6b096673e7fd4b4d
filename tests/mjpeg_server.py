"""A tiny MJPEG-over-HTTP server on 127.0.0.1 for the live-source tests.  Not a test module.

``MJPEGServer(frames, per_connection=[4, 3])`` serves the first 4 frames to the first client
and then drops the connection, the next 3 to the second, and answers 404 afterwards (a stream
that drops, comes back once, then is gone).  ``endless=True`` repeats the frames to every client
until ``stop`` or ``max_seconds``.  Bounded: daemon threads, and it stops itself.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def moving_box_frames(count: int, size=(120, 160)) -> list[np.ndarray]:
    """RGB frames with one bright 'person' box moving right by 6 px per frame."""
    frames = []
    for k in range(count):
        frame = np.zeros((*size, 3), np.uint8)
        frame[20:100, 10 + 6 * k:40 + 6 * k] = 255
        frames.append(frame)
    return frames


class MJPEGServer:
    def __init__(self, frames, per_connection=None, endless: bool = False, interval: float = 0.02,
                 max_seconds: float = 60.0) -> None:
        import cv2

        self.jpegs = [cv2.imencode(".jpg", frame[:, :, ::-1])[1].tobytes() for frame in frames]
        self.schedule = list(per_connection or [len(frames)])
        self.endless, self.interval, self.max_seconds = endless, interval, max_seconds
        self.served = 0
        self.connections = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stream.mjpg"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server._lock:
                    count = None if server.endless else (server.schedule.pop(0) if server.schedule else 0)
                    server.connections += 1
                if count == 0:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                sent, started = 0, time.monotonic()
                while (count is None or sent < count) and not server._stop.is_set():
                    if time.monotonic() - started > server.max_seconds:
                        break
                    with server._lock:
                        jpeg = server.jpegs[server.served % len(server.jpegs)]
                        server.served += 1
                    try:
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(jpeg) + jpeg + b"\r\n")
                        self.wfile.flush()
                    except OSError:  # the client went away
                        return
                    sent += 1
                    time.sleep(server.interval)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def __enter__(self) -> "MJPEGServer":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
