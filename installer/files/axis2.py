"""``repository/conf/axis2/axis2.xml``: Tribes clustering and the ELB / manager transports.

What :func:`patch_axis2` makes true is :class:`~installer.files.settings.Axis2Settings`'
docstring; the seed (Clustering Guide 4.1.0) is the reference. Only elements that are not
commented out are read or changed: the commented-out examples the file ships with stay as they
are (a new ``localMemberHost`` or ``WSDLEPRPrefix`` is written right after its commented-out
form, which stays).

Carbon 4.2 products (ESB 4.8.x, the 4.2 kernel) cluster with Hazelcast. Their ``<clustering>``
section has other parameters and another member model, so rewriting the agent class to Tribes
would give a file that neither product reads as the seed means; such a file is refused with a
:class:`ConfigFileError` that says the distribution is not the one this installer sets up.
"""

from __future__ import annotations

from dataclasses import dataclass

from installer.errors import ConfigFileError
from installer.files.settings import Axis2Settings, WkaMember
from installer.files.xmlsplice import Element, NewElement, XmlDocument, build_element

TRIBES_AGENT_CLASS = "org.apache.axis2.clustering.tribes.TribesClusteringAgent"
PORT_MAPPING_PREFIX = "port.mapping."

_RESTORE_HINT = (
    "Restore repository/conf/axis2/axis2.xml from the distribution zip and run the installer again."
)


@dataclass(frozen=True)
class Axis2Values:
    """What an axis2.xml says about the things :func:`patch_axis2` manages (active elements only).

    ``properties`` are the ``(name, value)`` pairs of ``<parameter name="properties">`` in file
    order (duplicates kept, so a reader can see them); ports are None when the receiver or its
    port parameter is absent or not a number.
    """

    clustering_class: str | None
    enabled: bool
    membership_scheme: str | None
    domain: str | None
    local_member_host: str | None
    local_member_port: int | None
    members: tuple[WkaMember, ...]
    properties: tuple[tuple[str, str], ...]
    http_port: int | None
    https_port: int | None
    http_wsdl_epr_prefix: str | None
    https_wsdl_epr_prefix: str | None

    def property_value(self, name: str) -> str | None:
        """The value of the first member property called ``name``."""
        return next((value for key, value in self.properties if key == name), None)

    @property
    def port_mapping(self) -> tuple[tuple[int, int], ...]:
        """The ``port.mapping.<elb port>`` properties as ``(elb_port, target_port)`` pairs."""
        pairs = []
        for name, value in self.properties:
            if name.startswith(PORT_MAPPING_PREFIX):
                pairs.append((int(name[len(PORT_MAPPING_PREFIX) :]), int(value)))
        return tuple(pairs)


def _as_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _clustering(doc: XmlDocument) -> Element:
    found = doc.root.children_named("clustering")
    if not found:
        raise ConfigFileError(
            f"{doc.path}: there is no active <clustering> element under <{doc.root.name}>",
            "This does not look like the axis2.xml of a Carbon server. " + _RESTORE_HINT,
        )
    if len(found) > 1:
        lines = ", ".join(str(doc.line_of(element.start)) for element in found)
        raise ConfigFileError(
            f"{doc.path}: there are {len(found)} active <clustering> elements (lines {lines})",
            "Keep one of them (comment out the others) and run the installer again.",
        )
    return found[0]


def _parameter_text(parent: Element, name: str) -> str | None:
    found = parent.child("parameter", name=name)
    return None if found is None else found.text.strip()


def _receiver(doc: XmlDocument, name: str, *, required: bool) -> Element | None:
    found = doc.root.children_named("transportReceiver", name=name)
    if len(found) > 1:
        lines = ", ".join(str(doc.line_of(element.start)) for element in found)
        raise ConfigFileError(
            f'{doc.path}: {len(found)} active <transportReceiver name="{name}"> elements (lines {lines})',
            "Axis2 would use only one of them; comment out the one you do not want.",
        )
    if not found and required:
        raise ConfigFileError(
            f'{doc.path}: there is no active <transportReceiver name="{name}">',
            "The seed's settings go into the active http/https transport receivers. " + _RESTORE_HINT,
        )
    return found[0] if found else None


def read_axis2(data: bytes, *, path: str = "axis2.xml") -> Axis2Values:
    """The managed values of an axis2.xml (raises :class:`ConfigFileError` if malformed)."""
    doc = XmlDocument.parse(data, path=path)
    clustering = _clustering(doc)
    members: list[WkaMember] = []
    members_element = clustering.child("members")
    if members_element is not None:
        for member in members_element.children_named("member"):
            port = _as_int(member.child_text("port"))
            members.append(WkaMember((member.child_text("hostName") or "").strip(), port or 0))
    properties: list[tuple[str, str]] = []
    properties_element = clustering.child("parameter", name="properties")
    if properties_element is not None:
        for item in properties_element.children_named("property"):
            properties.append((item.get("name") or "", item.get("value") or ""))
    receivers = {name: _receiver(doc, name, required=False) for name in ("http", "https")}
    return Axis2Values(
        clustering_class=clustering.get("class"),
        enabled=(clustering.get("enable") or "").strip() == "true",
        membership_scheme=_parameter_text(clustering, "membershipScheme"),
        domain=_parameter_text(clustering, "domain"),
        local_member_host=_parameter_text(clustering, "localMemberHost"),
        local_member_port=_as_int(_parameter_text(clustering, "localMemberPort")),
        members=tuple(members),
        properties=tuple(properties),
        http_port=None if receivers["http"] is None else _as_int(_parameter_text(receivers["http"], "port")),
        https_port=None
        if receivers["https"] is None
        else _as_int(_parameter_text(receivers["https"], "port")),
        http_wsdl_epr_prefix=None
        if receivers["http"] is None
        else _parameter_text(receivers["http"], "WSDLEPRPrefix"),
        https_wsdl_epr_prefix=None
        if receivers["https"] is None
        else _parameter_text(receivers["https"], "WSDLEPRPrefix"),
    )


def _property_xml(name: str, value: str) -> str:
    return build_element("property", attributes=[("name", name), ("value", value)])


def _member_xml(member: WkaMember) -> str:
    return build_element(
        "member",
        children=[build_element("hostName", member.host), build_element("port", str(member.port))],
    )


def _set_clustering_parameters(doc: XmlDocument, clustering: Element, settings: Axis2Settings) -> None:
    wanted = [
        ("membershipScheme", "wka"),
        ("domain", settings.domain),
        ("localMemberHost", settings.local_member_host),
        ("localMemberPort", str(settings.local_member_port)),
    ]
    # A missing parameter without a commented-out form goes after the first of these that is
    # (or will be) there, so that related parameters stay together.
    preceding = {
        "domain": ["membershipScheme"],
        "localMemberHost": ["localMemberPort", "domain"],
        "localMemberPort": ["localMemberHost", "domain"],
    }
    # Where each parameter is (or will be); filled with the existing ones first, so that a
    # missing one can also go after one that comes later in ``wanted``.
    placed: dict[str, Element | NewElement] = {}
    for name, _ in wanted:
        existing = clustering.child("parameter", name=name)
        if existing is not None:
            placed[name] = existing
    for name, value in wanted:
        after: list[Element | NewElement | None]
        if name == "membershipScheme":
            after = [clustering.child("parameter", name="AvoidInitiation")]
        else:
            after = [placed.get(key) for key in preceding[name]]
        placed[name] = doc.set_child_text(
            clustering, "parameter", value, attributes=[("name", name)], after_commented_out=True, after=after
        )


def _set_member_properties(doc: XmlDocument, clustering: Element, settings: Axis2Settings) -> None:
    assert settings.sub_domain is not None
    wanted: list[tuple[str, str]] = [("subDomain", settings.sub_domain)]
    wanted += [
        (f"{PORT_MAPPING_PREFIX}{elb_port}", str(target)) for elb_port, target in settings.port_mapping
    ]
    properties_parameter = clustering.child("parameter", name="properties")
    if properties_parameter is None:
        xml = build_element(
            "parameter",
            attributes=[("name", "properties")],
            children=[_property_xml(name, value) for name, value in wanted],
        )
        members = clustering.child("members")
        parameters = clustering.children_named("parameter")
        if members is not None:
            doc.insert_before(members, xml, blank_line=True)
        elif parameters:
            doc.insert_after(parameters[-1], xml, blank_line=True)
        else:
            doc.append_child(clustering, xml)
        return

    kept: list[Element] = []
    seen: set[str] = set()
    wanted_values = dict(wanted)
    for item in properties_parameter.children_named("property"):
        name = item.get("name") or ""
        managed = name == "subDomain" or name.startswith(PORT_MAPPING_PREFIX)
        if not managed:
            kept.append(item)
        elif name in wanted_values and name not in seen:
            doc.set_attribute(item, "value", wanted_values[name])
            seen.add(name)
            kept.append(item)
        else:
            # A stale port mapping, or a second subDomain / mapping for the same port.
            doc.remove(item)
    anchor: Element | NewElement | None = kept[-1] if kept else None
    for name, value in wanted:
        if name in seen:
            continue
        xml = _property_xml(name, value)
        anchor = (
            doc.insert_after(anchor, xml)
            if anchor is not None
            else doc.append_child(properties_parameter, xml)
        )


def _set_members(doc: XmlDocument, clustering: Element, wanted: tuple[WkaMember, ...]) -> None:
    members_element = clustering.child("members")
    if members_element is None:
        if not wanted:
            return
        xml = build_element("members", children=[_member_xml(member) for member in wanted])
        properties = clustering.child("parameter", name="properties")
        parameters = clustering.children_named("parameter")
        if properties is not None:
            doc.insert_after(properties, xml, blank_line=True)
        elif parameters:
            doc.insert_after(parameters[-1], xml, blank_line=True)
        else:
            doc.append_child(clustering, xml)
        return
    existing = members_element.children_named("member")
    kept: list[Element] = []
    for member, element in zip(wanted, existing, strict=False):
        host, port = element.child("hostName"), element.child("port")
        if host is None or port is None or host.elements or port.elements:
            doc.replace(element, _member_xml(member))
        else:
            doc.set_text(host, member.host)
            doc.set_text(port, str(member.port))
        kept.append(element)
    for element in existing[len(wanted) :]:
        doc.remove(element)
    anchor: Element | NewElement | None = kept[-1] if kept else None
    for member in wanted[len(existing) :]:
        xml = _member_xml(member)
        anchor = (
            doc.insert_after(anchor, xml) if anchor is not None else doc.append_child(members_element, xml)
        )


def _set_receiver_port(doc: XmlDocument, receiver: Element, port: int) -> None:
    found = receiver.children_named("parameter", name="port")
    if not found:
        raise ConfigFileError(
            f'{doc.path}: <transportReceiver name="{receiver.get("name")}"> (line '
            f"{doc.line_of(receiver.start)}) has no active port parameter",
            _RESTORE_HINT,
        )
    for element in found:
        doc.set_text(element, str(port))


def _set_wsdl_epr_prefix(doc: XmlDocument, receiver: Element, prefix: str) -> None:
    doc.set_child_text(
        receiver,
        "parameter",
        prefix,
        attributes=[("name", "WSDLEPRPrefix")],
        extra_attributes=[("locked", "false")],
        after_commented_out=True,
        after=[receiver.child("parameter", name="port")],
    )


def patch_axis2(original: bytes, settings: Axis2Settings, *, path: str = "axis2.xml") -> bytes:
    """``original`` with the clustering (and ELB/manager transport) settings applied.

    Returns the ``original`` object itself when nothing would change. Raises
    :class:`ConfigFileError` for a malformed file, a missing ``<clustering>`` / transport
    receiver, or a Hazelcast-based (Carbon 4.2) file.
    """
    if settings.port_mapping and settings.sub_domain is None:
        raise ValueError("Axis2Settings.port_mapping is only meaningful with a sub_domain")
    doc = XmlDocument.parse(original, path=path)
    clustering = _clustering(doc)
    agent = clustering.get("class") or ""
    if "hazelcast" in agent.lower():
        raise ConfigFileError(
            f"{path}: clustering uses {agent.strip()} (Carbon 4.2 or later), not Tribes",
            "This installer sets up ESB 4.7.0 and ELB 2.0.3 (Carbon 4.0/4.1, Tribes clustering) as "
            "the Clustering Guide 4.1.0 describes. Check that the plan's distribution zips are "
            "those versions.",
        )
    doc.set_attribute(clustering, "class", TRIBES_AGENT_CLASS)
    doc.set_attribute(clustering, "enable", "true")
    _set_clustering_parameters(doc, clustering, settings)
    if settings.sub_domain is not None:
        _set_member_properties(doc, clustering, settings)
    _set_members(doc, clustering, settings.members)
    if settings.transport_ports is not None:
        for name, port in zip(("http", "https"), settings.transport_ports, strict=True):
            receiver = _receiver(doc, name, required=True)
            assert receiver is not None
            _set_receiver_port(doc, receiver, port)
    if settings.wsdl_epr_prefix is not None:
        for name, prefix in zip(("http", "https"), settings.wsdl_epr_prefix, strict=True):
            receiver = _receiver(doc, name, required=True)
            assert receiver is not None
            _set_wsdl_epr_prefix(doc, receiver, prefix)
    return doc.result()
