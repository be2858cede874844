"""``repository/conf/datasources/master-datasources.xml``: the RDBMS datasources of a node.

What :func:`patch_datasources` makes true is
:class:`~installer.files.settings.DatasourcesSettings`' docstring. An existing datasource is
"ours" when its name or JNDI name is one of ours (so the default H2 ``WSO2_CARBON_DB`` /
``jdbc/WSO2CarbonDB`` is taken over by the seed's local registry datasource).

Ours that exist already are updated in place, element text by element text, so the diff shows
the values that change and a second run changes nothing. That is possible while ours stand
together (no other datasource between them) and in our order; otherwise the ones found are
removed and the whole set is written afresh where the first of them stood, after which the next
run is again an in-place no-op. Child elements we do not manage (pool settings such as
``minIdle``, ``jndiConfig/environment``) are kept when updating in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from installer.errors import ConfigFileError
from installer.files.settings import Datasource, DatasourcesSettings
from installer.files.xmlsplice import Element, NewElement, XmlDocument, build_element

_RESTORE_HINT = (
    "Restore repository/conf/datasources/master-datasources.xml from the distribution zip and run "
    "the installer again."
)


@dataclass(frozen=True)
class DatasourceValues:
    """One active ``<datasource>`` as the file has it.

    ``password`` is the clear-text password from the file: callers must never print or log it
    (it is left out of ``repr`` so an accidental print of the value does not show it).
    """

    name: str
    description: str | None
    jndi_name: str | None
    definition_type: str | None
    url: str | None
    username: str | None
    driver_class: str | None
    password: str | None = field(default=None, repr=False)


# The <configuration> children we write, in the seed's order.
def _configuration_fields(datasource: Datasource) -> list[tuple[str, str]]:
    return [
        ("url", datasource.url),
        ("username", datasource.username),
        ("password", datasource.password),
        ("driverClassName", datasource.driver_class),
        ("maxActive", str(datasource.max_active)),
        ("maxWait", str(datasource.max_wait)),
        ("testOnBorrow", "true" if datasource.test_on_borrow else "false"),
        ("validationQuery", datasource.validation_query),
        ("validationInterval", str(datasource.validation_interval)),
    ]


def _datasource_xml(datasource: Datasource) -> str:
    return build_element(
        "datasource",
        children=[
            build_element("name", datasource.name),
            build_element("description", datasource.description),
            build_element("jndiConfig", children=[build_element("name", datasource.jndi_name)]),
            build_element(
                "definition",
                attributes=[("type", "RDBMS")],
                children=[
                    build_element(
                        "configuration",
                        children=[
                            build_element(tag, value) for tag, value in _configuration_fields(datasource)
                        ],
                    )
                ],
            ),
        ],
    )


def _datasources_element(doc: XmlDocument) -> Element:
    container = doc.root.child("datasources") if doc.root.local_name == "datasources-configuration" else None
    if container is None:
        raise ConfigFileError(
            f"{doc.path}: there is no active datasources-configuration/datasources element",
            _RESTORE_HINT,
        )
    return container


def _text(element: Element | None) -> str | None:
    return None if element is None else element.text.strip()


def _name(element: Element) -> str | None:
    return _text(element.child("name"))


def _jndi_name(element: Element) -> str | None:
    jndi = element.child("jndiConfig")
    return None if jndi is None else _text(jndi.child("name"))


def _configuration(element: Element) -> Element | None:
    definition = element.child("definition")
    return None if definition is None else definition.child("configuration")


def read_datasources(data: bytes, *, path: str = "master-datasources.xml") -> tuple[DatasourceValues, ...]:
    """Every active datasource of the file, in file order.

    The values carry passwords: never print or log them.
    """
    doc = XmlDocument.parse(data, path=path)
    found = []
    for element in _datasources_element(doc).children_named("datasource"):
        configuration = _configuration(element)
        definition = element.child("definition")

        def setting(tag: str, configuration: Element | None = configuration) -> str | None:
            return None if configuration is None else _text(configuration.child(tag))

        found.append(
            DatasourceValues(
                name=_name(element) or "",
                description=_text(element.child("description")),
                jndi_name=_jndi_name(element),
                definition_type=None if definition is None else definition.get("type"),
                url=setting("url"),
                username=setting("username"),
                driver_class=setting("driverClassName"),
                # As Carbon reads it (JAXB keeps a value's spaces): a password may begin or end with one.
                password=None if configuration is None or configuration.child("password") is None
                else configuration.child("password").text,
            )
        )
    return tuple(found)


def _can_update_in_place(element: Element) -> bool:
    jndi = element.child("jndiConfig")
    return (
        element.child("name") is not None
        and jndi is not None
        and jndi.child("name") is not None
        and _configuration(element) is not None
    )


def _update_in_place(doc: XmlDocument, element: Element, datasource: Datasource) -> None:
    doc.set_child_texts(element, [("name", datasource.name), ("description", datasource.description)])
    jndi = element.child("jndiConfig")
    assert jndi is not None
    doc.set_child_texts(jndi, [("name", datasource.jndi_name)])
    definition = element.child("definition")
    assert definition is not None
    doc.set_attribute(definition, "type", "RDBMS")
    configuration = definition.child("configuration")
    assert configuration is not None
    doc.set_child_texts(configuration, _configuration_fields(datasource))


def patch_datasources(
    original: bytes, settings: DatasourcesSettings, *, path: str = "master-datasources.xml"
) -> bytes:
    """``original`` holding ``settings.datasources`` (see the module docstring for how).

    Returns the ``original`` object itself when nothing would change; raises
    :class:`ConfigFileError` when the file is malformed or has no ``<datasources>``.
    """
    wanted = settings.datasources
    names = [datasource.name for datasource in wanted]
    jndi_names = [datasource.jndi_name for datasource in wanted]
    if len(set(names)) != len(names) or len(set(jndi_names)) != len(jndi_names):
        raise ValueError("DatasourcesSettings: datasource names and JNDI names must be unique")

    doc = XmlDocument.parse(original, path=path)
    container = _datasources_element(doc)
    existing = container.children_named("datasource")

    # Pair each of ours with one existing datasource: the same name first, else the same JNDI name.
    paired: dict[int, Element] = {}
    for key in (_name, _jndi_name):
        for index, datasource in enumerate(wanted):
            if index in paired:
                continue
            our_key = datasource.name if key is _name else datasource.jndi_name
            candidates = [
                element
                for element in existing
                if key(element) == our_key and all(element is not other for other in paired.values())
            ]
            if candidates:
                paired[index] = candidates[0]
    matched = [
        element for element in existing if _name(element) in names or _jndi_name(element) in jndi_names
    ]

    positions = {id(element): position for position, element in enumerate(existing)}
    paired_in_order = [paired[index] for index in sorted(paired)]
    in_order = all(
        positions[id(first)] < positions[id(second)]
        for first, second in zip(paired_in_order, paired_in_order[1:], strict=False)
    )
    if matched:
        span = existing[positions[id(matched[0])] : positions[id(matched[-1])] + 1]
        together = all(element in matched for element in span)
    else:
        together = True
    updatable = all(_can_update_in_place(element) for element in paired.values())

    if not (in_order and together and updatable):
        # Rewrite the set where the first of ours stood; the next run finds it in shape.
        doc.replace(matched[0], "\n\n".join(_datasource_xml(datasource) for datasource in wanted))
        for element in matched[1:]:
            doc.remove(element)
        return doc.result()

    for element in matched:
        if all(element is not other for other in paired.values()):
            doc.remove(element)  # a second datasource with one of our names or JNDI names
    previous: Element | NewElement | None = None
    for index, datasource in enumerate(wanted):
        if index in paired:
            _update_in_place(doc, paired[index], datasource)
            previous = paired[index]
            continue
        xml = _datasource_xml(datasource)
        later = next((paired[later] for later in range(index + 1, len(wanted)) if later in paired), None)
        if previous is not None:
            previous = doc.insert_after(previous, xml, blank_line=True)
        elif later is not None:
            previous = doc.insert_before(later, xml, blank_line=True)
        elif existing:
            previous = doc.insert_after(existing[-1], xml, blank_line=True)
        else:
            previous = doc.append_child(container, xml, blank_line=True)
    return doc.result()
