"""``repository/conf/user-mgt.xml``: the user store's datasource.

Only ``Realm/Configuration/Property[@name='dataSource']`` is managed. Some real files configure
the JDBC store with inline ``url`` / ``userName`` / ``password`` properties instead; those are
left as they are and the ``dataSource`` property is added after the last ``Property`` (Carbon's
JDBC user store uses the datasource when one is named).
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.errors import ConfigFileError
from installer.files.settings import UserMgtSettings
from installer.files.xmlsplice import Element, XmlDocument

_RESTORE_HINT = "Restore repository/conf/user-mgt.xml from the distribution zip and run the installer again."


@dataclass(frozen=True)
class UserMgtValues:
    """What a user-mgt.xml says about what :func:`patch_user_mgt` manages.

    ``inline_url`` is the ``url`` property some files use instead of a datasource (or None).
    """

    data_source: str | None
    inline_url: str | None


def _configuration(doc: XmlDocument) -> Element:
    realm = doc.root.child("Realm") if doc.root.local_name == "UserManager" else None
    configuration = None if realm is None else realm.child("Configuration")
    if configuration is None:
        raise ConfigFileError(
            f"{doc.path}: there is no active UserManager/Realm/Configuration element",
            _RESTORE_HINT,
        )
    return configuration


def read_user_mgt(data: bytes, *, path: str = "user-mgt.xml") -> UserMgtValues:
    """The realm configuration's datasource (and inline URL, if any)."""
    doc = XmlDocument.parse(data, path=path)
    configuration = _configuration(doc)
    data_source = configuration.child("Property", name="dataSource")
    url = configuration.child("Property", name="url")
    return UserMgtValues(
        data_source=None if data_source is None else data_source.text.strip(),
        inline_url=None if url is None else url.text.strip(),
    )


def patch_user_mgt(original: bytes, settings: UserMgtSettings, *, path: str = "user-mgt.xml") -> bytes:
    """``original`` with the realm's ``dataSource`` property set.

    Returns the ``original`` object itself when nothing would change; raises
    :class:`ConfigFileError` when the file is malformed or has no ``Realm/Configuration``.
    """
    doc = XmlDocument.parse(original, path=path)
    configuration = _configuration(doc)
    doc.set_child_text(
        configuration,
        "Property",
        settings.data_source,
        attributes=[("name", "dataSource")],
        after=configuration.children_named("Property")[-1:],
        at_end=True,
    )
    return doc.result()
