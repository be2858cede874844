"""The ELB's ``loadbalancer.conf``: a lossless parser/writer of our own, a typed read API and the patch.

The file is nested ``name { key value; ... }`` blocks with ``#`` comments. The ELB reads it line by
line (``org.wso2.carbon.lb.common.conf.structure.NodeBuilder``): one statement per line, a comment
runs from the first ``#`` to the end of the line, a property's value is everything between its key
and the ``;``, block names may repeat (two ``wso2.esb.domain { }`` blocks are two domains, not one
merged), and a block still open at the end of the file is simply closed there. We read it the same
way, so the tree below is a concrete syntax tree: every physical line is kept verbatim, and
rendering an unchanged tree gives back the input byte for byte.

Text is ``str`` here; the bytes-level entry points decode UTF-8 with ``surrogateescape`` so that
stray non-UTF-8 bytes in comments survive a patch unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from installer.errors import ConfigFileError
from installer.files.settings import LbServiceDomain, LoadBalancerSettings

ENCODING = "utf-8"
ENCODING_ERRORS = "surrogateescape"

SERVICES_BLOCK = "services"
DEFAULTS_BLOCK = "defaults"
DOMAINS_BLOCK = "domains"

# Used for generated lines when the file gives no usable hint of its own indentation.
DEFAULT_INDENT_UNIT = "    "

# One physical line, its end-of-line kept. Only "\n" ends a line (as for the ELB's split("\n")),
# so a "\r" before it stays part of the line's text and round-trips untouched.
_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")


# --------------------------------------------------------------------------------------------
# The concrete syntax tree
# --------------------------------------------------------------------------------------------


@dataclass
class SourceLine:
    """One physical line exactly as in the file (end-of-line included) and its 1-based number.

    Lines we generate carry the number they would have in the fragment they were parsed from;
    numbers only matter for messages about the file as it was read.
    """

    text: str
    number: int

    @property
    def indent(self) -> str:
        return self.text[: len(self.text) - len(self.text.lstrip(" \t"))]


@dataclass
class Trivia:
    """A blank line or a line holding only a comment."""

    line: SourceLine


@dataclass
class Property:
    """``key value;`` (a trailing ``# comment`` stays in ``line`` only)."""

    line: SourceLine
    key: str
    value: str


@dataclass
class Block:
    """``name {`` ... ``}``.

    ``close_line`` is None when the file ended before the block was closed: the ELB accepts that,
    so we do too, and rendering does not invent the missing brace.
    """

    name: str
    open_line: SourceLine
    children: list[Node] = field(default_factory=list)
    close_line: SourceLine | None = None

    def blocks(self, name: str | None = None) -> list[Block]:
        return _child_blocks(self.children, name)

    def properties(self) -> dict[str, str]:
        return _properties_of(self.children)


Node = Trivia | Property | Block


@dataclass
class LoadBalancerConf:
    """A parsed ``loadbalancer.conf``: top-level nodes plus what was forgiven while reading."""

    children: list[Node]
    path: str = "loadbalancer.conf"
    warnings: list[str] = field(default_factory=list)

    def render(self) -> str:
        return "".join(line.text for line in _lines_of(self.children))

    def blocks(self, name: str | None = None) -> list[Block]:
        return _child_blocks(self.children, name)

    def services_block(self) -> Block | None:
        """The first top-level ``services`` block (the ELB looks only at the first one)."""
        found = self.blocks(SERVICES_BLOCK)
        return found[0] if found else None


def _child_blocks(children: Sequence[Node], name: str | None) -> list[Block]:
    return [child for child in children if isinstance(child, Block) and (name is None or child.name == name)]


def _properties_of(children: Sequence[Node]) -> dict[str, str]:
    # A repeated key: the later line wins, as in the ELB's property map.
    return {child.key: child.value for child in children if isinstance(child, Property)}


def _lines_of(children: Sequence[Node]) -> Iterator[SourceLine]:
    for child in children:
        if isinstance(child, Block):
            yield child.open_line
            yield from _lines_of(child.children)
            if child.close_line is not None:
                yield child.close_line
        else:
            yield child.line


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    return data.decode(ENCODING, ENCODING_ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ENCODING_ERRORS)


def parse_loadbalancer(text: str, *, path: str = "loadbalancer.conf") -> LoadBalancerConf:
    """Parse ``text`` into a lossless tree; ``parse_loadbalancer(t).render() == t`` always.

    Raises ConfigFileError (naming ``path`` and the line) for what the ELB cannot read the way its
    author meant: a ``}`` with no open block, a statement line without its ``;``, a closing brace
    sharing a line with something else, a property without a value. A block left open at the end
    of the file is closed implicitly and reported in ``warnings``.
    """
    children, unclosed = _parse_nodes(text, path)
    warnings = [
        f"{path}, line {block.open_line.number}: block '{block.name}' is never closed; it is read "
        "as closed at the end of the file, as the ELB does"
        for block in unclosed
    ]
    return LoadBalancerConf(children=children, path=path, warnings=warnings)


def _parse_nodes(text: str, path: str) -> tuple[list[Node], list[Block]]:
    """Top-level nodes of ``text``, and the blocks still open at its end (outermost first)."""
    top_level: list[Node] = []
    open_blocks: list[Block] = []
    for number, match in enumerate(_PHYSICAL_LINE.finditer(text), start=1):
        line = SourceLine(match.group(), number)
        statement = _statement_of(line.text)
        siblings = open_blocks[-1].children if open_blocks else top_level
        if not statement:
            siblings.append(Trivia(line))
        elif statement == "}":
            if not open_blocks:
                raise _syntax_error(
                    path,
                    line,
                    "'}' closes no open block",
                    "Remove the extra '}' or add the block opening ('name {') it was meant to close.",
                )
            open_blocks.pop().close_line = line
        elif statement.endswith("{"):
            block = Block(name=_block_name(statement, path, line), open_line=line)
            siblings.append(block)
            open_blocks.append(block)
        elif statement.endswith(";"):
            siblings.append(_property(statement, path, line))
        elif "}" in statement:
            raise _syntax_error(
                path,
                line,
                "'}' shares its line with other text",
                "The ELB reads one statement per line: put the closing '}' on a line of its own.",
            )
        elif "{" in statement:
            raise _syntax_error(
                path,
                line,
                "text follows '{'",
                "Put only the block name before '{' and start the block's content on the next line.",
            )
        else:
            raise _syntax_error(
                path,
                line,
                "this line does not end with ';'",
                "End every 'key value' line with ';' (a '#' comment may follow it).",
            )
    return top_level, open_blocks


def _statement_of(line_text: str) -> str:
    """The line without its comment and surrounding whitespace (what the ELB looks at)."""
    return line_text.split("#", 1)[0].strip()


def _block_name(statement: str, path: str, line: SourceLine) -> str:
    name = statement[:-1].strip()
    if not name:
        raise _syntax_error(path, line, "'{' without a block name", "Write the block name before '{'.")
    if any(char.isspace() or char in "{};" for char in name):
        raise _syntax_error(
            path,
            line,
            f"'{name}' is not a single block name",
            "A block starts with one name and '{'. If the line above is a 'key value' line, "
            "it may be missing its ';'.",
        )
    return name


def _property(statement: str, path: str, line: SourceLine) -> Property:
    body = statement[:-1].strip()
    if ";" in body:
        raise _syntax_error(
            path,
            line,
            "more than one ';' on the line",
            "The ELB reads one 'key value;' per line and ignores the rest: split them over lines.",
        )
    # The ELB turns any line holding '{' into a block unless it also holds '$' (a ${variable}).
    if ("{" in body or "}" in body) and "$" not in body:
        raise _syntax_error(
            path, line, "a brace inside a 'key value;' line", "Put each block brace on a line of its own."
        )
    parts = body.split(None, 1)
    if len(parts) < 2:
        raise _syntax_error(
            path, line, f"'{body}' has no value", "Write the line as 'key value;' or remove it."
        )
    key, value = parts
    return Property(line=line, key=key, value=value.strip())


def _syntax_error(path: str, line: SourceLine, problem: str, hint: str) -> ConfigFileError:
    shown = line.text.rstrip("\r\n").strip()
    return ConfigFileError(f"{path}, line {line.number}: {problem}: {shown!r}", hint)


# --------------------------------------------------------------------------------------------
# Semantic view
# --------------------------------------------------------------------------------------------


def split_hosts(value: str) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``: the ELB splits ``hosts`` on commas, empty parts dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


SemanticNode = tuple[str, str, object]


def semantic_tree(children: Sequence[Node]) -> tuple[SemanticNode, ...]:
    """What the nodes mean, without layout or comments: equal trees configure the ELB equally.

    Properties become ``("property", key, value)`` (``hosts`` as a tuple of names), blocks
    ``("block", name, <semantic tree of the children>)``; order and repetitions are kept.
    """
    meaning: list[SemanticNode] = []
    for child in children:
        if isinstance(child, Property):
            value: object = split_hosts(child.value) if child.key == "hosts" else child.value
            meaning.append(("property", child.key, value))
        elif isinstance(child, Block):
            meaning.append(("block", child.name, semantic_tree(child.children)))
    return tuple(meaning)


@dataclass(frozen=True)
class ServiceDomain:
    """One cluster domain block of a service, with the values the ELB would use for it.

    ``properties`` are the effective ones: the ``defaults`` block's, overlaid by the service
    block's own, overlaid by the domain block's (how the ELB applies them). ``sub_domain`` None
    means none given anywhere (the ELB then uses its ``__$default`` sub-domain).
    """

    name: str
    hosts: tuple[str, ...]
    sub_domain: str | None
    tenant_range: str | None
    properties: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class Service:
    """A block inside ``services`` other than ``defaults``.

    ``properties`` are the block's own ``key value;`` lines; ``domains`` are the blocks inside its
    ``domains`` block, in file order, repeated names kept (an exact copy of an earlier block is
    dropped, as the ELB does).
    """

    name: str
    properties: dict[str, str] = field(hash=False)
    domains: tuple[ServiceDomain, ...] = ()

    @property
    def hosts(self) -> tuple[str, ...]:
        return split_hosts(self.properties.get("hosts", ""))


def read_services(
    source: str | bytes | LoadBalancerConf, *, path: str = "loadbalancer.conf"
) -> list[Service]:
    """The services the ELB would front, in file order (empty when there is no ``services`` block)."""
    conf = _as_conf(source, path)
    services_block = conf.services_block()
    if services_block is None:
        return []
    defaults = services_block.blocks(DEFAULTS_BLOCK)
    default_properties = defaults[0].properties() if defaults else {}
    services: list[Service] = []
    for service_block in _distinct_blocks(services_block.blocks()):
        if service_block.name == DEFAULTS_BLOCK:
            continue
        service_properties = service_block.properties()
        domains_blocks = service_block.blocks(DOMAINS_BLOCK)
        domain_blocks = _distinct_blocks(domains_blocks[0].blocks()) if domains_blocks else []
        domains = []
        for domain_block in domain_blocks:
            effective = {**default_properties, **service_properties, **domain_block.properties()}
            domains.append(
                ServiceDomain(
                    name=domain_block.name,
                    hosts=split_hosts(effective.get("hosts", "")),
                    sub_domain=effective.get("sub_domain"),
                    tenant_range=effective.get("tenant_range"),
                    properties=effective,
                )
            )
        services.append(
            Service(name=service_block.name, properties=service_properties, domains=tuple(domains))
        )
    return services


def _distinct_blocks(blocks: Sequence[Block]) -> list[Block]:
    """``blocks`` without exact repeats of an earlier sibling.

    The ELB's ``Node.appendChild`` silently drops a child equal to one already added (same name,
    same properties, same children), so only repeated names with different content count twice.
    """
    kept: list[Block] = []
    seen: list[tuple[str, dict[str, str], tuple[SemanticNode, ...]]] = []
    for block in blocks:
        identity = (block.name, block.properties(), semantic_tree(block.blocks()))
        if identity not in seen:
            seen.append(identity)
            kept.append(block)
    return kept


def _as_conf(source: str | bytes | LoadBalancerConf, path: str) -> LoadBalancerConf:
    if isinstance(source, LoadBalancerConf):
        return source
    text = decode(source) if isinstance(source, bytes) else source
    return parse_loadbalancer(text, path=path)


# --------------------------------------------------------------------------------------------
# The patch
# --------------------------------------------------------------------------------------------


def patch_loadbalancer(
    original: bytes, settings: LoadBalancerSettings, *, path: str = "loadbalancer.conf"
) -> bytes:
    """Make ``services { <service_name> { domains { ... } } }`` hold exactly ``settings.domains``.

    An existing service block keeps its own opening and closing lines and gets the seed's shape as
    its whole content (one domain block per entry, in order), indented in the file's own style.
    A missing service block is added as the last block inside ``services``; a missing ``services``
    block is added at the end of the file. Everything else stays byte for byte. When the block
    already means exactly this (layout and comments aside), ``original`` itself is returned, and
    patching the result again always does that.

    Raises ConfigFileError (naming ``path`` and the line) for a file this cannot patch: a syntax
    error, braces that do not pair up (see ``_check_balanced``), two blocks for the service.
    """
    patched = _patch(original, settings, path)
    # Never append twice: what we write must read back as already patched. A structure this
    # patch does not foresee fails here, before any write, instead of growing on every run.
    if patched is not original and _patch(patched, settings, path) is not patched:
        raise ConfigFileError(
            f"{path}: the patched file would not read back as patched, so every run would change it again",
            "Check the file's braces and its 'services' block, fix what looks wrong and run again.",
        )
    return patched


def _patch(original: bytes, settings: LoadBalancerSettings, path: str) -> bytes:
    _check_writable(settings)
    conf = parse_loadbalancer(decode(original), path=path)
    _check_balanced(conf)
    end_of_line = _end_of_line_style(conf)
    indent_unit = _indent_unit(conf)
    services_block = conf.services_block()

    if services_block is None:
        _append_services_block(conf, settings, indent_unit, end_of_line)
        return encode(conf.render())

    existing = services_block.blocks(settings.service_name)
    if len(existing) > 1:
        raise ConfigFileError(
            f"{path}: services holds {len(existing)} '{settings.service_name}' blocks (lines "
            + ", ".join(str(block.open_line.number) for block in existing)
            + ")",
            f"Keep one '{settings.service_name}' block inside 'services' and run again.",
        )
    if existing:
        service_block = existing[0]
        body_text = "".join(
            _service_body_lines(settings, service_block.open_line.indent, indent_unit, end_of_line)
        )
        new_body, _ = _parse_nodes(body_text, path)
        if semantic_tree(service_block.children) == semantic_tree(new_body):
            return original
        _ensure_line_ends(service_block.open_line, end_of_line)
        service_block.children = new_body
        return encode(conf.render())

    _insert_service_block(services_block, settings, indent_unit, end_of_line, path)
    return encode(conf.render())


def _check_balanced(conf: LoadBalancerConf) -> None:
    """Refuse a file whose braces do not pair up, unless only the final '}' of ``services`` is missing.

    The ELB closes blocks still open at the end of the file, so ELB 2.0.5's own file, which lacks
    the last '}' of its ``services`` block, works: our block goes inside ``services`` and reads back
    the same. Any other unclosed block (an extra '{', a '}' missing elsewhere) moves ``services`` or
    the services in it somewhere the operator did not mean, and what we would add there might not
    be found again on the next run. A '}' at the start of its line that closes a nested block is
    the tell-tale of an extra '{' even when only ``services`` is left open.
    """
    unclosed = _unclosed_blocks(conf.children)
    if not unclosed:
        return
    misplaced = _misplaced_closing(conf.children)
    if unclosed == [conf.services_block()] and misplaced is None:
        return
    outermost, *inner = unclosed
    problem = f"block '{outermost.name}' is never closed"
    if misplaced is not None:
        block, closing = misplaced
        problem += (
            f" (the '}}' on line {closing.number}, where a top-level block would end, "
            f"closes '{block.name}' (line {block.open_line.number}) instead)"
        )
    if inner:
        problem += "; nor are " + ", ".join(f"'{block.name}' (line {block.open_line.number})" for block in inner)
    near = f" (look near line {misplaced[0].open_line.number})" if misplaced is not None else ""
    raise _syntax_error(
        conf.path,
        outermost.open_line,
        problem,
        f"A '{{' is extra or a '}}' is missing after line {outermost.open_line.number}{near}: make "
        "each block close where its indentation says, and run again.",
    )


def _unclosed_blocks(children: Sequence[Node]) -> list[Block]:
    """Blocks the file never closes, outermost first (only the last block of each level can be open)."""
    blocks = _child_blocks(children, None)
    if not blocks or blocks[-1].close_line is not None:
        return []
    return [blocks[-1], *_unclosed_blocks(blocks[-1].children)]


def _misplaced_closing(children: Sequence[Node], depth: int = 0) -> tuple[Block, SourceLine] | None:
    """The first nested block closed by a '}' at the very start of its line (top-level indentation)."""
    for block in _child_blocks(children, None):
        if depth > 0 and block.close_line is not None and block.close_line.text.startswith("}"):
            return block, block.close_line
        found = _misplaced_closing(block.children, depth + 1)
        if found is not None:
            return found
    return None


def _check_writable(settings: LoadBalancerSettings) -> None:
    # These come from the validated plan; a bad one here is a bug upstream, not the operator's.
    if not settings.service_name:
        raise ValueError("the service name is empty")
    if not settings.domains:
        raise ValueError("the ELB refuses a service without any domain: settings.domains is empty")
    words = [settings.service_name]
    for domain in settings.domains:
        if not domain.domain:
            raise ValueError("a domain name is empty")
        words += [domain.domain, domain.sub_domain, domain.tenant_range, *domain.hosts]
    for word in words:
        if any(char.isspace() or char in "{};#," for char in word):
            raise ValueError(f"{word!r} cannot be written into loadbalancer.conf")


def _service_body_lines(
    settings: LoadBalancerSettings, base_indent: str, unit: str, end_of_line: str
) -> list[str]:
    """The seed's shape: ``domains   { <domain> { hosts ..; sub_domain ..; tenant_range    ..; } }``."""
    domains_indent = base_indent + unit
    domain_indent = domains_indent + unit
    value_indent = domain_indent + unit
    lines = [f"{domains_indent}domains   {{{end_of_line}"]
    for domain in settings.domains:
        lines += _domain_lines(domain, domain_indent, value_indent, end_of_line)
    lines.append(f"{domains_indent}}}{end_of_line}")
    return lines


def _domain_lines(domain: LbServiceDomain, indent: str, value_indent: str, end_of_line: str) -> list[str]:
    lines = [f"{indent}{domain.domain} {{{end_of_line}"]
    if domain.hosts:
        # No space after the comma: the ELB's own default file writes them that way.
        lines.append(f"{value_indent}hosts {','.join(domain.hosts)};{end_of_line}")
    if domain.sub_domain:
        lines.append(f"{value_indent}sub_domain {domain.sub_domain};{end_of_line}")
    if domain.tenant_range:
        lines.append(f"{value_indent}tenant_range    {domain.tenant_range};{end_of_line}")
    lines.append(f"{indent}}}{end_of_line}")
    return lines


def _service_block_text(settings: LoadBalancerSettings, indent: str, unit: str, end_of_line: str) -> str:
    return (
        f"{indent}{settings.service_name} {{{end_of_line}"
        + "".join(_service_body_lines(settings, indent, unit, end_of_line))
        + f"{indent}}}{end_of_line}"
    )


def _insert_service_block(
    services_block: Block, settings: LoadBalancerSettings, unit: str, end_of_line: str, path: str
) -> None:
    siblings = services_block.blocks()
    indent = siblings[0].open_line.indent if siblings else services_block.open_line.indent + unit
    text = _service_block_text(settings, indent, unit, end_of_line)
    children = services_block.children
    if siblings:
        position = children.index(siblings[-1]) + 1
        # A blank line between service blocks, as in the ELB's own file.
        text = end_of_line + text
    else:
        position = len(children)
    preceding = _last_line(children[:position]) or services_block.open_line
    _ensure_line_ends(preceding, end_of_line)
    new_nodes, _ = _parse_nodes(text, path)
    children[position:position] = new_nodes


def _append_services_block(
    conf: LoadBalancerConf, settings: LoadBalancerSettings, unit: str, end_of_line: str
) -> None:
    text = (
        f"services {{{end_of_line}"
        + _service_block_text(settings, unit, unit, end_of_line)
        + f"}}{end_of_line}"
    )
    last = _last_line(conf.children)
    if last is not None:
        _ensure_line_ends(last, end_of_line)
        if last.text.strip():
            text = end_of_line + text
    new_nodes, _ = _parse_nodes(text, conf.path)
    conf.children.extend(new_nodes)


def _last_line(children: Sequence[Node]) -> SourceLine | None:
    for child in reversed(children):
        if not isinstance(child, Block):
            return child.line
        if child.close_line is not None:
            return child.close_line
        return _last_line(child.children) or child.open_line
    return None


def _ensure_line_ends(line: SourceLine, end_of_line: str) -> None:
    # Only the last line of a file can lack its end-of-line; text is about to follow it.
    if not line.text.endswith("\n"):
        line.text += end_of_line


def _end_of_line_style(conf: LoadBalancerConf) -> str:
    for line in _lines_of(conf.children):
        if line.text.endswith("\n"):
            return "\r\n" if line.text.endswith("\r\n") else "\n"
    return "\n"


def _indent_unit(conf: LoadBalancerConf) -> str:
    """The file's most common indentation step (all spaces or all tabs), else four spaces.

    Real files mix tabs and spaces freely; only steps where a child's indentation extends its
    block's indentation by a run of one kind of whitespace count.
    """
    steps: Counter[str] = Counter()

    def visit(block: Block) -> None:
        parent_indent = block.open_line.indent
        for child in block.children:
            if isinstance(child, Trivia):
                continue
            child_indent = child.open_line.indent if isinstance(child, Block) else child.line.indent
            step = child_indent[len(parent_indent) :] if child_indent.startswith(parent_indent) else ""
            if step and len(set(step)) == 1:
                steps[step] += 1
            if isinstance(child, Block):
                visit(child)

    for block in conf.blocks():
        visit(block)
    return steps.most_common(1)[0][0] if steps else DEFAULT_INDENT_UNIT
