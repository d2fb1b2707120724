"""Membership rules: consent, onboarding steps, roles, invites, profile, pause and language.

The onboarding state lives in the `conversations` table, so a member resumes where they were
after a restart; every step checks that the member really is at that step, so a stale or
forged button changes nothing."""

from __future__ import annotations

from bot.services.member_base import (
    CAPACITY_RANGE,
    FLOW,
    NAME_MAX,
    SERVICE_MAX,
    InviteOutcome,
    OnboardingAction,
    OnboardingPress,
    ProfileAction,
    ProfilePress,
    Progress,
    StartArg,
    Step,
    parse_start_arg,
)
from bot.services.member_onboarding import MemberOnboarding
from bot.services.member_profile import MemberProfile
from storage.members import OTHER_TERRITORY

__all__ = [
    "CAPACITY_RANGE",
    "FLOW",
    "NAME_MAX",
    "OTHER_TERRITORY",
    "SERVICE_MAX",
    "InviteOutcome",
    "MemberService",
    "OnboardingAction",
    "OnboardingPress",
    "ProfileAction",
    "ProfilePress",
    "Progress",
    "StartArg",
    "Step",
    "parse_start_arg",
]


class MemberService(MemberOnboarding, MemberProfile):
    """The members feature, one part per sub-feature module, joined."""
