"""The people of the fake Telegram: users created one by one, or declared by the thousand
and built only when first touched (a 10,000-recipient broadcast needs no 10,000 objects)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from sandbox.fakeapi.rates import RateWindows
from sandbox.fakeapi.users import FakeUser

if TYPE_CHECKING:
    from sandbox.fakeapi.server import FakeTelegram


class UserDirectory(RateWindows):
    """Part of FakeTelegram: its users and their private chats, by id and by username."""

    def _init_users(self) -> None:
        self._users: dict[int, FakeUser] = {}
        self._lazy_ids: set[int] = set()
        self._lazy_ranges: list[range] = []
        self._by_username: dict[str, int] = {}

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
        is_premium: bool = False,
    ) -> FakeUser:
        """Create (or return the existing) user; their private chat exists from now on."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user = FakeUser(
            cast("FakeTelegram", self),
            user_id,
            first_name or f"User{user_id}",
            username=username,
            last_name=last_name,
            language_code=language_code,
            is_premium=is_premium,
        )
        self._users[user_id] = user
        self._lazy_ids.discard(user_id)
        if username:
            self._by_username[username.lower()] = user_id
        return user

    def add_users(self, user_ids: Iterable[int]) -> int:
        """Declare many chats cheaply; user objects are only built when first touched."""
        if isinstance(user_ids, range):
            self._lazy_ranges.append(user_ids)
            return len(user_ids)
        ids = set(user_ids)
        self._lazy_ids.update(ids)
        return len(ids)

    def get_user(self, user_id: int) -> FakeUser | None:
        """Return the user if the chat exists (materializing bulk users on demand)."""
        user = self._users.get(user_id)
        if user is not None:
            return user
        if user_id in self._lazy_ids or any(user_id in r for r in self._lazy_ranges):
            return self.user(user_id)
        return None

    @property
    def users(self) -> list[FakeUser]:
        """Users materialized so far (bulk users appear once touched)."""
        return list(self._users.values())
