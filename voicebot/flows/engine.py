"""The flow engine: ``step(flow, state, event) -> (state, actions)``, a pure function.

No I/O, no clock, no randomness: the time of day comes in ``CallStarted.params["local_time"]``
(ISO 8601, filled by the runner), data comes back as ``LookupCompleted``/``LookupFailed`` events
after a ``Lookup`` action. The input state is never modified; ``FlowState`` is plain data that
round-trips through JSON so a call can move between workers.

Each caller turn at a listening node (menu, ask, survey, consent) goes, in order, to: the agent
handler, the frustration handler, the node's own answers, the goodbye handler; what none of
them takes counts as a no-match. Silence and no-match are counted per node and reset when the call moves on.
A menu option or handler reached by speech passes that turn on: the first ``prefill`` ask node
entered in the same step takes its value from those words instead of asking.
A consent node sets ``consent`` (true/false) from a yes/no, or skips its question when the
runner passed the caller's remembered decision; no answer counts as a no. A sensitive ask
node's turns appear as ``[sensitive]`` and its slot never travels with a transfer.
"""
from __future__ import annotations

import copy

from voicebot.actions import Action, HangUp, Listen, Lookup, Say, Transfer
from voicebot.events import CallEnded, CallStarted, DtmfPressed, LookupCompleted, LookupFailed, NoInput, Utterance
from voicebot.flows import schema as s
from voicebot.flows.expressions import evaluate, render
from voicebot.flows.listen import listen_for
from voicebot.flows.state import TRANSCRIPT_LINES, FlowState
from voicebot.flows.slots import confirms as _confirms, extract, score, valid_value as _valid, value_in_words
from voicebot.flows.variables import SENSITIVE_TEXT, builtin_variables, flow_facts, is_sensitive_turn
from voicebot.vocabulary import yes_or_no

MAX_NODES_PER_STEP = 100  # a runaway loop becomes a transfer, never a hang
CALM_AT = 0.5  # frustration at which the bot speaks in a calm style


def step(flow, state: FlowState | None, event) -> tuple[FlowState, list[Action]]:
    """Apply one event to a call; return the new state and the actions to carry out, in order."""
    if state is None:
        if not isinstance(event, CallStarted):
            raise ValueError(f"the first event of a call must be CallStarted, not {type(event).__name__}")
        st = FlowState(variables=builtin_variables(flow.model, event))
        actions: list[Action] = []
        _goto(flow, st, flow.start, actions)
        return st, actions
    st = copy.deepcopy(state)
    actions = []
    if st.ended or isinstance(event, CallStarted):
        return st, actions
    if isinstance(event, CallEnded):
        st.ended, st.end_reason, st.waiting = True, event.reason, None
    elif st.node not in flow.nodes:  # the state came from another version of the flow
        _transfer(flow, st, actions, "flow_changed", "Let me connect you with someone who can help.", None)
    elif isinstance(event, (LookupCompleted, LookupFailed)):
        if st.waiting == "lookup" and event.lookup_id == st.lookup_id:
            _lookup_answered(flow, st, event, actions)
    elif st.waiting == "comment" and isinstance(event, (Utterance, DtmfPressed, NoInput)):
        _survey_comment(flow, st, event, actions)
    elif isinstance(event, NoInput) and st.waiting in ("input", "confirm"):
        _silence(flow, st, actions)
    elif isinstance(event, (Utterance, DtmfPressed)) and st.waiting in ("input", "confirm"):
        _caller_turn(flow, st, event, actions)
    return st, actions


# -- moving through nodes ---------------------------------------------------------------------

def _goto(flow, st: FlowState, name: str, actions: list[Action], turn: Utterance | None = None) -> None:
    """Enter node ``name`` and run nodes until one waits for the caller or a lookup, or the call ends.

    ``turn`` is the spoken caller turn that led here in this step, if any: the first ``prefill``
    ask node on the way takes a valid value from its words (a turn fills at most one slot)."""
    for _ in range(MAX_NODES_PER_STEP):
        st.node, st.waiting, st.silence_count, st.nomatch_count = name, None, 0, 0
        node = flow.nodes[name]
        if isinstance(node, s.SayNode):
            prompt = str(flow.base_dir / node.prompt) if node.prompt else None
            _say(st, actions, node.text, prompt_file=prompt, style=node.style, interruptible=node.interruptible,
                 written=node.written)
            name = node.next
        elif isinstance(node, s.SetNode):
            for key, expression in node.values.items():
                st.variables[key] = evaluate(expression, st.variables)
            name = node.next
        elif isinstance(node, s.BranchNode):
            name = next((c.goto for c in node.cases if evaluate(c.when, st.variables)), node.default)
        elif isinstance(node, s.LookupNode):
            st.lookup_seq += 1
            st.waiting, st.lookup_id = "lookup", f"{name}-{st.lookup_seq}"
            params = {k: render(v, st.variables) for k, v in node.params.items()}
            actions.append(Lookup(st.lookup_id, node.source, params, node.timeout_s, render(node.filler, st.variables)))
            return
        elif isinstance(node, s.AskNode) and node.prefill and turn is not None:
            turn_event, turn = turn, None
            value = value_in_words(node.slot_type, turn_event)
            if _valid(node, value):
                st.variables[node.slot] = value
                if _confirms(node, turn_event):
                    st.asked_at = name
                    _ask_confirmation(flow, st, node, actions)
                    return
                name = node.next
                continue
            _ask(flow, st, name, node, actions)
            return
        elif isinstance(node, s.ConsentNode) and (not node.ask or node.remember and st.variables["consent"] is not None):
            if not node.ask:  # an announcement: going on counts as consent
                _say(st, actions, node.text)
                st.variables["consent"] = True
            name = node.next if st.variables["consent"] else (node.on_decline or node.next)
        elif isinstance(node, (s.MenuNode, s.AskNode, s.SurveyNode, s.ConsentNode)):
            _ask(flow, st, name, node, actions)
            return
        elif isinstance(node, s.TransferNode):
            _transfer(flow, st, actions, node.reason, node.text, node.destination, node.written)
            return
        elif isinstance(node, s.HangupNode):
            _say(st, actions, node.text, written=node.written)
            actions.append(HangUp(node.reason))
            st.ended, st.end_reason = True, node.reason
            return
    _transfer(flow, st, actions, "flow_loop", "Let me connect you with someone who can help.", None)


def _ask(flow, st: FlowState, name: str, node, actions: list[Action]) -> None:
    """Say a listening node's question and wait for the caller."""
    _say(st, actions, _question(node), written=getattr(node, "written", None))
    st.waiting, st.asked_at = "input", name
    actions.append(listen_for(flow, node))


def _question(node) -> str:
    return node.question if isinstance(node, s.SurveyNode) else node.text if isinstance(node, s.ConsentNode) else node.prompt


def _ask_confirmation(flow, st: FlowState, node: s.AskNode, actions: list[Action]) -> None:
    """Say an ask node's yes/no ``confirm`` question and wait for the answer."""
    st.waiting = "confirm"
    _say(st, actions, node.confirm)
    actions.append(listen_for(flow, node, confirming=True))


def _say(st: FlowState, actions: list[Action], template: str, **kwargs) -> None:
    text = render(template, st.variables)
    if not text and not kwargs.get("prompt_file"):
        return
    kwargs["written"] = render(kwargs["written"], st.variables) if kwargs.get("written") else None  # text channels
    if kwargs.get("style") is None and _upset(st):
        kwargs["style"] = "calm"
    actions.append(Say(text, **kwargs))
    st.transcript = (st.transcript + [{"speaker": "bot", "text": text}])[-TRANSCRIPT_LINES:]


def _upset(st: FlowState) -> bool:
    return (st.variables.get("frustration") or 0.0) >= CALM_AT or st.variables.get("emotion") == "angry"


def _transfer(flow, st: FlowState, actions, reason: str, text: str, destination: str | None, written=None) -> None:
    _say(st, actions, text, written=written)
    facts = flow_facts(flow.model, st.variables, st.topic, st.asked_at or st.node)
    actions.append(Transfer(render(destination or flow.model.transfer_destination, st.variables), reason, facts))
    st.ended, st.end_reason, st.waiting = True, "transferred", None


# -- caller turns -----------------------------------------------------------------------------

def _caller_turn(flow, st: FlowState, event, actions: list[Action]) -> None:
    model, node = flow.model, flow.nodes[st.node]
    u = event.understanding if isinstance(event, Utterance) else None
    secret = is_sensitive_turn(model, st.node, st.waiting)
    said = SENSITIVE_TEXT if secret else event.text if isinstance(event, Utterance) else f"[keys {event.digits}]"
    st.transcript = (st.transcript + [{"speaker": "caller", "text": said}])[-TRANSCRIPT_LINES:]
    intent = None
    if u is not None:
        intent = u.intent if u.confidence >= model.intent_threshold else "oos"
        st.variables.update(intent=intent, confidence=u.confidence, emotion=u.emotion, frustration=u.frustration)
    if isinstance(event, Utterance):
        st.variables["text"] = "" if secret else event.text
    keys = event.digits.rstrip("#") if isinstance(event, DtmfPressed) else None

    handlers = model.handlers
    words = event if isinstance(event, Utterance) else None  # a spoken turn may prefill the next ask
    target = _handler_target(handlers.agent, keys, intent)
    if target is None and handlers.frustration and u is not None and u.frustration >= handlers.frustration.threshold \
            and st.node not in handlers.frustration.except_at:
        target = handlers.frustration.goto
    if target is None:  # the node's own answers come before "goodbye": "no, that's all" may be an option
        target = _node_answer(flow, st, node, event, intent, actions)
        if target == "":  # the node handled it and keeps waiting (e.g. a confirmation question)
            return
        if target is not None and not isinstance(node, s.MenuNode):
            words = None  # the words answered this node's question: they fill no other slot
    if target is None:
        target = _handler_target(handlers.goodbye, keys, intent)
    if target is None:
        _no_match(flow, st, actions, spoken=isinstance(event, Utterance), answer=getattr(event, "faq_answer", None))
    else:
        _goto(flow, st, target, actions, words)


def _handler_target(handler: s.IntentHandler | None, keys: str | None, intent: str | None) -> str | None:
    if handler is None:
        return None
    if (keys is not None and keys == handler.key) or (intent is not None and intent in handler.intents):
        return handler.goto
    return None


def _node_answer(flow, st: FlowState, node, event, intent: str | None, actions: list[Action]) -> str | None:
    """Next node for this turn, '' to keep waiting, None for a no-match."""
    if isinstance(node, s.MenuNode):
        keys = event.digits.rstrip("#") if isinstance(event, DtmfPressed) else None
        text = f" {event.text.lower()} " if isinstance(event, Utterance) else ""
        for option in node.options:
            if (keys and keys == option.key) or (intent and intent == option.intent) or \
                    any(f" {p.lower()} " in text for p in option.phrases):
                st.topic = option.intent or st.topic
                return option.goto
        for option in node.options:  # a value in the words ("4 1 7 2") only when nothing else matched
            if option.entity and value_in_words(option.entity, event) is not None:
                st.topic = option.intent or st.topic
                return option.goto
        return None
    if isinstance(node, s.ConsentNode):
        answer = extract("yesno", event) if isinstance(event, DtmfPressed) else _yes_no(event)
        return None if answer is None else _consent_given(st, node, answer, actions)
    if isinstance(node, s.SurveyNode):
        value = score(event, node.scale)
        if value is None:
            return None
        st.variables[node.slot] = value
        if node.comment_prompt:  # then an optional spoken comment (``_survey_comment``)
            _say(st, actions, node.comment_prompt)
            st.waiting = "comment"
            actions.append(Listen(grammar=None, max_digits=1, start_timeout_s=node.timeout_s, end_silence_s=1.0))
            return ""
        _say(st, actions, node.thanks)
        return node.next
    if st.waiting == "confirm":
        answer = extract("yesno", event) if isinstance(event, DtmfPressed) else _yes_no(event)
        if answer is None:
            return None
        if answer:
            return node.next
        st.waiting = "input"  # the value was misheard: ask again, by keypad when the node says how
        _say(st, actions, node.keypad_prompt or node.reprompt or node.prompt)
        actions.append(listen_for(flow, node))
        return ""
    value = extract(node.slot_type, event)
    if not _valid(node, value):
        return None
    st.variables[node.slot] = value
    if _confirms(node, event):
        _ask_confirmation(flow, st, node, actions)
        return ""
    return node.next


def _consent_given(st: FlowState, node: s.ConsentNode, granted: bool, actions: list[Action]) -> str:
    """Record the caller's decision; the node to go to."""
    st.variables["consent"] = granted
    if granted:
        return node.next
    _say(st, actions, node.declined_text)
    return node.on_decline or node.next


def _yes_no(event: Utterance) -> bool | None:
    value = extract("yesno", event)
    return value if value is not None else yes_or_no(event.text)


def _reprompt(flow, st: FlowState, node, apology: str, actions: list[Action], spoken: bool = False) -> None:
    if st.waiting == "confirm":
        _say(st, actions, f"{apology} {node.confirm}")
        actions.append(listen_for(flow, node, confirming=True))
        return
    again = _question(node) if isinstance(node, (s.SurveyNode, s.ConsentNode)) else (node.reprompt or node.prompt)
    if spoken and isinstance(node, s.AskNode) and node.keypad_prompt:  # speech failed: offer the keypad
        again = node.keypad_prompt
    _say(st, actions, f"{apology} {again}")
    actions.append(listen_for(flow, node))


def _no_match(flow, st: FlowState, actions: list[Action], spoken: bool = False, answer: str | None = None) -> None:
    node, handler = flow.nodes[st.node], flow.model.handlers.no_match
    if answer:  # the runner found an FAQ answer to these words: say it, ask the same question again
        _reprompt(flow, st, node, answer, actions)
        return
    limit = node.retries if isinstance(node, s.AskNode) and node.retries is not None else (handler.rephrase if handler else 1)
    st.nomatch_count += 1
    if st.nomatch_count > limit:
        target = getattr(node, "on_fail", None) or (handler.goto if handler else None)
        if isinstance(node, s.SurveyNode):  # a survey is optional: never escalate over it
            target = node.next
        if isinstance(node, s.ConsentNode):  # no clear answer is no consent; the caller is still served
            target = _consent_given(st, node, False, actions)
        if target:
            _goto(flow, st, target, actions)
        else:
            _transfer(flow, st, actions, "no_match", "Let me connect you with an agent.", None)
        return
    _reprompt(flow, st, node, handler.text if handler else "Sorry, I didn't understand.", actions, spoken)


def _survey_comment(flow, st: FlowState, event, actions: list[Action]) -> None:
    """The optional comment after a survey score, kept in ``<slot>_comment``; keys, silence or a bare "no" skip it."""
    node = flow.nodes[st.node]
    text = " ".join(event.text.split()) if isinstance(event, Utterance) else ""
    st.transcript = (st.transcript + [{"speaker": "caller", "text": text or "[no comment]"}])[-TRANSCRIPT_LINES:]
    if text and not (yes_or_no(text) is False and len(text.split()) <= 3):
        st.variables[f"{node.slot}_comment"] = text
    _say(st, actions, node.thanks)
    _goto(flow, st, node.next, actions)


def _silence(flow, st: FlowState, actions: list[Action]) -> None:
    node, handler = flow.nodes[st.node], flow.model.handlers.silence
    st.transcript = (st.transcript + [{"speaker": "caller", "text": "[silence]"}])[-TRANSCRIPT_LINES:]
    st.silence_count += 1
    if st.silence_count > (handler.reprompts if handler else 2):
        if isinstance(node, s.SurveyNode):  # a survey is optional: a silent caller just leaves
            _goto(flow, st, node.next, actions)
        elif isinstance(node, s.ConsentNode):  # silence is no consent; the caller is still served
            _goto(flow, st, _consent_given(st, node, False, actions), actions)
        elif handler:
            _goto(flow, st, handler.goto, actions)
        else:
            _transfer(flow, st, actions, "no_input", "Let me connect you with an agent.", None)
        return
    _reprompt(flow, st, node, handler.text if handler else "Sorry, I didn't hear anything.", actions)


def _lookup_answered(flow, st: FlowState, event, actions: list[Action]) -> None:
    node = flow.nodes[st.node]
    if isinstance(event, LookupCompleted):
        st.variables[node.save_as] = event.result
        _goto(flow, st, node.next, actions)
        return
    st.variables[node.save_as] = None
    line = {"speaker": "system", "text": f"lookup {node.source} failed: {event.reason}"}
    st.transcript = (st.transcript + [line])[-TRANSCRIPT_LINES:]
    _say(st, actions, node.error_text)
    _goto(flow, st, node.on_error or node.next, actions)
