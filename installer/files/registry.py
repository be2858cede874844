"""``repository/conf/registry.xml``: the shared registry database and its mounts.

What :func:`patch_registry` makes true is :class:`~installer.files.settings.RegistrySettings`'
docstring, in the seed's shape::

    <dbConfig name="sharedregistry"><dataSource>jdbc/WSO2RegistryDB</dataSource></dbConfig>
    <remoteInstance url="https://localhost:9443/registry">
        <id>instanceid</id> <dbConfig/> <readOnly/> <enableCache/> <registryRoot/> <cacheId/>
    </remoteInstance>
    <mount path="/_system/config" overwrite="true"><instanceId/><targetPath/></mount> ...

Existing active elements are updated in place: the ``dbConfig`` with our name, the
``remoteInstance`` with our ``<id>``, a ``mount`` with one of our paths (a second active mount
with that path is removed, Carbon would otherwise mount twice). New ones go after the active
elements of the same kind (a new ``remoteInstance`` after our ``dbConfig``, new mounts after our
``remoteInstance`` when the file has none), else before ``<versionResourcesOnChange>``, else at
the end of the root. The default ``wso2registry`` dbConfig and ``currentDBConfig`` are left alone:
the local registry keeps using them.

Only Carbon's registry.xml (root ``<wso2registry>``) is accepted; the Synapse
``synapse-configs/default/registry.xml`` has another root and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.errors import ConfigFileError
from installer.files.settings import RegistryMount, RegistrySettings
from installer.files.xmlsplice import Element, NewElement, XmlDocument, build_element

_RESTORE_HINT = "Restore repository/conf/registry.xml from the distribution zip and run the installer again."


@dataclass(frozen=True)
class RemoteInstanceValues:
    url: str | None
    instance_id: str | None
    db_config: str | None
    read_only: str | None
    enable_cache: str | None
    registry_root: str | None
    cache_id: str | None


@dataclass(frozen=True)
class MountValues:
    path: str | None
    overwrite: str | None
    instance_id: str | None
    target_path: str | None


@dataclass(frozen=True)
class RegistryValues:
    """The active ``dbConfig`` / ``remoteInstance`` / ``mount`` elements of a registry.xml.

    ``db_configs`` are ``(name, dataSource)`` pairs (dataSource None for an inline-URL config).
    """

    current_db_config: str | None
    db_configs: tuple[tuple[str, str | None], ...]
    remote_instances: tuple[RemoteInstanceValues, ...]
    mounts: tuple[MountValues, ...]

    def remote_instance(self, instance_id: str) -> RemoteInstanceValues | None:
        return next((item for item in self.remote_instances if item.instance_id == instance_id), None)


def _root(doc: XmlDocument) -> Element:
    if doc.root.local_name != "wso2registry":
        raise ConfigFileError(
            f"{doc.path}: the root element is <{doc.root.name}>, not Carbon's <wso2registry>",
            "Patch repository/conf/registry.xml (the Carbon registry configuration), not the "
            "Synapse registry definition. " + _RESTORE_HINT,
        )
    return doc.root


def _text(element: Element | None) -> str | None:
    return None if element is None else element.text.strip()


def read_registry(data: bytes, *, path: str = "registry.xml") -> RegistryValues:
    """The registry database configurations, remote instances and mounts of a registry.xml."""
    doc = XmlDocument.parse(data, path=path)
    root = _root(doc)
    return RegistryValues(
        current_db_config=_text(root.child("currentDBConfig")),
        db_configs=tuple(
            (element.get("name") or "", _text(element.child("dataSource")))
            for element in root.children_named("dbConfig")
        ),
        remote_instances=tuple(
            RemoteInstanceValues(
                url=element.get("url"),
                instance_id=_text(element.child("id")),
                db_config=_text(element.child("dbConfig")),
                read_only=_text(element.child("readOnly")),
                enable_cache=_text(element.child("enableCache")),
                registry_root=_text(element.child("registryRoot")),
                cache_id=_text(element.child("cacheId")),
            )
            for element in root.children_named("remoteInstance")
        ),
        mounts=tuple(
            MountValues(
                path=element.get("path"),
                overwrite=element.get("overwrite"),
                instance_id=_text(element.child("instanceId")),
                target_path=_text(element.child("targetPath")),
            )
            for element in root.children_named("mount")
        ),
    )


def _remote_instance_fields(settings: RegistrySettings) -> list[tuple[str, str]]:
    return [
        ("id", settings.instance_id),
        ("dbConfig", settings.db_config_name),
        ("readOnly", "true" if settings.read_only else "false"),
        ("enableCache", "true"),
        ("registryRoot", "/"),
        ("cacheId", settings.cache_id),
    ]


def _mount_xml(mount: RegistryMount, instance_id: str) -> str:
    return build_element(
        "mount",
        attributes=[("path", mount.path), ("overwrite", mount.overwrite)],
        children=[build_element("instanceId", instance_id), build_element("targetPath", mount.target_path)],
    )


def _insert_block(
    doc: XmlDocument, root: Element, after: Element | NewElement | None, xml: str
) -> NewElement:
    """Insert a top-level block after ``after``, else before versionResourcesOnChange, else last."""
    if after is not None:
        return doc.insert_after(after, xml, blank_line=True)
    version_resources = root.child("versionResourcesOnChange")
    if version_resources is not None:
        return doc.insert_before(version_resources, xml, blank_line=True)
    return doc.append_child(root, xml, blank_line=True)


def _set_db_config(doc: XmlDocument, root: Element, settings: RegistrySettings) -> Element | NewElement:
    existing = root.children_named("dbConfig", name=settings.db_config_name)
    xml = build_element(
        "dbConfig",
        attributes=[("name", settings.db_config_name)],
        children=[build_element("dataSource", settings.data_source)],
    )
    if not existing:
        all_db_configs = root.children_named("dbConfig")
        return _insert_block(doc, root, all_db_configs[-1] if all_db_configs else None, xml)
    for element in existing:
        data_source = element.children_named("dataSource")
        if data_source and not data_source[0].elements:
            for item in data_source:
                doc.set_text(item, settings.data_source)
        else:
            # An inline-URL configuration under our name: make it the seed's datasource one.
            doc.replace(element, xml)
    return existing[0]


def _set_remote_instance(
    doc: XmlDocument, root: Element, settings: RegistrySettings, db_config: Element | NewElement
) -> Element | NewElement:
    remote_instances = root.children_named("remoteInstance")
    ours = [element for element in remote_instances if _text(element.child("id")) == settings.instance_id]
    fields = _remote_instance_fields(settings)
    if not ours:
        xml = build_element(
            "remoteInstance",
            attributes=[("url", settings.remote_url)],
            children=[build_element(tag, value) for tag, value in fields],
        )
        return _insert_block(doc, root, remote_instances[-1] if remote_instances else db_config, xml)
    for element in ours[1:]:
        doc.remove(element)  # two remote instances with one id: Carbon would keep an arbitrary one
    doc.set_attribute(ours[0], "url", settings.remote_url)
    doc.set_child_texts(ours[0], fields)
    return ours[0]


def _set_mounts(
    doc: XmlDocument, root: Element, settings: RegistrySettings, remote_instance: Element | NewElement
) -> None:
    existing = root.children_named("mount")
    ours: dict[int, Element] = {}
    for index, mount in enumerate(settings.mounts):
        same_path = [element for element in existing if element.get("path") == mount.path]
        if not same_path:
            continue
        ours[index] = same_path[0]
        doc.set_attribute(same_path[0], "overwrite", mount.overwrite)
        doc.set_child_texts(same_path[0], [("instanceId", settings.instance_id), ("targetPath", mount.target_path)])
        for duplicate in same_path[1:]:
            doc.remove(duplicate)
    last_existing: Element | NewElement | None = existing[-1] if existing else None
    # Keep the settings' order where we can: a new mount goes before the next one of ours that
    # exists already; the rest go after the last mount (or after our remote instance).
    appended: Element | NewElement | None = None
    for index, mount in enumerate(settings.mounts):
        if index in ours:
            continue
        xml = _mount_xml(mount, settings.instance_id)
        later = next((ours[later] for later in range(index + 1, len(settings.mounts)) if later in ours), None)
        if later is not None:
            doc.insert_before(later, xml, blank_line=True)
        elif appended is not None:
            appended = doc.insert_after(appended, xml, blank_line=True)
        else:
            appended = _insert_block(doc, root, last_existing or remote_instance, xml)


def patch_registry(original: bytes, settings: RegistrySettings, *, path: str = "registry.xml") -> bytes:
    """``original`` with the shared registry ``dbConfig``, ``remoteInstance`` and mounts.

    Returns the ``original`` object itself when nothing would change; raises
    :class:`ConfigFileError` when the file is malformed or is not Carbon's registry.xml.
    """
    paths = [mount.path for mount in settings.mounts]
    if len(set(paths)) != len(paths):
        raise ValueError("RegistrySettings: two mounts with the same path")
    doc = XmlDocument.parse(original, path=path)
    root = _root(doc)
    db_config = _set_db_config(doc, root, settings)
    remote_instance = _set_remote_instance(doc, root, settings, db_config)
    _set_mounts(doc, root, settings, remote_instance)
    return doc.result()
