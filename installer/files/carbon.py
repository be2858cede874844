"""``repository/conf/carbon.xml``: the port offset and the public host names.

The file has a default namespace (``http://wso2.org/projects/carbon/carbon.xml``); elements are
matched by local name and new ones are written without a prefix, so they land in it as well.
A new ``HostName`` / ``MgtHostName`` goes right after its commented-out form
(``<!--HostName>www.wso2.org</HostName-->``), which stays. Without that comment, ``HostName``
goes after ``<Version>``, and ``MgtHostName`` after ``HostName`` (so the two stay together, in
the kernel's order) or, when neither exists, after ``<Version>`` too.
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.errors import ConfigFileError
from installer.files.settings import CarbonSettings
from installer.files.xmlsplice import Element, NewElement, XmlDocument

_RESTORE_HINT = "Restore repository/conf/carbon.xml from the distribution zip and run the installer again."


@dataclass(frozen=True)
class CarbonValues:
    """What a carbon.xml says about the things :func:`patch_carbon` manages (active elements)."""

    offset: int | None
    host_name: str | None
    mgt_host_name: str | None


def _server(doc: XmlDocument) -> Element:
    if doc.root.local_name != "Server":
        raise ConfigFileError(
            f"{doc.path}: the root element is <{doc.root.name}>, not carbon.xml's <Server>",
            _RESTORE_HINT,
        )
    return doc.root


def _ports(doc: XmlDocument, server: Element) -> Element:
    ports = server.child("Ports")
    if ports is None:
        raise ConfigFileError(f"{doc.path}: there is no active <Ports> element in <Server>", _RESTORE_HINT)
    return ports


def _text(element: Element | None) -> str | None:
    return None if element is None else element.text.strip()


def read_carbon(data: bytes, *, path: str = "carbon.xml") -> CarbonValues:
    """The managed values of a carbon.xml; ``offset`` is None when it is not a number."""
    doc = XmlDocument.parse(data, path=path)
    server = _server(doc)
    offset_text = _text(_ports(doc, server).child("Offset"))
    try:
        offset = None if offset_text is None else int(offset_text)
    except ValueError:
        offset = None
    return CarbonValues(
        offset=offset,
        host_name=_text(server.child("HostName")),
        mgt_host_name=_text(server.child("MgtHostName")),
    )


def patch_carbon(original: bytes, settings: CarbonSettings, *, path: str = "carbon.xml") -> bytes:
    """``original`` with ``Ports/Offset`` and the host names set.

    Returns the ``original`` object itself when nothing would change; raises
    :class:`ConfigFileError` when the file is malformed or has no ``<Ports>``.
    """
    doc = XmlDocument.parse(original, path=path)
    server = _server(doc)
    ports = _ports(doc, server)
    # Carbon reads a missing Offset as 0; a new one goes first, where the kernel's file has it.
    doc.set_child_text(ports, "Offset", str(settings.offset))
    version = server.child("Version")
    host_name: Element | NewElement | None = server.child("HostName")
    if settings.host_name is not None:
        host_name = doc.set_child_text(
            server, "HostName", settings.host_name, after_commented_out=True, after=[version]
        )
    if settings.mgt_host_name is not None:
        # After HostName, so that the two stay together in the kernel's order.
        doc.set_child_text(
            server,
            "MgtHostName",
            settings.mgt_host_name,
            after_commented_out=True,
            after=[host_name, version],
        )
    return doc.result()
