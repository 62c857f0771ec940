"""A text channel's conversation: the same ``Dialogue`` (flow, understanding, handoff) a call runs,
fed typed words, answered in messages, remembered in ``storage.conversations``.

``TextConversation`` is what every text channel (web chat, SMS, email, WeChat) drives: ``start()``
and ``hear(text)`` return ``OutMessage`` lists (``channels.render``), ``agent_says`` adds a human's
reply after a handoff. A channel module only translates its medium's input and output. What is
stored is redacted first (``Dialogue.private``: card numbers, phones, emails become ``[TYPE]``);
the customer's original words are never kept. A phone number the customer typed (web chat) links
the conversation to that number's history but is not trusted as theirs: only a number the
channel vouches for (SMS) personalises the conversation and brings the customer's profile into
the agent's context. After a handoff the bot is quiet: the customer's
messages are stored for the agent. A new channel is one small module around this class.

``ChannelParts`` is what a text conversation needs of the server: the current flow, its
understander, the data sources and lookup pool, the database (``from_pipeline`` shares a loaded
pipeline's; ``for_flow`` trains an understander for a flow file and needs no speech models).
Not thread-safe: the channel serialises a conversation's turns (``lock``).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Callable

from voicebot.actions import HangUp, Lookup, Say, Transfer
from voicebot.channels.render import OutMessage, choice_event, text_messages
from voicebot.errors import StorageError
from voicebot.events import Utterance
from voicebot.flows import schema as s
from voicebot.flows.state import FlowState
from voicebot.session.datasources import DataSources
from voicebot.session.dialogue import Dialogue
from voicebot.session.lookups import lookup_pool, run_lookup
from voicebot.storage import conversations as history
from voicebot.storage.customers import customer_by_phone
from voicebot.storage.db import Database

MAX_TEXT_CHARS = 1000  # a longer customer message is refused with a clear error
NOT_TOPICS = {None, "oos", "agent", "goodbye"}  # intents that say nothing about what the customer wanted


@dataclass
class ChannelParts:
    """The server parts text channels share (see the module docstring)."""

    flow: Callable[[], Any]
    understander: Callable[[Any], Any]
    sources: DataSources
    db: Database
    executor: Executor = field(default_factory=lookup_pool)

    @classmethod
    def from_pipeline(cls, pipeline) -> "ChannelParts":
        return cls(pipeline.current_flow, pipeline.understander, pipeline.data_sources, pipeline.db, pipeline.lookup_pool)

    @classmethod
    def for_flow(cls, path, db: Database) -> "ChannelParts":
        """Parts for the flow file at ``path`` over ``db``: built-in SQL sources, an understander
        trained on the flow's examples (once, on first use)."""
        from voicebot.flows.loader import load_flow

        flow = load_flow(path)
        trained: dict = {}
        lock = threading.Lock()

        def understander(f):
            with lock:
                if "model" not in trained:
                    from voicebot.nlu.understander import Understander

                    trained["model"] = Understander.from_examples(f.intents)
                return trained["model"]

        return cls(lambda: flow, understander, DataSources.for_flow(flow, db), db)


class TextConversation:
    """One customer's conversation on a text channel (see the module docstring)."""

    def __init__(self, parts: ChannelParts, channel: str, public_id: str, *, kind: str = "", address: str = "",
                 phone: str = "", thread: dict | None = None, stored: bool = False):
        self.parts, self.channel, self.id = parts, channel, public_id
        self.address = address  # the sender on its channel (phone, email, OpenID, login)
        self.phone = phone or (address if kind == "phone" else "")  # links the history to calls of that number
        verified = address if kind == "phone" else ""  # a number the carrier vouches for (SMS), not one typed in
        flow = parts.flow()
        self.dialogue = Dialogue(flow, parts.understander(flow), call_sid=f"{channel}-{public_id[:16]}",
                                 caller=verified, channel=channel, db=None)
        self.touched = time.monotonic()
        self.status = "bot"  # bot / agent / closed
        self.handoff = None
        self.last_id = 0  # the newest stored line's id
        self.lock = threading.RLock()
        customer = customer_by_phone(parts.db, verified) if verified else {}
        self.customer = {k: v for k, v in customer.items() if k != "found"} if customer.get("found") else {}
        if not stored:
            history.open_conversation(parts.db, public_id, channel, kind=kind, address=address, phone=self.phone,
                                      customer_id=customer.get("id"), thread=thread)

    @classmethod
    def resume(cls, parts: ChannelParts, public_id: str) -> "TextConversation | None":
        """The stored conversation ``public_id`` taken up where it was (after a restart, in another
        process); None when there is none, it is closed, or it never got going."""
        saved = history.saved_state(parts.db, public_id)
        if saved is None or saved["status"] == "closed" or not saved["flow_state"]:
            return None
        conversation = cls(parts, saved["channel"], public_id, kind=saved["kind"], address=saved["address"], stored=True)
        conversation.dialogue.state = FlowState.from_json(saved["flow_state"])
        conversation.status, conversation.last_id = saved["status"], saved["last_id"]
        return conversation

    # ---- turns ------------------------------------------------------------------------------------
    def start(self, params: dict[str, Any] | None = None) -> list[OutMessage]:
        """Enter the flow; the bot's first messages (stored)."""
        return self._reply(self.dialogue.start(params))

    def hear(self, text: str, details: dict[str, Any] | None = None) -> list[OutMessage]:
        """The customer wrote ``text``: stored (redacted); the bot's replies (none once a human has it)."""
        text = " ".join(str(text).split())[:MAX_TEXT_CHARS]
        self.touched = time.monotonic()
        if self.status != "bot":
            self.record("customer", self.dialogue.private(text), details)
            return []
        event = choice_event(self._menu(), text)
        if event is not None:  # a tapped quick reply: the option's key, exactly
            self.record("customer", self.dialogue.private(text), details)
            return self._reply(self.dialogue.step(event))
        understanding = self.dialogue.understand(text)
        self.dialogue.heard(text, understanding)  # the dialogue's own lines (the agent's context)
        self.record("customer", self.dialogue.private(text), {**(details or {}), "intent": understanding.intent})
        if understanding.intent not in NOT_TOPICS and understanding.confidence >= self.dialogue.flow.model.intent_threshold:
            self._save(history.update, self.id, topic=understanding.intent)
        return self._reply(self.dialogue.step(Utterance(text, 1.0, understanding)))

    def agent_says(self, text: str, agent: str = "agent") -> dict:
        """A human's reply after the handoff; the stored message."""
        return self.record("agent", " ".join(str(text).split())[:MAX_TEXT_CHARS], {"agent": agent})

    def close(self, reason: str = "closed") -> None:
        """The conversation is over (the customer left, the agent closed it)."""
        if self.status != "closed":
            self.dialogue.end(reason)
            self.status = "closed"
            self._save(history.update, self.id, status="closed")

    def record(self, speaker: str, text: str, details: dict[str, Any] | None = None) -> dict:
        """Store a line of this conversation; the stored message (or an unsaved one on a database error)."""
        try:
            stored = history.add_message(self.parts.db, self.id, speaker, text, details)
            self.last_id = stored["id"]
            return stored
        except StorageError:
            return {"id": None, "speaker": speaker, "text": text, "details": details or {}, "at": None}

    def messages(self, after: int = 0) -> list[dict]:
        return history.messages(self.parts.db, self.id, after)

    # ---- the bot's side ------------------------------------------------------------------------------
    def _reply(self, actions) -> list[OutMessage]:
        says: list[Say] = []
        while True:
            lookups = []
            for action in actions:
                if isinstance(action, Say):
                    says.append(action)
                    self.dialogue.said(action.text)
                elif isinstance(action, Lookup):
                    lookups.append(action)
                elif isinstance(action, Transfer):
                    self._hand_over(action)
                elif isinstance(action, HangUp):
                    self.dialogue.hang_up(action)
                    self.close("completed")
                # Listen: a text channel simply waits for the next message
            if not lookups:
                break
            actions = self.dialogue.step(run_lookup(self.parts.executor, self.parts.sources, lookups[-1]))
        out = text_messages(says, self._menu() if self.status == "bot" else None)
        for message in out:
            self.record("bot", self.dialogue.private(message.text), {"quick_replies": list(message.quick_replies),
                                                                          "links": list(message.links)})
        summary = self.dialogue.private(out[-1].text) if out and self.status == "bot" else None
        self._save(history.update, self.id, summary=summary, flow_state=self.dialogue.state.to_json())
        return out

    def _hand_over(self, transfer: Transfer) -> None:
        self.handoff = self.dialogue.handoff(transfer)
        self.status = "agent"
        context = dict(self.handoff.context, customer=self.customer)
        self._save(history.update, self.id, status="agent", handoff={"reason": self.handoff.reason, "context": context})

    def _menu(self) -> s.MenuNode | None:
        state = self.dialogue.state
        if state is None or state.ended or state.waiting != "input":
            return None
        node = self.dialogue.flow.nodes.get(state.node)
        return node if isinstance(node, s.MenuNode) else None

    def _save(self, write, *args, **kwargs) -> None:
        try:
            write(self.parts.db, *args, **kwargs)
        except StorageError:
            pass  # the conversation goes on; the line is missing from the history
