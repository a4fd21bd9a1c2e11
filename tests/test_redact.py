from __future__ import annotations

from workspace import redact


def test_mask_url_hides_the_password_and_keeps_the_rest() -> None:
    assert redact.mask_url("postgresql://app:s3cr%40t@db:5432/x?sslmode=require") == \
        "postgresql://app:********@db:5432/x?sslmode=require"


def test_registered_secrets_are_masked_anywhere_in_text() -> None:
    redact.register_url("postgresql://app:pa%24%24word-1@db/x")
    text = 'FATAL: password authentication failed, tried "pa$$word-1" and pa%24%24word-1'
    out = redact.redact(text)
    assert "pa$$word-1" not in out and "pa%24%24word-1" not in out


def test_unregistered_url_and_keyword_passwords_are_masked() -> None:
    out = redact.redact("dsn=postgres://u:zz-top-99@h/d and host=h password='x y z' user=u")
    assert "zz-top-99" not in out and "x y z" not in out
    assert "postgres://u:********@h/d" in out and "password=********" in out
