"""The pure flow engine: state in, state and actions out; JSON state; handlers; lookups.

Events carry ``Understanding`` values built here directly: these tests are about the engine's
decisions for a given understanding; the real understanding layer is exercised by the
conversation tests (tests/test_flows_conversations.py)."""
import copy
import json
import textwrap
from pathlib import Path

import pytest

from voicebot.actions import HangUp, Listen, Lookup, Say, Transfer
from voicebot.errors import FlowError
from voicebot.events import CallEnded, CallStarted, DtmfPressed, LookupCompleted, LookupFailed, NoInput, Utterance
from voicebot.flows.engine import MAX_NODES_PER_STEP, FlowState, step
from voicebot.flows.loader import load_flow, load_flow_text
from voicebot.handoff.context import TranscriptLine, build_context
from voicebot.nlu.base import Entity, Understanding

DEMO = load_flow(Path(__file__).resolve().parent.parent / "flows" / "retail_demo.yaml")
TUESDAY_MORNING = {"local_time": "2026-11-24T10:00:00"}


def said(text, intent="oos", confidence=0.9, frustration=0.0, emotion="neutral", entities=()):
    return Utterance(text, understanding=Understanding(text=text, intent=intent, confidence=confidence,
                                                       frustration=frustration, emotion=emotion, entities=entities))


def texts(actions):
    return " | ".join(a.text for a in actions if isinstance(a, Say))


def start_demo(caller="+15550001111", customer=None, params=TUESDAY_MORNING):
    state, actions = step(DEMO, None, CallStarted("c1", caller, params=params))
    (lookup,) = actions
    assert isinstance(lookup, Lookup) and lookup.source == "customer_by_phone" and lookup.params == {"phone": caller}
    return step(DEMO, state, LookupCompleted(lookup.lookup_id, customer or {"found": False}))


def test_greeting_is_personalised_from_the_customer_lookup():
    _, actions = start_demo(customer={"found": True, "first_name": "Ana"})
    assert texts(actions).startswith("Hi Ana, welcome back")
    assert isinstance(actions[-1], Listen)
    _, actions = start_demo(customer={"found": False})
    assert texts(actions).startswith("Welcome to Acme.")


def test_step_never_modifies_its_input_state():
    state, _ = start_demo()
    frozen = copy.deepcopy(state)
    step(DEMO, state, DtmfPressed("1"))
    step(DEMO, state, NoInput())
    assert state == frozen


def test_state_round_trips_through_json_mid_call():
    state, _ = start_demo()
    state, _ = step(DEMO, state, said("where is my order", "order_status"))
    moved = FlowState.from_json(state.to_json())
    assert moved == state
    json.loads(state.to_json())  # plain JSON
    a = step(DEMO, state, DtmfPressed("4172#"))
    b = step(DEMO, moved, DtmfPressed("4172#"))
    assert a == b


def test_order_lookup_with_filler_and_result():
    state, _ = start_demo()
    state, actions = step(DEMO, state, DtmfPressed("1"))
    assert actions[-1] == Listen(grammar=None, max_digits=4, end_silence_s=1.0, complete_when="digits")
    state, actions = step(DEMO, state, said("it is four one seven two", entities=(Entity("digits", "4172", "four one seven two"),)))
    (lookup,) = actions
    assert lookup.source == "order_by_number" and lookup.params == {"number": "4172"}
    assert lookup.filler == "One moment while I find that order."
    state, actions = step(DEMO, state, LookupCompleted(lookup.lookup_id, {"found": True, "status": "shipped", "eta": "Thursday"}))
    assert "Order 4 1 7 2 has shipped and arrives Thursday." in texts(actions)


def test_failed_lookup_apologises_and_falls_back():
    state, _ = start_demo()
    state, _ = step(DEMO, state, DtmfPressed("1"))
    state, (lookup,) = step(DEMO, state, DtmfPressed("4172#"))
    state, actions = step(DEMO, state, LookupFailed(lookup.lookup_id, "timed out"))
    assert "Sorry, I can't reach that information right now." in texts(actions)
    assert state.node == "anything_else" and not state.ended
    assert state.variables["order"] is None
    assert any("timed out" in line["text"] for line in state.transcript if line["speaker"] == "system")


def test_stale_lookup_answers_and_events_after_the_end_are_ignored():
    state, _ = start_demo()
    same, actions = step(DEMO, state, LookupCompleted("identify-1", {"found": True}))
    assert actions == [] and same == state
    state, actions = step(DEMO, state, CallEnded("hangup"))
    assert state.ended and state.end_reason == "hangup" and actions == []
    assert step(DEMO, state, DtmfPressed("1"))[1] == []


def test_business_hours_come_from_the_event_not_the_clock():
    open_state, _ = start_demo(params={"local_time": "2026-11-24T17:59:00"})
    assert open_state.variables["open_now"] is True and open_state.variables["weekday"] == "tue"
    _, actions = step(DEMO, open_state, DtmfPressed("4"))
    assert "We're open now" in texts(actions)
    closed_state, _ = start_demo(params={"local_time": "2026-11-24T18:00:00"})
    _, actions = step(DEMO, closed_state, DtmfPressed("4"))
    assert "We're closed right now" in texts(actions)
    unknown_state, _ = start_demo(params={})
    assert unknown_state.variables["open_now"] is None


def test_silence_reprompts_then_falls_back():
    state, _ = start_demo()
    for _ in range(2):
        state, actions = step(DEMO, state, NoInput())
        assert "didn't hear you" in texts(actions) and isinstance(actions[-1], Listen)
    state, actions = step(DEMO, state, NoInput())
    assert isinstance(actions[-1], Transfer) and actions[-1].reason == "no_input" and state.ended


def test_no_match_rephrases_then_escalates():
    state, _ = start_demo()
    state, actions = step(DEMO, state, said("purple bananas"))
    assert "didn't get that" in texts(actions) and "Press 1" in texts(actions)  # the rephrased prompt
    state, actions = step(DEMO, state, said("more nonsense"))
    assert actions[-1].reason == "no_match"


def test_frustration_escalates_with_a_calm_voice_and_context():
    state, _ = start_demo(customer={"found": True, "first_name": "Ben"})
    state, _ = step(DEMO, state, said("where is my order", "order_status"))
    state, actions = step(DEMO, state, said("this is useless!", frustration=0.9, emotion="angry"))
    transfer = actions[-1]
    assert isinstance(transfer, Transfer) and transfer.reason == "caller_frustrated"
    assert all(a.style == "calm" for a in actions if isinstance(a, Say))
    ctx = transfer.context
    assert ctx["intent"] == "order_status" and ctx["frustration"] == 0.9 and ctx["emotion"] == "angry"
    assert ctx["node"] == "ask_order" and ctx["caller"] == "+15550001111"
    assert ctx["slots"]["customer"]["first_name"] == "Ben"
    assert "transcript" not in ctx  # the conversation's own lines are added by the one context builder
    lines = [TranscriptLine(line["speaker"], line["text"]) for line in state.transcript]
    agent = build_context(transfer, call_sid="CA1", transcript=lines)
    assert "caller: this is useless!" in agent["transcript_summary"] and "order_status" in agent["summary"]
    assert agent["slots"]["customer"]["first_name"] == "Ben" and agent["frustration"] == 0.9


def test_agent_anywhere_by_key_or_intent():
    state, _ = start_demo()
    state, _ = step(DEMO, state, DtmfPressed("1"))
    _, actions = step(DEMO, state, DtmfPressed("0"))
    assert actions[-1].reason == "agent_requested"
    _, actions = step(DEMO, state, said("get me a human", "agent"))
    assert actions[-1].reason == "agent_requested"
    _, actions = step(DEMO, state, said("get me a human", "agent", confidence=0.2))  # too unsure: no jump
    assert not any(isinstance(a, Transfer) for a in actions)


def test_survey_stores_the_score_and_hangs_up():
    state, _ = start_demo()
    state, _ = step(DEMO, state, DtmfPressed("3"))
    state, actions = step(DEMO, state, DtmfPressed("2"))
    assert "how did I do" in texts(actions)
    state, actions = step(DEMO, state, DtmfPressed("7"))  # out of scale: asked again
    assert "didn't get that" in texts(actions)
    state, actions = step(DEMO, state, said("five", entities=(Entity("digits", "5", "five"),)))
    assert state.variables["satisfaction"] == 5 and isinstance(actions[-1], HangUp) and state.ended


CONFIRM_FLOW = textwrap.dedent("""\
    name: confirm
    start: ask
    nodes:
      ask:
        type: ask
        prompt: Your account number?
        slot: account
        slot_type: digits
        min_length: 4
        confirm: Account {account|digits}, right?
        next: done
      done:
        type: hangup
        text: Thanks, {account}.
""")


def test_ask_validates_confirms_and_reasks():
    flow = load_flow_text(CONFIRM_FLOW)
    state, actions = step(flow, None, CallStarted("c2"))
    assert actions[-1].grammar == "digits"
    state, actions = step(flow, state, DtmfPressed("12#"))  # too short
    assert "didn't understand" in texts(actions).lower()
    state, actions = step(flow, state, said("one two three four"))
    assert texts(actions) == "Account 1 2 3 4, right?" and actions[-1].grammar == "yesno"
    state, actions = step(flow, state, said("no", entities=(Entity("yesno", False, "no"),)))
    assert texts(actions) == "Your account number?"
    state, _ = step(flow, state, DtmfPressed("5678#"))
    state, actions = step(flow, state, DtmfPressed("1"))  # 1 = yes
    assert texts(actions) == "Thanks, 5678." and state.ended


CONFIRM_BELOW_FLOW = CONFIRM_FLOW.replace("    confirm: Account {account|digits}, right?\n", """\
    confirm: Account {account|digits}, right?
    confirm_below: 0.85
    keypad_prompt: Please key in your account number, then press pound.
""")


def _heard(text: str, confidence: float) -> Utterance:
    u = said(text)
    return Utterance(text, confidence, u.understanding)


def test_only_an_unsure_spoken_value_is_confirmed_and_a_no_falls_back_to_the_keypad():
    flow = load_flow_text(CONFIRM_BELOW_FLOW)
    state, _ = step(flow, None, CallStarted("c3"))
    _, actions = step(flow, state, _heard("one two three four", 0.93))  # the recogniser is sure: no question
    assert texts(actions) == "Thanks, 1234."
    _, actions = step(flow, state, DtmfPressed("1234#"))  # keys are exact: never confirmed
    assert texts(actions) == "Thanks, 1234."
    state, actions = step(flow, state, _heard("five zero nine two", 0.81))  # unsure: confirmed
    assert texts(actions) == "Account 5 0 9 2, right?"
    state, actions = step(flow, state, said("no", entities=(Entity("yesno", False, "no"),)))
    assert texts(actions) == "Please key in your account number, then press pound."  # misheard: keys next
    state, actions = step(flow, state, DtmfPressed("5093#"))
    assert texts(actions) == "Thanks, 5093." and state.ended


def test_a_spoken_answer_that_fails_is_asked_again_by_keypad_and_a_keyed_one_as_before():
    flow = load_flow_text(CONFIRM_BELOW_FLOW)
    state, _ = step(flow, None, CallStarted("c4"))
    _, actions = step(flow, state, _heard("one two", 0.9))  # too short, said: the keypad is offered
    assert texts(actions).endswith("Please key in your account number, then press pound.")
    _, actions = step(flow, state, DtmfPressed("12#"))  # too short, keyed: the usual reprompt
    assert texts(actions).endswith("Your account number?")


@pytest.mark.parametrize("extra, problem", [
    ("    confirm_below: 0.8\n", "has confirm_below but no confirm question"),
    ("    keypad_prompt: Key it in.\n    slot_type: text\n", "a text slot cannot be keyed in"),
])
def test_confirmation_settings_are_validated(extra, problem):
    flow_text = CONFIRM_FLOW.replace("    confirm: Account {account|digits}, right?\n", "")
    if "slot_type: text" in extra:
        flow_text = flow_text.replace("    slot_type: digits\n", "")
    flow_text = flow_text.replace("    next: done\n", extra + "    next: done\n", 1)
    with pytest.raises(FlowError) as error:
        load_flow_text(flow_text)
    assert any(problem in str(p) for p in error.value.problems), error.value.problems


def test_a_runaway_loop_becomes_a_transfer_not_a_hang():
    flow = load_flow_text(textwrap.dedent("""\
        name: runaway
        start: count
        nodes:
          count:
            type: set
            values: {n: 1}
            next: check
          check:
            type: branch
            cases:
              - {when: n > 0, goto: again}
            default: done
          again:
            type: set
            values: {n: n + 1}
            next: check
          done:
            type: hangup
    """))
    state, actions = step(flow, None, CallStarted("c3"))
    assert isinstance(actions[-1], Transfer) and actions[-1].reason == "flow_loop" and state.ended
    assert state.variables["n"] <= MAX_NODES_PER_STEP


def test_slot_values_from_entities_are_plain_json():
    flow = load_flow_text(textwrap.dedent("""\
        name: slots
        start: amount
        nodes:
          amount: {type: ask, prompt: How much?, slot: amount, slot_type: amount, next: day}
          day: {type: ask, prompt: Which day?, slot: day, slot_type: date, next: done}
          done: {type: hangup, text: "{amount} on {day}"}
    """))
    state, _ = step(flow, None, CallStarted("c4"))
    money = Entity("money", {"amount": 20.0, "currency": "USD"}, "twenty dollars")
    state, _ = step(flow, state, said("twenty dollars", entities=(money,)))
    state, actions = step(flow, state, said("next tuesday", entities=(Entity("date", "2026-12-01", "next tuesday"),)))
    assert texts(actions) == "20.0 on 2026-12-01"
    assert FlowState.from_json(state.to_json()).variables["amount"] == 20.0


def test_recorded_prompt_files_are_played_from_the_flow_folder(tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "legal.wav").write_bytes(b"RIFF")  # existence is all the loader checks
    (tmp_path / "flow.yaml").write_text(textwrap.dedent("""\
        name: recorded
        start: notice
        nodes:
          notice: {type: say, prompt: prompts/legal.wav, text: This call may be recorded., interruptible: false, next: bye}
          bye: {type: hangup}
    """))
    flow = load_flow(tmp_path / "flow.yaml")
    _, actions = step(flow, None, CallStarted("c5"))
    assert actions[0] == Say("This call may be recorded.", prompt_file=str(tmp_path / "prompts" / "legal.wav"), interruptible=False)


def test_state_from_another_flow_version_is_handed_to_an_agent():
    state, _ = start_demo()
    state = FlowState.from_json(state.to_json().replace('"main_menu"', '"renamed_menu"'))
    state, actions = step(DEMO, state, DtmfPressed("1"))
    assert actions[-1].reason == "flow_changed" and state.ended


# -- saying the order number at the menu: menu option `entity`, ask `prefill` --------------------

def test_an_order_number_alone_at_the_menu_picks_order_status_and_fills_the_slot():
    state, _ = start_demo()
    state, actions = step(DEMO, state, said("four one seven two"))  # no intent understood: the entity picks
    (lookup,) = actions  # no question asked
    assert lookup.source == "order_by_number" and lookup.params == {"number": "4172"}
    assert state.variables["order_number"] == "4172" and state.topic == "order_status"


def test_intent_with_the_number_skips_the_question():
    state, _ = start_demo()
    state, actions = step(DEMO, state, said("where is my order 4172", "order_status"))
    assert "order number" not in texts(actions).lower()
    assert [a.params for a in actions if isinstance(a, Lookup)] == [{"number": "4172"}]


def test_a_key_never_picks_by_entity_nor_prefills():
    state, _ = start_demo()
    _, actions = step(DEMO, state, DtmfPressed("4172#"))  # not a menu key: keys are no order numbers here
    assert "didn't get that" in texts(actions)
    state, actions = step(DEMO, state, DtmfPressed("1"))
    assert texts(actions) == "Please say or key in your order number." and state.node == "ask_order"
    assert state.variables.get("order_number") is None


def test_intents_and_phrases_of_any_option_come_before_an_entity():
    state, _ = start_demo()
    state, actions = step(DEMO, state, said("returns for order 4172", "returns"))  # holds digits, but says returns
    assert "within 30 days" in texts(actions)
    assert state.variables.get("order_number") is None


def test_the_answer_to_an_ask_fills_no_second_prefill_ask():
    flow = load_flow_text(textwrap.dedent("""\
        name: two_numbers
        start: account
        nodes:
          account: {type: ask, prompt: Account?, slot: account, slot_type: digits, next: pin}
          pin: {type: ask, prompt: PIN?, slot: pin, slot_type: digits, prefill: true, next: done}
          done: {type: hangup, text: "{account} {pin}"}
    """))
    state, _ = step(flow, None, CallStarted("c6"))
    state, actions = step(flow, state, said("one two three four"))
    assert texts(actions) == "PIN?" and state.variables.get("pin") is None


PREFILL_FLOW = textwrap.dedent("""\
    name: prefill
    start: menu
    intents:
      pay: [pay my bill]
    nodes:
      menu:
        type: menu
        prompt: How can I help?
        options:
          - {key: "1", intent: pay, entity: digits, goto: account}
      account:
        type: ask
        prompt: Your account number?
        slot: account
        slot_type: digits
        min_length: 3
        prefill: true
        confirm: Account {account|digits}, right?
        next: done
      done:
        type: hangup
        text: Thanks, {account}.
""")


def test_prefill_with_confirm_asks_the_confirmation_instead_of_the_question():
    flow = load_flow_text(PREFILL_FLOW)
    state, _ = step(flow, None, CallStarted("c7"))
    state, actions = step(flow, state, said("pay my bill for account 5 6 7 8", "pay"))
    assert texts(actions) == "Account 5 6 7 8, right?" and actions[-1].grammar == "yesno"
    assert state.waiting == "confirm" and state.node == "account"
    state, actions = step(flow, state, said("no", entities=(Entity("yesno", False, "no"),)))
    assert texts(actions) == "Your account number?"  # "no": the question after all
    state, _ = step(flow, state, DtmfPressed("1234#"))
    state, actions = step(flow, state, DtmfPressed("1"))
    assert texts(actions) == "Thanks, 1234." and state.ended


def test_an_invalid_prefill_value_asks_the_question_normally():
    flow = load_flow_text(PREFILL_FLOW)
    state, _ = step(flow, None, CallStarted("c8"))
    state, actions = step(flow, state, said("pay my bill, account 4 2", "pay"))  # 2 digits < min_length 3
    assert texts(actions) == "Your account number?" and state.waiting == "input"
    assert state.variables.get("account") is None
    _, actions = step(flow, state, said("nine eight seven"))  # the real answer is still taken
    assert texts(actions) == "Account 9 8 7, right?"


def test_prefill_on_a_yes_no_slot_is_a_validation_error_with_its_line():
    with pytest.raises(FlowError) as info:
        load_flow_text(textwrap.dedent("""\
            name: bad_prefill
            start: agree
            nodes:
              agree:
                type: ask
                prompt: Shall we?
                slot: agreed
                slot_type: yesno
                prefill: true
                next: done
              done: {type: hangup}
        """), path="bad.yaml")
    (problem,) = info.value.problems
    assert problem.file == "bad.yaml" and problem.line == 9
    assert "prefill" in problem.message and "yesno" in problem.message


def test_a_date_entity_needs_a_recognised_date_not_just_any_words():
    flow = load_flow_text(textwrap.dedent("""\
        name: dates
        start: menu
        nodes:
          menu:
            type: menu
            prompt: Which day, or press 1?
            options:
              - {key: "1", entity: date, goto: day}
          day: {type: ask, prompt: Which day?, slot: day, slot_type: date, prefill: true, next: done}
          done: {type: hangup, text: "Booked {day}."}
    """))
    state, _ = step(flow, None, CallStarted("c9"))
    _, actions = step(flow, state, said("purple bananas"))
    assert "didn't understand" in texts(actions)
    _, actions = step(flow, state, said("next tuesday", entities=(Entity("date", "2026-12-01", "next tuesday"),)))
    assert texts(actions) == "Booked 2026-12-01."
