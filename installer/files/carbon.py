"""``repository/conf/carbon.xml``: the port offset, the public host names and the deployment
synchronizer.

The file has a default namespace (``http://wso2.org/projects/carbon/carbon.xml``); elements are
matched by local name and new ones are written without a prefix, so they land in it as well.
A new ``HostName`` / ``MgtHostName`` goes right after its commented-out form
(``<!--HostName>www.wso2.org</HostName-->``), which stays. Without that comment, ``HostName``
goes after ``<Version>``, and ``MgtHostName`` after ``HostName`` (so the two stay together, in
the kernel's order) or, when neither exists, after ``<Version>`` too.

``<DeploymentSynchronizer>`` is commented out in Carbon 4.1's file, twice: an svn example (with
``<RepositoryType>svn</RepositoryType>``) and a registry one. An active one (Carbon 4.2 ships the
svn one active, disabled) gets its values set in place; else a new one goes after the example of
its kind, which stays, with a blank line before it (after the other example, else after
``<HttpGetRequestProcessors>``, else last in ``<Server>`` when the file has none of these).
Carbon reads the first one; every active one is set, so a stale second one cannot mislead a reader.
With the registry, the svn elements (``SvnUrl``, ``SvnUser``, ``SvnPassword``,
``SvnUrlAppendTenantId``) are removed: they would only suggest that svn is in use; with svn and no
user, ``SvnUser`` and ``SvnPassword`` are (an example's login is not one to try).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from installer.errors import ConfigFileError
from installer.files.settings import CarbonSettings, DeploymentSyncSettings
from installer.files.xmlsplice import Comment, Element, NewElement, XmlDocument, build_element

_RESTORE_HINT = "Restore repository/conf/carbon.xml from the distribution zip and run the installer again."


@dataclass(frozen=True)
class CarbonValues:
    """What a carbon.xml says about the things :func:`patch_carbon` manages (active elements)."""

    offset: int | None
    host_name: str | None
    mgt_host_name: str | None
    deployment_sync: DeploymentSyncValues | None = None


@dataclass(frozen=True)
class DeploymentSyncValues:
    """The first active ``<DeploymentSynchronizer>``, as written (None for an element not there)."""

    enabled: str | None
    auto_commit: str | None
    auto_checkout: str | None
    repository_type: str | None
    svn_url: str | None
    svn_user: str | None
    svn_password: str | None = None

    def __repr__(self) -> str:  # the svn password is a secret
        shown = "set" if self.svn_password else "missing"
        return (f"DeploymentSyncValues(enabled={self.enabled!r}, auto_commit={self.auto_commit!r}, "
                f"auto_checkout={self.auto_checkout!r}, repository_type={self.repository_type!r}, "
                f"svn_url={self.svn_url!r}, svn_user={self.svn_user!r}, svn_password={shown})")


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
    sync = server.child("DeploymentSynchronizer")
    return CarbonValues(
        offset=offset,
        host_name=_text(server.child("HostName")),
        mgt_host_name=_text(server.child("MgtHostName")),
        deployment_sync=None if sync is None else DeploymentSyncValues(
            enabled=_text(sync.child("Enabled")),
            auto_commit=_text(sync.child("AutoCommit")),
            auto_checkout=_text(sync.child("AutoCheckout")),
            repository_type=_text(sync.child("RepositoryType")),
            svn_url=_text(sync.child("SvnUrl")),
            svn_user=_text(sync.child("SvnUser")),
            # Not stripped: a password may begin or end with spaces.
            svn_password=sync.child_text("SvnPassword"),
        ),
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
    if settings.deployment_sync is not None:
        _set_deployment_sync(doc, server, settings.deployment_sync)
    return doc.result()


SVN_ELEMENTS = ("SvnUrl", "SvnUser", "SvnPassword", "SvnUrlAppendTenantId")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def deployment_sync_elements(sync: DeploymentSyncSettings) -> list[tuple[str, str]]:
    """The ``(element, text)`` children a ``<DeploymentSynchronizer>`` holds for ``sync``, in the
    kernel's order."""
    wanted = [("Enabled", _flag(sync.enabled)), ("AutoCommit", _flag(sync.auto_commit)),
              ("AutoCheckout", _flag(sync.auto_checkout)), ("RepositoryType", sync.repository_type)]
    if sync.repository_type == "svn":
        wanted.append(("SvnUrl", sync.svn_url or ""))
        if sync.svn_user:
            wanted += [("SvnUser", sync.svn_user), ("SvnPassword", sync.svn_password or "")]
    return wanted


def _example(server: Element, repository_type: str) -> Comment | None:
    """The commented-out ``<DeploymentSynchronizer>`` for this repository type, else the other one."""
    examples = [comment for comment in server.comments
                if re.match(r"\s*<?\s*DeploymentSynchronizer\s*>", comment.text)]
    svn = [comment for comment in examples if re.search(r"<RepositoryType>\s*svn\s*<", comment.text)]
    registry = [comment for comment in examples if comment not in svn]
    preferred = svn if repository_type == "svn" else registry
    return next(iter(preferred or examples), None)


def _set_deployment_sync(doc: XmlDocument, server: Element, sync: DeploymentSyncSettings) -> None:
    wanted = deployment_sync_elements(sync)
    active = server.children_named("DeploymentSynchronizer")
    kept = {tag for tag, _value in wanted}
    for element in active:
        doc.set_child_texts(element, wanted)
        for tag in SVN_ELEMENTS:
            # SvnUrlAppendTenantId is svn's own switch, not ours to set: it stays for svn.
            if tag not in kept and (sync.repository_type != "svn" or tag != "SvnUrlAppendTenantId"):
                for stale in element.children_named(tag):
                    doc.remove(stale)
    if active:
        return
    xml = build_element("DeploymentSynchronizer", children=[build_element(tag, value) for tag, value in wanted])
    anchor: Comment | Element | None = _example(server, sync.repository_type) or server.child("HttpGetRequestProcessors")
    if anchor is not None:
        doc.insert_after(anchor, xml, blank_line=True)
    else:
        doc.append_child(server, xml, blank_line=True)
