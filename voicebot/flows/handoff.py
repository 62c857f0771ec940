"""The context a human agent receives with a transferred call."""
from __future__ import annotations

from typing import Any

from voicebot.flows.validate import BUILTIN_VARIABLES


def transfer_context(st, reason: str) -> dict[str, Any]:
    """Caller, topic intent, collected slots, emotion/frustration, recent transcript and a summary."""
    variables = st.variables
    return {
        "caller": variables.get("caller"),
        "intent": st.topic or variables.get("intent"),
        "slots": {k: v for k, v in variables.items() if k not in BUILTIN_VARIABLES},
        "node": st.asked_at or st.node,  # where the caller was when the transfer began
        "emotion": variables.get("emotion"),
        "frustration": variables.get("frustration"),
        "transcript": [f"{line['speaker']}: {line['text']}" for line in st.transcript[-10:]],
        "summary": _summary(st, reason),
    }


def _summary(st, reason: str) -> str:
    said = [line["text"] for line in st.transcript if line["speaker"] == "caller"]
    topic = st.topic or "unknown topic"
    last = f"; last said: \"{said[-1]}\"" if said else ""
    return f"Transferred ({reason}) about {topic}{last}."
