"""Synapse proxy services as an ESB 4.7.0 node reads and runs them, cut down to what tests look at.

A proxy file (``synapse-configs/default/proxy-services/*.xml``) is parsed as Synapse's
ProxyServiceFactory would: not well-formed, not a ``<proxy>`` of the Synapse namespace, no
``name``, a log ``<property>`` without a name or with neither (or both) of ``value`` and
``expression``, an XPath that does not compile: each is a :class:`ProxyDefinitionError` carrying
the Java exception lines Carbon prints.

Mediation runs the inline ``<target><inSequence>``'s top-level mediators in order:

* ``<log level="simple|headers|full|custom" separator=", " category="INFO">`` with ``<property
  name value|expression>`` children prints LogMediator's line (``P1 = V1, P2 = V2`` for custom);
* ``<property name value|expression [action="remove"]>`` (default scope) sets what
  ``get-property('name')`` reads later;
* ``<respond/>`` stops mediation and answers 200 with the request's own payload;
* ``<send/>`` without an endpoint after ``<property name="RESPONSE" value="true"/>`` does the same:
  Synapse's echo (the message goes back to the client; ESB 4.7.0 has no ``<respond/>`` yet, so
  this is how a 4.7.0 proxy answers by itself); any other ``<send>`` calls a back end, which the
  stand-in never does, and mediation goes on;
* ``<drop/>`` stops mediation and answers 202 with no body.

Any other mediator (``send``, ``filter``, ``switch``, ...) is accepted, as Synapse knows it, and
has no effect here: the stand-in never calls a back end. A sequence that ends without a
response answers 202 Accepted with no body (a real out-in client would wait for a reply that
never comes; a test must not hang on it). Named sequences (``<target inSequence="key">``) are not
run.

Expressions are XPath 1.0 (lxml) over the message's SOAP envelope, with Synapse's
``get-property('name')`` / ``get-property('scope', 'name')`` (scopes ``default``, ``transport``
for HTTP headers, ``axis2``) and the variables ``$trp:Name``, ``$ctx:Name``, ``$axis2:Name``,
``$body`` and ``$header``. ``get-property`` knows ``To``, ``MessageID``, ``WSAction``,
``SOAPAction``, ``SYSTEM_TIME``, ``SERVER_IP``, ``SERVER_HOST`` and ``proxy.name``; an unknown
property is empty, as in Synapse.
"""

from __future__ import annotations

import io
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lxml import etree

from tests.support.carbon_standin.errors import java_exception

SYNAPSE_NS = "http://ws.apache.org/ns/synapse"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"

LOG_MEDIATOR = "org.apache.synapse.mediators.builtin.LogMediator"
SYNAPSE_XPATH = "org.apache.synapse.util.xpath.SynapseXPath"
LOG_LEVELS = ("simple", "headers", "full", "custom")
LOG_CATEGORIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
DEFAULT_SEPARATOR = ", "


class ProxyDefinitionError(Exception):
    """Synapse could not build a proxy from the file; ``exception`` is what log4j prints under the
    ERROR line. ``kind`` says where Synapse notices: ``"prolog"`` (the parser fails before the root
    element: the generic deployer reports it), ``"parse"`` (later in the document), ``"invalid"``
    (a well-formed proxy Synapse refuses) or ``"not-proxy"`` (the root is not a Synapse proxy)."""

    def __init__(self, message: str, exception: list[str], *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.exception = exception
        self.kind = kind


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(trp|ctx|axis2|transport):([A-Za-z_][\w.\-]*)")
_BODY = "/*[local-name()='Envelope']/*[local-name()='Body']"
_HEADER = "/*[local-name()='Envelope']/*[local-name()='Header']"
_VARIABLE_SCOPES = {"trp": "transport", "transport": "transport", "ctx": "default", "axis2": "axis2"}


def _synapse_to_xpath(text: str) -> str:
    """Synapse's XPath variables rewritten as the function calls they stand for."""
    text = _VARIABLE.sub(lambda m: f"get-property('{_VARIABLE_SCOPES[m[1]]}', '{m[2]}')", text)
    return re.sub(r"\$body\b", _BODY, re.sub(r"\$header\b", _HEADER, text))


def _no_property(context: object, *arguments: object) -> str:
    return ""


@dataclass(frozen=True)
class SynapseExpression:
    """An ``expression="..."`` attribute, compiled once (so that a bad one fails the deployment)."""

    source: str
    namespaces: tuple[tuple[str, str], ...]

    @classmethod
    def compile(cls, source: str, namespaces: Mapping[str | None, str]) -> SynapseExpression:
        prefixes = tuple((prefix, uri) for prefix, uri in namespaces.items() if prefix)
        expression = cls(source, prefixes)
        expression._xpath(_no_property)  # raises XPathSyntaxError now, not at the first request
        return expression

    def _xpath(self, get_property: Callable[..., str]) -> etree.XPath:
        return etree.XPath(_synapse_to_xpath(self.source), namespaces=dict(self.namespaces),
                           extensions={(None, "get-property"): get_property})

    def string_value(self, message: MessageContext) -> str:
        """SynapseXPath.stringValueOf: node text (an element with children serialised), Java number
        formatting, ``true``/``false``; an error is logged by the caller."""

        def get_property(context: object, *arguments: object) -> str:
            names = [_xpath_string(argument) for argument in arguments]
            scope, name = ("default", names[0]) if len(names) == 1 else (names[0].lower(), names[-1])
            return message.property(scope, name)

        result = self._xpath(get_property)(message.envelope)
        return _xpath_string(result)


def _xpath_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "".join(_xpath_string(item) for item in value)
    if isinstance(value, etree._Element):
        if len(value):
            return etree.tostring(value, encoding="unicode", with_tail=False)
        return value.text or ""
    return "" if value is None else str(value)


# --------------------------------------------------------------------------------------------
# Mediators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MediatorProperty:
    name: str
    value: str | None
    expression: SynapseExpression | None


@dataclass(frozen=True)
class LogMediator:
    level: str = "simple"
    separator: str = DEFAULT_SEPARATOR
    category: str = "INFO"
    properties: tuple[MediatorProperty, ...] = ()


@dataclass(frozen=True)
class PropertyMediator:
    property: MediatorProperty
    remove: bool = False


@dataclass(frozen=True)
class RespondMediator:
    pass


@dataclass(frozen=True)
class DropMediator:
    pass


@dataclass(frozen=True)
class SendMediator:
    has_endpoint: bool = False


@dataclass(frozen=True)
class OtherMediator:
    """A mediator Synapse knows and the stand-in does not run (send, filter, ...)."""

    name: str


Mediator = LogMediator | PropertyMediator | RespondMediator | DropMediator | SendMediator | OtherMediator


@dataclass(frozen=True)
class ProxyService:
    name: str
    in_sequence: tuple[Mediator, ...]


# --------------------------------------------------------------------------------------------
# Reading a proxy file
# --------------------------------------------------------------------------------------------


def _synapse_exception(text: str, frame: str) -> list[str]:
    return java_exception("org.apache.synapse.SynapseException", text, [
        frame,
        "org.apache.synapse.config.xml.ProxyServiceFactory.createProxy(ProxyServiceFactory.java:120)",
        "org.apache.synapse.deployers.ProxyServiceDeployer.deploySynapseArtifact(ProxyServiceDeployer.java:58)",
    ])


def _definition_error(text: str, frame: str) -> ProxyDefinitionError:
    return ProxyDefinitionError(text, _synapse_exception(text, frame))


def _started_root(data: bytes) -> bool:
    """Whether a streaming parser gets as far as the root element's start tag."""
    try:
        for _ in etree.iterparse(io.BytesIO(data), events=("start",), resolve_entities=False, no_network=True):
            return True
    except etree.XMLSyntaxError:
        return False
    return False


def _parse_error(data: bytes, error: etree.XMLSyntaxError) -> ProxyDefinitionError:
    line, column = error.position if error.position else (error.lineno or 0, 0)
    # Woodstox, under Axiom, is the parser Synapse reads artifacts with.
    woodstox = f"com.ctc.wstx.exc.WstxParsingException: {error.msg}\n at [row,col {{unknown-source}}]: [{line},{column}]"
    lines = java_exception("org.apache.axiom.om.OMException", woodstox, [
        "org.apache.axiom.om.impl.builder.StAXOMBuilder.next(StAXOMBuilder.java:296)",
        "org.apache.axiom.om.impl.llom.OMElementImpl.buildNext(OMElementImpl.java:653)",
    ], caused_by=[woodstox, "\tat com.ctc.wstx.sr.StreamScanner.constructWfcException(StreamScanner.java:606)"])
    return ProxyDefinitionError(f"{error.msg}", lines, kind="parse" if _started_root(data) else "prolog")


def _synapse_children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str) and etree.QName(child).namespace == SYNAPSE_NS
            and etree.QName(child).localname == name]


def _mediator_property(element: etree._Element, factory_frame: str) -> MediatorProperty:
    name = element.get("name")
    value = element.get("value")
    expression_text = element.get("expression")
    if not name:
        raise _definition_error("Property name attribute is required", factory_frame)
    if (value is None) == (expression_text is None):
        raise _definition_error(f"Property {name}: either a value or an expression is required, not both",
                                factory_frame)
    expression = None
    if expression_text is not None:
        try:
            expression = SynapseExpression.compile(expression_text, element.nsmap)
        except etree.XPathSyntaxError:
            raise _definition_error(f"Invalid XPath expression for attribute 'expression' : {expression_text}",
                                    "org.apache.synapse.config.xml.SynapseXPathFactory.getSynapseXPath"
                                    "(SynapseXPathFactory.java:68)") from None
    return MediatorProperty(name, value, expression)


def _log_mediator(element: etree._Element) -> LogMediator:
    frame = "org.apache.synapse.config.xml.LogMediatorFactory.createSpecificMediator(LogMediatorFactory.java:84)"
    level = (element.get("level") or "simple").strip()
    if level not in LOG_LEVELS:
        raise _definition_error(f"Invalid log level. Level has to be one of the following : {', '.join(LOG_LEVELS)}",
                                frame)
    category = (element.get("category") or "INFO").strip().upper()
    if category not in LOG_CATEGORIES:
        raise _definition_error(f"Invalid log category. Category has to be one of the following : "
                                f"{', '.join(LOG_CATEGORIES)}", frame)
    properties = tuple(_mediator_property(child, frame) for child in _synapse_children(element, "property"))
    separator = element.get("separator")
    return LogMediator(level=level, separator=DEFAULT_SEPARATOR if separator is None else separator,
                       category=category, properties=properties)


def _mediator(element: etree._Element) -> Mediator:
    name = etree.QName(element).localname
    if name == "log":
        return _log_mediator(element)
    if name == "property":
        frame = "org.apache.synapse.config.xml.PropertyMediatorFactory.createSpecificMediator(PropertyMediatorFactory.java:71)"
        if (element.get("action") or "set").strip().lower() == "remove":
            if not element.get("name"):
                raise _definition_error("Property name attribute is required", frame)
            return PropertyMediator(MediatorProperty(element.get("name", ""), None, None), remove=True)
        return PropertyMediator(_mediator_property(element, frame))
    if name == "respond":
        return RespondMediator()
    if name == "drop":
        return DropMediator()
    if name == "send":
        return SendMediator(has_endpoint=any(isinstance(child.tag, str) for child in element))
    return OtherMediator(name)


def parse_proxy(data: bytes) -> ProxyService:
    """The proxy a file defines; raises :class:`ProxyDefinitionError` as Synapse would fail on it."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise _parse_error(data, error) from None
    qname = etree.QName(root)
    if qname.namespace != SYNAPSE_NS or qname.localname != "proxy":
        raise ProxyDefinitionError("not a ProxyService", [], kind="not-proxy")
    name = (root.get("name") or "").strip()
    if not name:
        raise _definition_error("The 'name' attribute is required for a Proxy service definition",
                                "org.apache.synapse.config.xml.ProxyServiceFactory.handleException"
                                "(ProxyServiceFactory.java:522)")
    mediators: list[Mediator] = []
    for target in _synapse_children(root, "target"):
        for sequence in _synapse_children(target, "inSequence"):
            mediators += [_mediator(child) for child in sequence if isinstance(child.tag, str)]
    return ProxyService(name=name, in_sequence=tuple(mediators))


# --------------------------------------------------------------------------------------------
# Running a proxy
# --------------------------------------------------------------------------------------------


@dataclass
class MessageContext:
    """One request as Synapse sees it: the To address, the HTTP headers, the SOAP envelope."""

    to: str
    method: str
    headers: Mapping[str, str]  # HTTP headers, looked up without regard to case
    payload: bytes
    content_type: str | None
    server_ip: str
    proxy_name: str | None = None
    message_id: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    properties: dict[str, str] = field(default_factory=dict)
    envelope: etree._Element = field(init=False)

    def __post_init__(self) -> None:
        self.envelope = build_envelope(self.payload)

    @property
    def soap_action(self) -> str | None:
        action = (self._header("SOAPAction") or "").strip().strip('"')
        return action or None

    def _header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def property(self, scope: str, name: str) -> str:
        if scope == "transport":
            return self._header(name) or ""
        if scope == "axis2":
            return {"HTTP_METHOD": self.method, "REST_URL_POSTFIX": ""}.get(name, "")
        if name in self.properties:
            return self.properties[name]
        known = {"To": self.to, "MessageID": self.message_id, "WSAction": self.soap_action or "",
                 "SOAPAction": self.soap_action or "", "SYSTEM_TIME": str(int(time.time() * 1000)),
                 "SERVER_IP": self.server_ip, "SERVER_HOST": self.server_ip, "proxy.name": self.proxy_name or ""}
        return known.get(name, "")


def build_envelope(payload: bytes) -> etree._Element:
    """The SOAP envelope Axis2 builds: the request's own, its XML payload in a SOAP 1.2 body (what
    Axis2 does for a non-SOAP message), or an empty SOAP 1.2 body (a GET, a non-XML body)."""
    document: etree._Element | None = None
    if payload.strip():
        try:
            document = etree.fromstring(payload, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError:
            document = None
    if document is not None and etree.QName(document).localname == "Envelope" and \
            etree.QName(document).namespace in (SOAP11_NS, SOAP12_NS):
        return document
    envelope = etree.Element(f"{{{SOAP12_NS}}}Envelope", nsmap={"soapenv": SOAP12_NS})
    body = etree.SubElement(envelope, f"{{{SOAP12_NS}}}Body")
    if document is not None:
        body.append(document)
    return envelope


def envelope_text(envelope: etree._Element) -> str:
    """Axiom's serialisation of an envelope, as ``log level="full"`` prints it."""
    return "<?xml version='1.0' encoding='utf-8'?>" + etree.tostring(envelope, encoding="unicode")


@dataclass(frozen=True)
class LogEntry:
    level: str  # log4j level: INFO, WARN, ERROR (TRACE and DEBUG are below Carbon's threshold)
    logger: str
    message: str


@dataclass(frozen=True)
class MediationResult:
    log: tuple[LogEntry, ...]
    status: int
    body: bytes
    content_type: str | None


def _evaluate(prop: MediatorProperty, message: MessageContext, log: list[LogEntry]) -> str:
    if prop.value is not None or prop.expression is None:
        return prop.value or ""
    try:
        return prop.expression.string_value(message)
    except (etree.XPathError, ValueError) as error:
        log.append(LogEntry("ERROR", SYNAPSE_XPATH, f"Evaluation of the XPath expression {prop.expression.source} "
                                                    f"resulted in an error ({error})"))
        return ""


def log_message(mediator: LogMediator, message: MessageContext, log: list[LogEntry]) -> str:
    """LogMediator.getLogMessage for the mediator's level."""
    separator = mediator.separator
    parts: list[str] = []
    if mediator.level in ("simple", "full"):
        parts.append(f"To: {message.to}")
        if message.soap_action:
            parts += [f"WSAction: {message.soap_action}", f"SOAPAction: {message.soap_action}"]
        parts += [f"MessageID: {message.message_id}", "Direction: request"]
    elif mediator.level == "headers":
        header = message.envelope.find(f"{{{etree.QName(message.envelope).namespace}}}Header")
        for block in header if header is not None else []:
            if isinstance(block.tag, str):
                parts.append(f"{etree.QName(block).localname} : {''.join(block.itertext())}")
    parts += [f"{prop.name} = {_evaluate(prop, message, log)}" for prop in mediator.properties]
    if mediator.level == "full":
        parts.append(f"Envelope: {envelope_text(message.envelope)}")
    return separator.join(parts)


# Carbon's log4j.properties log at INFO and above: DEBUG and TRACE lines never show.
_PRINTED_CATEGORIES = {"INFO": "INFO", "WARN": "WARN", "ERROR": "ERROR", "FATAL": "FATAL"}


def mediate(mediators: tuple[Mediator, ...], message: MessageContext) -> MediationResult:
    """Run ``mediators`` on ``message``: the lines logged on the way, and the HTTP answer."""
    log: list[LogEntry] = []
    for mediator in mediators:
        if isinstance(mediator, LogMediator):
            text = log_message(mediator, message, log)
            level = _PRINTED_CATEGORIES.get(mediator.category)
            if level is not None:
                log.append(LogEntry(level, LOG_MEDIATOR, text))
        elif isinstance(mediator, PropertyMediator):
            if mediator.remove:
                message.properties.pop(mediator.property.name, None)
            else:
                message.properties[mediator.property.name] = _evaluate(mediator.property, message, log)
        elif isinstance(mediator, RespondMediator):
            return MediationResult(tuple(log), 200, message.payload, message.content_type or "text/xml")
        elif isinstance(mediator, SendMediator):
            if not mediator.has_endpoint and message.properties.get("RESPONSE", "").strip().lower() == "true":
                return MediationResult(tuple(log), 200, message.payload, message.content_type or "text/xml")
        elif isinstance(mediator, DropMediator):
            break
    return MediationResult(tuple(log), 202, b"", None)


# The ESB's default main sequence (synapse-configs/default/sequences/main.xml of ESB 4.7.0): every
# message no proxy takes is logged in full, and, not being for the samples' back end, sent nowhere.
MAIN_SEQUENCE: tuple[Mediator, ...] = (LogMediator(level="full"),)
