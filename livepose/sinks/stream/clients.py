"""One connected WebSocket client: its bounded buffers, its sender task and its counters.

Each client has a buffer of at most ``capacity`` frames (each the messages of one frame: its
JSON, and its JPEG first when the client asked for pictures); when it is full the oldest frame
is dropped and counted for that client, so a client that stops reading costs the others and
the pipeline nothing.  Control replies (pong, status) have their own small buffer, sent first.
Used on the server's loop thread only.
"""

from __future__ import annotations

import asyncio
import collections

CONTROL_BUFFER = 8  # pending replies (pong, status) per client; the oldest goes first


class Client:
    """A client's buffers and counters (``sent``, ``dropped``, ``ignored``)."""

    def __init__(self, number: int, connection, buffer: int):
        self.number = number
        self.connection = connection
        self.frames: collections.deque = collections.deque()  # items: tuples of messages of one frame
        self.capacity = buffer
        self.control: collections.deque = collections.deque(maxlen=CONTROL_BUFFER)
        self.wake = asyncio.Event()
        self.want_jpeg = False
        self.last_frame: int | None = None
        self.sent = 0
        self.dropped = 0
        self.dropped_reported = 0
        self.status_at = 0.0
        self.ignored = 0
        self.sender: asyncio.Task | None = None
        # the server's watchdog: since when more than the write limit waits with nothing sent
        self.stall_since: float | None = None
        self.stall_sent = 0
        self.evicted = False

    def push_frame(self, item: tuple) -> bool:
        """Queue one frame's messages; drops the oldest frame when full.  True when one was dropped."""
        dropped = len(self.frames) >= self.capacity
        if dropped:
            self.frames.popleft()
            self.dropped += 1
        self.frames.append(item)
        self.wake.set()
        return dropped

    def push_control(self, data: bytes) -> None:
        self.control.append(data)
        self.wake.set()

    def next_messages(self) -> tuple | None:
        """What to send next: a control reply first, else the oldest frame's messages; None: nothing."""
        if self.control:
            return (self.control.popleft(),)
        if self.frames:
            return self.frames.popleft()
        return None


__all__ = ["CONTROL_BUFFER", "Client"]
