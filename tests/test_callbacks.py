"""The callback codec: every feature's button data, typed, strict, and readable from before."""

from __future__ import annotations

import dataclasses
import typing
from enum import StrEnum
from typing import Any

import pytest

from bot.callbacks import LIMIT, CallbackError, Pick, Press
from bot.inputs import strict_int
from bot.services.call_buttons import CallAction, CallPress, CallReply
from bot.services.circle_decision_buttons import DecisionPress
from bot.services.circles import CirclePress
from bot.services.consultation_buttons import ConsultPress
from bot.services.conversations import FlowPress
from bot.services.initiatives import InitiativePress, ModerationAction, ModerationPress
from bot.services.member_invites import InvitePress
from bot.services.members import OnboardingAction, OnboardingPress, ProfilePress, Step
from bot.services.pairs import CheckinReply, PairAction, PairPress
from bot.services.privacy import PrivacyPress
from bot.services.report_base import ReportPress
from handlers import circles, initiatives, moderation, pairs, profile
from handlers.menu import MenuPress
from storage.calls import CallRepository
from tests.conftest import COORDINATOR_ID
from tests.helpers import onboard
from tests.test_calls import FAST, draft_call, start_coordinator

MODELS: list[type[Press]] = [
    CallPress,
    CirclePress,
    ConsultPress,
    DecisionPress,
    FlowPress,
    InitiativePress,
    InvitePress,
    MenuPress,
    ModerationPress,
    OnboardingPress,
    PairPress,
    PrivacyPress,
    ProfilePress,
    ReportPress,
]


def _sample(name: str, kind: Any) -> object:
    """A value of a field's type that is not its default, as large as real data gets."""
    kinds = typing.get_args(kind) or (kind,)
    if int in kinds:  # ids above any Telegram id; positions, pages and counts in the hundreds
        return 4_503_599_627_370_495 if name.endswith("_id") else 999
    if str in kinds:
        return "r-abc123"
    if bool in kinds:
        return True
    enum = kinds[0]
    assert issubclass(enum, StrEnum)
    return list(enum)[-1]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_action_packs_within_the_limit_and_parses_back(model: type[Press]) -> None:
    hints = typing.get_type_hints(model)
    for action in hints["action"]:
        names = [w.rstrip("?") for w in model.LAYOUT.get(action, "").split()]
        fields = {name: _sample(name, hints[name]) for name in names}
        press = model(action=action, **fields)  # type: ignore[call-arg]
        data = press.pack()
        assert len(data.encode()) <= LIMIT
        assert model.parse(data) == press
        assert model.matches(data)


def test_data_over_64_bytes_or_not_carried_is_refused_when_packing() -> None:
    with pytest.raises(CallbackError):
        OnboardingPress(OnboardingAction.ACCEPT, start="é" * 30).pack()  # 60 bytes of payload
    with pytest.raises(CallbackError):
        PairPress(PairAction.WRITE, pair_id=3).pack()  # "write" carries no pair
    with pytest.raises(CallbackError):
        PairPress(PairAction.CARD, pair_id=-1).pack()
    with pytest.raises(CallbackError):
        OnboardingPress(OnboardingAction.ACCEPT, start="a:b").pack()


def test_numbers_are_plain_ascii_digits_within_bounds() -> None:
    assert strict_int("42") == 42
    assert strict_int("0") == 0
    for text in ("²", "١٢", "+4", "-4", " 4", "4 ", "4_000", "", "9" * 25, "0x1"):
        assert strict_int(text) is None, text
    assert strict_int("51", 1, 50) is None
    assert PairPress.parse("pair:1:c:12") == PairPress(PairAction.CARD, pair_id=12)
    for data in (
        "pair:1:c:" + "9" * 25,
        "pair:1:c:²",
        "pair:1:c:-1",
        "pair:1:c:",
        "pair:1:c",
        "pair:1:c:1:2",
        "pair:2:c:1",
        "pair:1:zz:1",
        "call:1:c:1",
        "pair:1:a:1:z",
        None,
        "",
    ):
        assert PairPress.parse(data) is None, data


def test_buttons_delivered_before_the_codec_still_parse() -> None:
    """The five packers of before (handlers.common.cb, calls.call_cb, initiatives.data,
    pairs.cb and the moderation regex) all wrote `<feature>:1:<action>[:<arg>...]`."""
    yes = CallPress.parse("call:1:a:12:y")
    assert yes == CallPress(CallAction.ANSWER, call_id=12, reply=CallReply.YES)
    toggle = CallPress.parse("call:1:tg:territories:all")
    assert toggle is not None and toggle.step == "territories"
    opened = InitiativePress.parse("ini:1:op:5")  # from /mesinitiatives, no list position
    assert opened is not None and (opened.initiative_id, opened.territory) == (5, Pick.ALL)
    listed = InitiativePress.parse("ini:1:op:5:x:2:3")
    assert listed is not None and (listed.territory, listed.theme, listed.page) == (
        Pick.OTHER,
        2,
        3,
    )
    assert ModerationPress.parse("ini:1:pub:5") == ModerationPress(
        ModerationAction.PUBLISH, initiative_id=5
    )
    assert InitiativePress.parse("ini:1:pub:5") is None  # moderation's, not browsing's
    assert ModerationPress.matches("ini:1:q:0") and not ModerationPress.matches("ini:1:op:5")
    checkin = PairPress.parse("pair:1:a:3:b")
    assert checkin is not None and checkin.reply is CheckinReply.BLOCKED
    accept = OnboardingPress.parse("ob:1:yes:r-abc")
    assert accept is not None and accept.start == "r-abc"
    assert OnboardingPress.parse("ob:1:yes") == OnboardingPress(OnboardingAction.ACCEPT)
    toggle_theme = OnboardingPress.parse("ob:1:tog:themes:2")
    assert toggle_theme is not None and (toggle_theme.step, toggle_theme.index) == (
        Step.THEMES,
        2,
    )
    assert PrivacyPress.parse("priv:1:keep") is not None
    assert ProfilePress.parse("pf:1:setlang:en") is not None


def test_every_action_has_a_route() -> None:
    routed = {
        PairPress: {*pairs.MEMBER_ROUTES, *pairs.COORDINATOR_ROUTES},
        InitiativePress: {*initiatives.ANSWERED, *initiatives.ROUTES},
        ModerationPress: set(moderation.ROUTES),
        ProfilePress: set(profile.ROUTES),
        CirclePress: set(circles.ROUTES),
    }
    for model, actions in routed.items():
        assert actions == set(typing.get_type_hints(model)["action"]), model.__name__


def test_models_sharing_a_prefix_have_distinct_actions() -> None:
    seen: dict[tuple[str, str], str] = {}
    for model in MODELS:
        assert dataclasses.is_dataclass(model)
        for action in typing.get_type_hints(model)["action"]:
            key = (model.PREFIX, action.value)
            assert key not in seen, f"{model.__name__} and {seen[key]} share {key}"
            seen[key] = model.__name__


# --- through the real Application ------------------------------------------------------------


async def test_an_old_je_viens_button_is_still_answered(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3101, "Alice")
    await draft_call(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    call_message = await alice.receive(contains="Appel à l'aide")
    calls = CallRepository(bot.services.db)
    (call,) = await calls.for_coordinator(COORDINATOR_ID)
    # Exactly what call_cb("a", call_id, "y") packed on buttons sent before the codec.
    old = ":".join(("call", "1", "a", str(call.id), "y"))
    answered = await alice.press_data(old, message_id=call_message.message_id)
    assert "vous venez" in answered.text
    assert (await calls.answer_counts(call.id)).get("yes") == 1


async def test_huge_or_odd_numbers_in_buttons_get_the_short_refusal(server, make_bot):
    bot = await make_bot(**FAST)
    coord = await start_coordinator(server, bot)
    alice = await onboard(server, 3102, "Alice")
    await draft_call(coord)
    await coord.press("Envoyer maintenant")
    await bot.drain()
    call_message = await alice.receive(contains="Appel à l'aide")
    huge = "9" * 25
    for who, data in (
        (alice, f"call:1:a:{huge}:y"),
        (alice, "call:1:a:²:y"),
        (coord, f"call:1:v:{huge}"),
        (coord, "call:1:cl:²"),
        (coord, f"pair:1:c:{huge}"),
        (coord, f"ini:1:op:{huge}"),
        (coord, f"ini:1:br:-:-:{huge}"),
        (coord, f"ini:1:pub:{huge}"),
        (alice, "ob:1:tog:themes:²"),
        (alice, f"priv:1:erase:{huge}"),
    ):
        refused = await who.press_data(data, message_id=call_message.message_id)
        # the short refusal of forged data ("no longer valid", or "coordinators only" for
        # call data that does not parse, as before), never "Oups" and a spinning button
        assert refused.show_alert, data
        assert "plus valable" in refused.text or "réservée" in refused.text, data
    calls = CallRepository(bot.services.db)
    (call,) = await calls.for_coordinator(COORDINATOR_ID)
    assert await calls.answer_counts(call.id) == {}
    assert call.status == "open"
