"""The check / preview / apply contract of one file, drift detection and secret masking."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from installer import atomic
from installer.contract import Status
from installer.errors import ConfigFileError
from installer.files.base import FilePatch, redact_passwords


def upper_of(original: bytes) -> bytes:
    return original.upper()


def test_check_changes_nothing_apply_writes_once(tmp_path):
    target = tmp_path / "file.txt"
    target.write_bytes(b"hello\n")
    patch = FilePatch(path=target, label="t", transform=upper_of)

    check = patch.check(None)
    assert check.status == Status.PENDING and "-hello" in check.diff.text and "+HELLO" in check.diff.text
    assert target.read_bytes() == b"hello\n"

    changed, fingerprint, diff = patch.apply()
    assert changed and diff.changed and target.read_bytes() == b"HELLO\n"
    assert patch.check(fingerprint).status == Status.DONE

    stat_before = target.stat()
    changed_again, fingerprint_again, _ = patch.apply()
    assert not changed_again and fingerprint_again == fingerprint
    assert target.stat().st_mtime_ns == stat_before.st_mtime_ns and target.stat().st_ino == stat_before.st_ino


def test_hand_edit_after_our_write_is_drift(tmp_path):
    target = tmp_path / "file.txt"
    target.write_bytes(b"a\n")
    patch = FilePatch(path=target, label="t", transform=upper_of)
    _, fingerprint, _ = patch.apply()
    target.write_bytes(b"A\nmine\n")
    check = patch.check(fingerprint)
    assert check.status == Status.DRIFTED
    assert "+MINE" in check.diff.text  # what a forced run would change
    # Without a recorded fingerprint there is nothing to compare with: just pending.
    assert patch.check(None).status == Status.PENDING


def test_pristine_source_is_used_until_the_file_exists(tmp_path):
    target = tmp_path / "not-there.txt"
    patch = FilePatch(path=target, label="t", transform=upper_of, pristine=lambda: b"from zip\n")
    check = patch.check(None)
    assert check.status == Status.PENDING and "+FROM ZIP" in check.diff.text and "-from zip" in check.diff.text
    assert not target.exists()


def test_mode_is_enforced_even_when_content_is_right(tmp_path):
    target = tmp_path / "secret.xml"
    target.write_bytes(b"X")
    os.chmod(target, 0o644)
    patch = FilePatch(path=target, label="t", transform=lambda data: data, mode=0o600)
    assert patch.check(None).status == Status.PENDING
    changed, _, _ = patch.apply()
    assert changed and target.stat().st_mode & 0o777 == 0o600


def test_new_file_written_with_restricted_mode(tmp_path):
    target = tmp_path / "conf" / "master-datasources.xml"
    patch = FilePatch(path=target, label="t", transform=lambda _: b"<password>pw</password>", mode=0o600)
    patch.apply()
    assert target.stat().st_mode & 0o777 == 0o600


def test_diffs_never_show_secrets(tmp_path):
    target = tmp_path / "ds.xml"
    target.write_bytes(b"<password>old-secret</password>\n<url>x</url>\n")
    patch = FilePatch(path=target, label="t", secrets=("new-secret",),
                      transform=lambda _: b"<password>new-secret</password>\n<url>y new-secret</url>\n")
    text = patch.check(None).diff.text
    body = text.split("\n", 2)[2]  # past the ---/+++ header lines, which name the file
    assert "old-secret" not in text and "new-secret" not in text
    assert " <password>********</password>" in body and "+<url>y ********</url>" in body


def test_redact_passwords_keeps_attributes():
    text = '<password svns:secretAlias="x">hunter2</password>'
    assert redact_passwords(text) == '<password svns:secretAlias="x">********</password>'


def test_interrupted_write_leaves_no_temporary_on_next_write(tmp_path):
    target = tmp_path / "file.txt"
    target.write_bytes(b"a")
    (tmp_path / ".file.txt.abc123.tmp").write_bytes(b"half")
    FilePatch(path=target, label="t", transform=upper_of).apply()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_symlink_is_written_through_and_stays_a_symlink(tmp_path):
    real = tmp_path / "elsewhere" / "file.txt"
    real.parent.mkdir()
    real.write_bytes(b"a\n")
    link = tmp_path / "file.txt"
    link.symlink_to(real)
    changed, fingerprint, _ = FilePatch(path=link, label="t", transform=upper_of).apply()
    assert changed and link.is_symlink() and real.read_bytes() == b"A\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "file.txt"]
    assert FilePatch(path=link, label="t", transform=upper_of).check(fingerprint).status == Status.DONE


def test_a_busy_file_is_a_clear_error_unless_in_place_writes_are_allowed(tmp_path, monkeypatch):
    target = tmp_path / "file.txt"
    target.write_bytes(b"a\n")
    real_replace = os.replace

    def replace(source, destination):
        if Path(destination) == target:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY))
        return real_replace(source, destination)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(ConfigFileError) as raised:
        FilePatch(path=target, label="t", transform=upper_of).apply()
    assert raised.value.message == f"{target} cannot be written: {os.strerror(errno.EBUSY)}"
    assert "bind mount" in raised.value.hint
    assert target.read_bytes() == b"a\n" and sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]

    written = FilePatch(path=target, label="t", transform=upper_of, in_place_fallback=True).write()
    assert written.changed and written.in_place and target.read_bytes() == b"A\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_a_file_already_as_wanted_is_done_whatever_the_record_says(tmp_path):
    # A crash after the rename and before the state save leaves the previous write's fingerprint
    # recorded while the file already holds the new content: that is done, not a hand edit.
    target = tmp_path / "file.txt"
    target.write_bytes(b"a\n")
    _, first_fingerprint, _ = FilePatch(path=target, label="t", transform=upper_of).apply()
    plan_changed = FilePatch(path=target, label="t", transform=lambda data: data.upper().replace(b"A", b"B"))
    changed, second_fingerprint, _ = plan_changed.apply()  # ... and the state never hears of it
    assert changed and second_fingerprint != first_fingerprint

    check = plan_changed.check(first_fingerprint)
    assert check.status == Status.DONE and not check.diff.changed
    assert check.fingerprint == second_fingerprint  # what the caller records in place of the stale one
    # A real hand edit is still drift.
    target.write_bytes(b"B\nmine\n")
    assert plan_changed.check(second_fingerprint).status == Status.DRIFTED


def test_every_patcher_has_the_one_signature():
    import inspect

    from installer.files import axis2, carbon, datasources, lbconf, registry, usermgt

    patchers = [axis2.patch_axis2, carbon.patch_carbon, datasources.patch_datasources, usermgt.patch_user_mgt,
                registry.patch_registry, lbconf.patch_loadbalancer]
    for patch in patchers:
        parameters = inspect.signature(patch).parameters.values()
        assert [(parameter.name, parameter.kind) for parameter in parameters] == [
            ("original", inspect.Parameter.POSITIONAL_OR_KEYWORD), ("settings", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            ("path", inspect.Parameter.KEYWORD_ONLY)], patch.__name__
