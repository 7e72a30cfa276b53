"""One key per purpose from the secret: rotating one leaves the others, sealed data opens
under every version, and the keys of before (version 0) still match what was stored."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bot.keyring import KeyRing, Purpose, SealBroken, parse_versions

SECRET = "a-secret-of-the-service-long-enough-000000"


def test_version_zero_is_the_secret_as_the_service_used_it_before() -> None:
    legacy = hmac.new(SECRET.encode(), b"telegram:42", hashlib.sha256).hexdigest()[:32]
    assert KeyRing(SECRET).pseudonym("telegram", "42") == legacy


def test_rotating_one_purpose_leaves_the_others() -> None:
    before = KeyRing(SECRET)
    after = KeyRing(SECRET, parse_versions("chat-cookie=2"))
    assert after.sign(Purpose.CHAT_COOKIE, "t") != before.sign(Purpose.CHAT_COOKIE, "t")
    assert after.pseudonym("web", "t") == before.pseudonym("web", "t")
    assert after.sign(Purpose.CSRF, "s") == before.sign(Purpose.CSRF, "s")
    # pseudonym and csrf at version 0 share the secret itself; the other two are derived.
    assert len({after.key(p) for p in Purpose}) == 3


def test_sealed_data_opens_after_the_key_is_rotated_and_not_under_another_secret() -> None:
    old = KeyRing(SECRET)
    sealed = old.seal("13812345678")
    assert "13812345678" not in sealed and sealed.startswith("v1:")
    assert old.seal("13812345678") != sealed  # a fresh nonce each time
    rotated = KeyRing(SECRET, parse_versions("sealed=2"))
    assert rotated.unseal(sealed) == "13812345678"
    assert rotated.seal("x").startswith("v2:")
    with pytest.raises(SealBroken):
        KeyRing("another-secret-entirely-0000000000000000").unseal(sealed)
    with pytest.raises(SealBroken):
        old.unseal(sealed[:-4] + "AAAA")
    for broken in ("", "v0:abc", "plain text", "v1:", "vx:abc"):
        with pytest.raises(SealBroken):
            old.unseal(broken)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cookie=2", "unknown key purpose"),
        ("sealed=0", "start at 1"),
        ("pseudonym=two", "whole number"),
        ("pseudonym", "whole number"),
    ],
)
def test_bad_versions_are_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_versions(text)


def test_the_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("MINZHENG_KEY_VERSIONS", "cookie=2")
    with pytest.raises(SettingsError, match="MINZHENG_KEY_VERSIONS"):
        load_settings()
