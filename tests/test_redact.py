"""Secrets never reach logs or exports."""

import pytest

from grok_tui.redact import redact


@pytest.mark.parametrize(
    "text,secret",
    [
        ("Authorization: Bearer abcdefghijk123", "abcdefghijk123"),
        ("authorization=Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("cookie: sso=abc123; sso-rw=def456", "def456"),
        ('{"Cookie": "sso=abc123; other=zzz999"}', "zzz999"),
        ("set-cookie: x-anonuserid=u123456; Path=/", "u123456"),
        ('{"access_token":"tok_abcdef"}', "tok_abcdef"),
        ("refresh_token=r3fr3sh", "r3fr3sh"),
        ("x-csrf-token: c5rf0000", "c5rf0000"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ],
)
def test_secrets_are_redacted(text, secret):
    out = redact(text)
    assert secret not in out
    assert "[redacted" in out


def test_plain_text_is_kept():
    text = 'attempt 2 moderated at 40 % (layer 2) — prompt "a token of love"'
    assert redact(text) == text
