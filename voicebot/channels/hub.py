"""The live side of the text channels: open conversations, who listens for pushed events, floods.

``ConversationHub`` keeps each open ``TextConversation`` in memory (its flow state), found by its
unguessable id or, for channels whose sender has an address (SMS, email, WeChat), by that
address; a conversation it does not hold (the server restarted) is resumed from its stored flow
state when its id comes back. Pushed events (a new message, a typing indicator, a status change) go to every queue
subscribed to the conversation (the chat WebSocket); a dropped socket loses nothing, since
everything said is stored and a reconnect replays it. ``RateLimiter`` counts a sender's messages
in a sliding window. Thread-safe.
"""
from __future__ import annotations

import queue
import secrets
import threading
import time
from collections import defaultdict, deque
from typing import Any, Callable

from voicebot.channels.base import ChannelParts, TextConversation

MAX_TRACKED = 10_000  # senders a RateLimiter remembers before it forgets the quiet ones
IDLE_S = 6 * 3600.0  # an open conversation idle this long is forgotten (its history stays)
POLITE_SLOW_DOWN = "You're sending messages faster than I can read them. Please wait a few seconds and try again."


class RateLimiter:
    """At most ``limit`` events per ``window_s`` seconds per key."""

    def __init__(self, limit: int = 8, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._seen: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit (not counted then)."""
        now = self.clock()
        with self._lock:
            seen = self._seen[key]
            while seen and now - seen[0] > self.window_s:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(now)
            if len(self._seen) > MAX_TRACKED:  # forget senders quiet for a whole window
                for stale in [k for k, v in self._seen.items() if now - v[-1] > self.window_s]:
                    del self._seen[stale]
            return True


class ConversationHub:
    """Open text conversations of one server (see the module docstring). ``parts_factory()``
    builds the ``ChannelParts`` on first use (models may still be loading at start-up)."""

    def __init__(self, parts_factory: Callable[[], ChannelParts], limiter: RateLimiter | None = None):
        self._parts_factory = parts_factory
        self._parts: ChannelParts | None = None
        self.limiter = limiter or RateLimiter()  # messages per sender (conversation, phone, address)
        self.session_limiter = RateLimiter(30, 60.0)  # new chats per client address
        self._open: dict[str, TextConversation] = {}
        self._by_address: dict[tuple[str, str], str] = {}
        self._listeners: dict[str, list[queue.Queue]] = defaultdict(list)
        self._lock = threading.RLock()
        # channel -> deliver(conversation, stored message): how an agent's reply reaches a customer
        # who is not on a socket (email, SMS); the web chat pushes it to its socket instead.
        self.deliverers: dict[str, Callable[[TextConversation, dict], None]] = {}

    @property
    def parts(self) -> ChannelParts:
        with self._lock:
            if self._parts is None:
                self._parts = self._parts_factory()
            return self._parts

    @property
    def db(self):
        return self.parts.db

    def start(self, channel: str, *, kind: str = "", address: str = "", phone: str = "", thread: dict | None = None,
              params: dict[str, Any] | None = None) -> tuple[TextConversation, list]:
        """Open a new conversation; it and the bot's first messages."""
        conversation = TextConversation(self.parts, channel, secrets.token_urlsafe(24), kind=kind, address=address,
                                        phone=phone, thread=thread)
        with self._lock:
            self._forget_idle()
            self._open[conversation.id] = conversation
            if address:
                self._by_address[(channel, address)] = conversation.id
        with conversation.lock:
            return conversation, conversation.start(params)

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for key, found in list(self._open.items()):
            if found.status == "closed" and now - found.touched > 60 or now - found.touched > IDLE_S:
                del self._open[key]
        for address, key in list(self._by_address.items()):
            if key not in self._open:
                del self._by_address[address]

    def get(self, conversation_id: str) -> TextConversation | None:
        """The open conversation; one this process does not hold (a restart) is resumed from storage."""
        with self._lock:
            found = self._open.get(conversation_id)
            if found is None and conversation_id:
                found = TextConversation.resume(self.parts, conversation_id)
                if found is not None:
                    self._open[conversation_id] = found
                    if found.address:
                        self._by_address.setdefault((found.channel, found.address), conversation_id)
            return found

    def for_address(self, channel: str, address: str) -> TextConversation | None:
        """The open (not closed) conversation of this sender on ``channel``, if any."""
        with self._lock:
            found = self._open.get(self._by_address.get((channel, address), ""))
        return found if found is not None and found.status != "closed" else None

    def waiting(self) -> list[TextConversation]:
        """Open conversations handed to a human."""
        with self._lock:
            return [c for c in self._open.values() if c.status == "agent"]

    def deliver(self, conversation: TextConversation, stored: dict) -> None:
        """Send an agent's reply over the conversation's own channel, when it has a way to."""
        deliver = self.deliverers.get(conversation.channel)
        if deliver is not None:
            deliver(conversation, stored)

    # ---- pushed events ---------------------------------------------------------------------------
    def subscribe(self, conversation_id: str) -> queue.Queue:
        events: queue.Queue = queue.Queue()
        with self._lock:
            self._listeners[conversation_id].append(events)
        return events

    def unsubscribe(self, conversation_id: str, events: queue.Queue) -> None:
        with self._lock:
            listeners = self._listeners.get(conversation_id, [])
            if events in listeners:
                listeners.remove(events)

    def publish(self, conversation_id: str, event: dict) -> None:
        with self._lock:
            listeners = list(self._listeners.get(conversation_id, []))
        for events in listeners:
            events.put(event)
