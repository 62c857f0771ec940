"""The flow language: pydantic models of a call-flow YAML file.

A flow is a set of named nodes (say, menu, ask, lookup, branch, set, transfer, survey, consent, hangup,
verify),
the intents the flow understands (with example phrases), global handlers (agent, silence,
no-match, frustration, goodbye), business hours and declared data sources. Unknown keys are
errors, so a typo never passes silently. ``flow_json_schema()`` publishes the JSON Schema for
editors. Cross-references (node names, intents, variables) are checked in ``validate.py``.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


WRITTEN = ("the wording text channels (chat, SMS, email, WeChat) show instead of the spoken text, e.g. without "
           "'press 1' or with a link; {variables} are filled in; default: the spoken text")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class SayNode(_Strict):
    """Speak ``text`` (``{variables}`` are filled in) or play a recorded ``prompt`` file, then go on."""

    type: Literal["say"]
    text: str = ""
    prompt: str | None = Field(None, description="recorded prompt file, relative to the flow file")
    style: str | None = Field(None, description="a voice style hint, e.g. calm")
    interruptible: bool = True
    written: str | None = Field(None, description=WRITTEN)
    next: str


SlotType = Literal["digits", "order_number", "date", "yesno", "amount", "text"]
ValueType = Literal["digits", "order_number", "date", "amount"]  # slot types whose value can sit inside a sentence


class MenuOption(_Strict):
    """One menu choice, picked by keypad ``key``, by the caller's ``intent``, by a spoken phrase or,
    when no option matched those, by a spoken value of type ``entity``."""

    key: str | None = Field(None, pattern=r"^[0-9*#]$", description="keypad key that picks this option")
    intent: str | None = Field(None, description="understood intent that picks this option")
    phrases: list[str] = Field([], description="spoken phrases that pick this option")
    entity: ValueType | None = Field(None, description="picks this option when the caller's words hold a value of this "
                                     "type (e.g. an order number) and no option's key, intent or phrase matched")
    goto: str


class MenuNode(_Strict):
    """Say ``prompt`` and wait for a keypad key or speech matching one of ``options``."""

    type: Literal["menu"]
    prompt: str
    reprompt: str | None = Field(None, description="said after silence or no match; default: prompt")
    timeout_s: float = Field(6.0, gt=0, le=60, description="silence before it counts as no input")
    options: list[MenuOption] = Field(min_length=1)
    written: str | None = Field(None, description=WRITTEN)


class AskNode(_Strict):
    """Say ``prompt``, collect one value of ``slot_type`` into ``slot``, validate, optionally confirm.

    With ``prefill`` a valid value in the spoken turn that led here is taken without asking."""

    type: Literal["ask"]
    prompt: str
    written: str | None = Field(None, description=WRITTEN)
    slot: str
    slot_type: SlotType = "text"
    reprompt: str | None = None
    timeout_s: float = Field(6.0, gt=0, le=60, description="silence before it counts as no input")
    grammar: Literal["auto", "open"] = Field("auto", description="auto: constrain speech by slot type "
                                               "(digits, yes/no); open: open speech (slower, better for unfamiliar voices)")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = Field(None, description="regular expression the whole value must match")
    confirm: str | None = Field(None, description="yes/no question, e.g. 'Order {order_number}, right?'")
    confirm_below: float | None = Field(None, gt=0, le=1, description="ask `confirm` only for a spoken value the recogniser "
                                        "is less sure of than this (keyed values are exact and never confirmed); "
                                        "default: confirm every value")
    keypad_prompt: str | None = Field(None, description="after a spoken answer fails (not a valid value, or 'no' to the "
                                      "confirmation), ask with this instead, e.g. 'Please key in your order number, then press pound.'")
    prefill: bool = Field(False, description="take a valid value from the caller's words that led here (e.g. 'where is "
                          "my order 4172') and skip the question; digits, order_number, date and amount slots only")
    retries: int | None = Field(None, ge=0, description="invalid answers tolerated; default: handlers.no_match.rephrase")
    sensitive: bool = Field(False, description="a payment or secret value (card number, PIN): the caller's answer, spoken or "
                            "keyed, is never stored or logged, and the slot never reaches the agent's context")
    next: str
    on_fail: str | None = Field(None, description="where to go when retries run out; default: handlers.no_match.goto")


class LookupNode(_Strict):
    """Ask the runner to query data ``source``; its answer is stored in ``save_as``.

    On failure or time-out ``save_as`` is set to null, ``error_text`` is said and the flow goes to
    ``on_error`` (default: ``next``).
    """

    type: Literal["lookup"]
    source: str
    params: dict[str, str] = {}
    save_as: str
    timeout_s: float = Field(5.0, gt=0, le=60)
    filler: str = "One moment while I look that up."
    error_text: str = "Sorry, I can't reach that information right now."
    next: str
    on_error: str | None = None


class BranchCase(_Strict):
    when: str = Field(description="condition, e.g. order.status == 'shipped' and open_now")
    goto: str


class BranchNode(_Strict):
    """Go to the first case whose condition holds, else to ``default``."""

    type: Literal["branch"]
    cases: list[BranchCase] = Field(min_length=1)
    default: str


class SetNode(_Strict):
    """Set variables to the value of expressions, e.g. ``tries: tries + 1``."""

    type: Literal["set"]
    values: dict[str, str | int | float | bool] = Field(min_length=1)
    next: str


class TransferNode(_Strict):
    """Hand the call to a human with ``reason`` and the conversation's context."""

    type: Literal["transfer"]
    text: str = "Let me connect you with an agent."
    written: str | None = Field(None, description=WRITTEN)
    reason: str
    destination: str | None = Field(None, description="default: transfer_destination of the flow")


class SurveyNode(_Strict):
    """Ask for a score from 1 to ``scale`` (keypad or speech), store it in ``slot``.

    The survey is optional: when silence or no-match reprompts run out, the flow goes to
    ``next`` with ``slot`` unset instead of escalating. With ``comment_prompt`` the caller is then
    invited to say a comment, stored in ``<slot>_comment``."""

    type: Literal["survey"]
    question: str
    slot: str = "satisfaction"
    scale: int = Field(5, ge=2, le=9)
    thanks: str = "Thank you for your feedback."
    comment_prompt: str | None = Field(None, description="after the score, invite an optional spoken comment, "
                                       "kept in <slot>_comment (keys, silence or a bare no skip it)")
    timeout_s: float = Field(6.0, gt=0, le=60, description="silence before it counts as no input")
    next: str


class ConsentNode(_Strict):
    """Announce recording and transcription and (``ask``) ask the caller's consent, yes or no.

    Sets the variable ``consent`` (true / false). A caller who declines is still served, but
    nothing of the call is recorded. With ``remember`` a caller who decided before (same
    number) is not asked again. No answer after the reprompts counts as a no."""

    type: Literal["consent"]
    text: str = Field(description="the announcement, or the question when ask is true")
    ask: bool = Field(True, description="ask yes/no; false: announce only, and going on counts as consent")
    remember: bool = Field(True, description="skip the question for a caller whose decision is remembered")
    declined_text: str = Field("", description="said after a no, e.g. 'Okay, this call will not be recorded.'")
    timeout_s: float = Field(6.0, gt=0, le=60, description="silence before it counts as no input")
    next: str
    on_decline: str | None = Field(None, description="where a caller who declined goes; default: next")


class VerifyNode(_Strict):
    """Check who the caller is before anything private is said: ask for ``factor`` (the answer is
    sensitive: never stored, logged or said back), have the runner compare it with the profile in
    variable ``customer`` (data source ``verify_identity``), allow ``attempts`` tries, then go to
    ``next`` (``save_as`` holds ``ok`` and what verification released, e.g. ``last_order``) or
    ``on_fail``. The loader expands it into ask / lookup / branch nodes (``flows.verify``)."""

    type: Literal["verify"]
    customer: str = Field("customer", pattern=r"^[A-Za-z_]\w*$", description="variable holding the caller's profile (with id)")
    factor: Literal["postcode", "date_of_birth", "last_order"]
    prompt: str
    reprompt: str | None = None
    retry_text: str = Field("Sorry, that doesn't match our records.", description="said before another try")
    slot_type: SlotType | None = Field(None, description="default: text for postcode, date for date_of_birth, "
                                       "order_number for last_order")
    attempts: int = Field(2, ge=1, le=5, description="answers the caller may give in this call")
    save_as: str = Field("verified", pattern=r"^[A-Za-z_]\w*$")
    timeout_s: float = Field(6.0, gt=0, le=60)
    next: str
    on_fail: str


class HangupNode(_Strict):
    """Say ``text`` and end the call."""

    type: Literal["hangup"]
    text: str = "Goodbye."
    written: str | None = Field(None, description=WRITTEN)
    reason: str = "completed"


Node = Annotated[
    Union[SayNode, MenuNode, AskNode, LookupNode, BranchNode, SetNode, TransferNode, SurveyNode, ConsentNode, HangupNode,
          VerifyNode],
    Field(discriminator="type"),
]


class IntentHandler(_Strict):
    """Jump to ``goto`` whenever the caller says one of ``intents`` or presses ``key``, anywhere."""

    intents: list[str] = []
    key: str | None = Field(None, pattern=r"^[0-9*#]$")
    goto: str


class SilenceHandler(_Strict):
    """After ``reprompts`` silent turns at one node, go to ``goto``."""

    reprompts: int = Field(2, ge=0)
    text: str = "Sorry, I didn't hear anything."
    goto: str


class NoMatchHandler(_Strict):
    """After ``rephrase`` misunderstood turns at one node, go to ``goto``."""

    rephrase: int = Field(1, ge=0)
    text: str = "Sorry, I didn't understand."
    goto: str


class FrustrationHandler(_Strict):
    """When the understanding layer's frustration reaches ``threshold``, go to ``goto``."""

    threshold: float = Field(0.7, gt=0, le=1)
    goto: str
    except_at: list[str] = Field([], description="listening nodes where an upset caller's answer still counts (e.g. "
                                 "the callback offer an upset caller is sent to outside business hours)")


class Handlers(_Strict):
    agent: IntentHandler | None = None
    goodbye: IntentHandler | None = None
    silence: SilenceHandler | None = None
    no_match: NoMatchHandler | None = None
    frustration: FrustrationHandler | None = None


class BusinessHours(_Strict):
    """Opening hours in the caller-facing local time the runner passes in ``local_time``."""

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = ["mon", "tue", "wed", "thu", "fri"]
    open: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    close: str = Field("17:00", pattern=r"^([01]\d|2[0-4]):[0-5]\d$")


class HttpSource(_Strict):
    """GET ``url`` (``{param}`` placeholders filled) and use the JSON object it returns."""

    type: Literal["http"]
    url: str
    timeout_s: float = Field(3.0, gt=0, le=60)


class PythonSource(_Strict):
    """A Python function registered with ``DataSources.register`` (or importable as ``module:function``)."""

    type: Literal["python"]
    function: str | None = Field(None, pattern=r"^[\w.]+:\w+$")


DataSource = Annotated[Union[HttpSource, PythonSource], Field(discriminator="type")]


class FlowModel(_Strict):
    """A whole call flow file."""

    name: str
    description: str = ""
    start: str
    transfer_destination: str = "agent"
    intent_threshold: float = Field(0.5, ge=0, le=1, description="below this confidence an intent does not count")
    business_hours: BusinessHours = BusinessHours()
    intents: dict[str, list[str]] = {}
    data_sources: dict[str, DataSource] = {}
    handlers: Handlers = Handlers()
    nodes: dict[str, Node] = Field(min_length=1)


def flow_json_schema() -> dict:
    """The JSON Schema of flow files, for editors (``voicebot flows schema``)."""
    schema = FlowModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "voicebot call flow"
    return schema
