"""Sign-up, login and the profile. Cognito owns credentials; the table owns the profile."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.profile import Profile, normalise_name, normalise_phone, normalise_state
from chalicelib.ports.accounts import ProfileStore
from chalicelib.ports.identity import IdentityProvider, Tokens


@dataclass
class IdentityService:
    identity: IdentityProvider
    repo: ProfileStore
    auto_confirm: bool

    def sign_up(
        self, email: str, password: str, name: str, phone: str, state: str
    ) -> tuple[Profile, bool]:
        """Returns the profile and whether the user is already confirmed (local stage)."""
        profile = Profile(
            uid="",
            email=email.strip().lower(),
            name=normalise_name(name),
            phone=normalise_phone(phone),
            state=normalise_state(state),
        )
        uid = self.identity.sign_up(profile.email, password)
        if self.auto_confirm:
            self.identity.admin_confirm(profile.email)
        self.repo.create_profile(
            uid, email=profile.email, name=profile.name, phone=profile.phone, state=profile.state
        )
        return Profile(uid, profile.email, profile.name, profile.phone, profile.state), (
            self.auto_confirm
        )

    def confirm(self, email: str, code: str) -> None:
        self.identity.confirm(email.strip().lower(), code)

    def login(self, email: str, password: str) -> Tokens:
        return self.identity.login(email.strip().lower(), password)

    def refresh(self, refresh_token: str) -> Tokens:
        return self.identity.refresh(refresh_token.strip())

    def profile(self, uid: str) -> Profile:
        item = self.repo.get_profile(uid)
        return Profile(item.uid, item.email, item.name, item.phone, item.state)

    def update_profile(
        self, uid: str, *, name: str | None, phone: str | None, state: str | None
    ) -> Profile:
        item = self.repo.get_profile(uid)
        if name is not None:
            item.name = normalise_name(name)
        if phone is not None:
            item.phone = normalise_phone(phone)
        if state is not None:
            item.state = normalise_state(state)
        self.repo.save_profile(item)
        return Profile(item.uid, item.email, item.name, item.phone, item.state)
