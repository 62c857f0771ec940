"""Handing a call to a human: the context the agent sees, and when to escalate."""
