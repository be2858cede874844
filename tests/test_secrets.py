"""Passwords reach the installer exactly as the operator wrote them: spaces are part of a password."""

from __future__ import annotations

import pytest

from installer.errors import SecretError
from installer.secrets import PasswordSource, read_password_file, resolve_password

SPACED_PASSWORD = " pa ss "


@pytest.mark.parametrize("content", [SPACED_PASSWORD, SPACED_PASSWORD + "\n", SPACED_PASSWORD + "\r\n"])
def test_a_password_file_keeps_spaces_and_loses_only_the_line_end_an_editor_adds(content, tmp_path):
    path = tmp_path / "password"
    path.write_bytes(content.encode())
    assert read_password_file(path, "application database password") == SPACED_PASSWORD


@pytest.mark.parametrize("content", ["first\nsecond\n", "first\n\n", "first\n "])
def test_a_password_file_of_more_than_one_line_is_refused_rather_than_cut(content, tmp_path):
    # Taking the first line would log in with something else than the operator meant, far from here.
    path = tmp_path / "password"
    path.write_text(content)
    with pytest.raises(SecretError) as refused:
        read_password_file(path, "application database password")
    assert "more than one line" in refused.value.message
    assert "first" not in refused.value.message + refused.value.hint


@pytest.mark.parametrize("content", ["", "\n", "\r\n"])
def test_an_empty_password_file_is_refused(content, tmp_path):
    path = tmp_path / "password"
    path.write_text(content)
    with pytest.raises(SecretError, match="is empty"):
        read_password_file(path, "application database password")


def test_the_environment_and_a_prompt_keep_spaces():
    source = PasswordSource("application database password", "WSO2_DB_PASSWORD")
    assert resolve_password(source, environ={"WSO2_DB_PASSWORD": SPACED_PASSWORD}) == SPACED_PASSWORD
    assert resolve_password(source, environ={}, prompt=lambda _text: SPACED_PASSWORD) == SPACED_PASSWORD
