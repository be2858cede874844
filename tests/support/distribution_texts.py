"""The text of the configuration files inside the fixture WSO2 distributions.

Our own files, modelled on the shape of the real ones of the Carbon 4.0/4.1 era (see
``../shared/carbon-configs/SOURCES.md``) but much shorter. Each is a template file under
``templates/``, one per distribution file: ``carbon/`` holds the Carbon kernel files both
products have, ``esb/`` and ``elb/`` each product's own. The functions below render them; their
names and parameters are what the builder (``build_distributions``) calls.

What the installer's patchers and the Carbon stand-in must cope with is kept on purpose, and
each such quirk is named in a comment of the function that renders the file carrying it:

- XML declarations as the real files have them: ``encoding="ISO-8859-1"`` (axis2.xml, carbon.xml,
  registry.xml), single quotes (catalina-server.xml), none at all (master-datasources.xml,
  user-mgt.xml);
- the commented-out defaults the patchers replace or insert next to:
  ``<!--parameter name="localMemberHost">127.0.0.1</parameter-->``,
  ``<!--HostName>www.wso2.org</HostName-->``, ``<!--parameter name="WSDLEPRPrefix" ...-->``;
- attributes spread over several lines, tabs mixed with spaces, trailing blanks, a file without
  a final newline, entities in text (``&lt;&gt;``), other ``<Name>`` elements deeper in
  carbon.xml than the product name;
- in ``mysql.sql``: ``CREATE TABLE IF NOT EXISTS`` for the registry tables but a plain
  ``CREATE TABLE`` for the user-manager tables and plain ``CREATE INDEX`` statements (neither is
  idempotent, exactly as in the Carbon kernel script), ``--`` and ``/* */`` comments and string
  literals holding ``;``.

The trailing blanks and the missing final newline are in the template files themselves;
``templates/.editorconfig`` and ``templates/.gitattributes`` keep editors and git from "fixing"
them, and ``tests/test_build_distributions.py`` fails if one is lost anyway.

Placeholders are ``@{name}`` (see ``FixtureTemplate``). Every function returns ``str``; the
builder encodes it (all of it is ASCII).
"""

from __future__ import annotations

import functools
import string
from pathlib import Path

TEMPLATES_DIR = Path(__file__).with_name("templates")


class FixtureTemplate(string.Template):
    """``@{name}`` is a placeholder and ``@@{`` a literal ``@{``; everything else is text.

    Not ``string.Template``'s ``$``: these files are full of ``${...}`` (Carbon's system
    properties, the shell's parameter expansions), each of which would need escaping. A bare
    ``@`` (the shell's ``"$@"``, log4j's ``%@``) is text, so no template needs an escape today,
    while an ``@{`` that is not a placeholder is an error rather than silently text.
    """

    delimiter = "@"
    # Case-sensitive: "@{Name}" is a mistake to report, not a second spelling of "@{name}".
    flags = 0
    pattern = r"""
        @(?:
            (?P<escaped>@(?=\{))              # "@@{" is a literal "@{"
          | \{(?P<braced>[a-z_][a-z0-9_]*)\}  # "@{name}" is a placeholder
          | (?P<invalid>\{)                   # any other "@{" is a mistake
          | (?P<named>(?!))                   # there is no bare "@name" form
        )
    """


@functools.cache
def template(name: str) -> FixtureTemplate:
    """The template ``name``, a path under ``templates/`` such as ``"esb/axis2.xml"``."""
    # Bytes decoded by hand: read_text() would translate line ends, and the files must come
    # out byte for byte. ASCII, because the files declare ISO-8859-1, UTF-8 or nothing.
    return FixtureTemplate((TEMPLATES_DIR / name).read_bytes().decode("ascii"))


def template_names() -> list[str]:
    """Every template, as the names ``template`` takes, sorted."""
    return sorted(
        path.relative_to(TEMPLATES_DIR).as_posix()
        for path in TEMPLATES_DIR.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    )


def render(template_name: str, /, **values: str) -> str:
    """The template ``template_name`` with its placeholders replaced by ``values``, taken literally.

    ``values`` must give exactly the template's placeholders: a missing one raises ``KeyError``
    and one the template does not have raises ``ValueError``, so a misspelt name cannot leave a
    placeholder in a distribution or a value out of it.
    """
    # Positional-only: carbon.xml has a placeholder called "name".
    fixture_template = template(template_name)
    unused = set(values) - set(fixture_template.get_identifiers())
    if unused:
        raise ValueError(f"{template_name} has no placeholder {', '.join(sorted(unused))}")
    return fixture_template.substitute(values)


# --------------------------------------------------------------------------------------------
# Shared by both products (Carbon kernel files)
# --------------------------------------------------------------------------------------------


def carbon_xml(*, name: str, server_key: str, version: str, server_role: str) -> str:
    """``repository/conf/carbon.xml`` with the product values a built pack has filled in."""
    # The ServerURL/WorkDirectory values use ${...} system properties, as in the real file;
    # they are text to the template. Tabs mixed with spaces in <Ports>; <Name> elements under
    # ServiceUserRoles that are not the product name.
    return render(
        "carbon/carbon.xml", name=name, server_key=server_key, version=version, server_role=server_role
    )


def catalina_server_xml() -> str:
    """``repository/conf/tomcat/catalina-server.xml``: the servlet transports 9763 / 9443."""
    # Single-quoted declaration, multi-line attributes and a trailing blank, as in the real file.
    return render("carbon/catalina-server.xml")


def log4j_properties(*, product_label: str, error_log: str) -> str:
    """``repository/conf/log4j.properties``: console and file layouts of a 4.7.0-era product.

    ``error_log`` is written as given: the ESB puts it under ``${carbon.home}``, the ELB uses a
    path relative to the working folder.
    """
    return render("carbon/log4j.properties", product_label=product_label, error_log=error_log)


def wso2server_sh(*, extra_arguments: str = "") -> str:
    """``bin/wso2server.sh``: launches the Carbon stand-in instead of a JVM.

    ``extra_arguments`` go before the caller's arguments (the ELB's real script adds its
    ``-Dwso2.loadbalancer=true -Dloadbalancer.conf=...`` system properties the same way).
    """
    # The blank that separates them from "$@" comes with them, so that a script without any
    # has a single blank there, as before.
    return render("carbon/wso2server.sh", extra_arguments=f"{extra_arguments} " if extra_arguments else "")


def version_txt(*, product_name: str, version: str) -> str:
    """``bin/version.txt``: the product's name and version, on one line."""
    return render("carbon/version.txt", product_name=product_name, version=version)


def wso2carbon_version_txt(*, carbon_version: str) -> str:
    """``bin/wso2carbon-version.txt``: the Carbon kernel release the product is built on."""
    return render("carbon/wso2carbon-version.txt", carbon_version=carbon_version)


# --------------------------------------------------------------------------------------------
# WSO2 ESB 4.7.0
# --------------------------------------------------------------------------------------------


def esb_axis2_xml(version: str) -> str:
    """``repository/conf/axis2/axis2.xml`` of the ESB: clustering present but off, multicast."""
    # Quirks kept from the real ESB 4.7.0 file:
    # - the https receiver is indented by six spaces, and its non-blocking parameter is
    #   followed by a stray "-->" (left over from a commented-out block; plain text to XML);
    # - both pass-through receivers carry WSDLEPRPrefix only as a comment;
    # - groupManagement/applicationDomain, nodeManager and stateManager spread their
    #   attributes over several lines.
    return render("esb/axis2.xml", version=version)


def esb_master_datasources_xml() -> str:
    """``repository/conf/datasources/master-datasources.xml``: the embedded H2 database."""
    # No XML declaration, as in the real file; a line of blanks only; the sample datasource
    # is commented out with the "<!--datasource ... datasource-->" form.
    return render("esb/master-datasources.xml")


def esb_user_mgt_xml() -> str:
    """``repository/conf/user-mgt.xml``: JDBC user store on the ``jdbc/WSO2CarbonDB`` datasource."""
    # No XML declaration; tab-indented comments, one followed by a trailing tab; the regular
    # expression keeps its &lt;&gt; entities and backslash-escaped quotes.
    return render("esb/user-mgt.xml")


def esb_registry_xml() -> str:
    """``repository/conf/registry.xml``: local registry on ``jdbc/WSO2CarbonDB``, mounts as examples."""
    return render("esb/registry.xml")


def esb_mysql_sql() -> str:
    """``dbscripts/mysql.sql``: a Carbon-style schema (registry + user manager tables).

    Like the kernel script it has no CREATE DATABASE / USE; the registry tables are created
    ``IF NOT EXISTS`` but the user-manager tables and every index are not, so sourcing it a
    second time into the same database fails.
    """
    # Tab-indented columns in UM_TENANT; trailing blanks on three lines.
    return render("esb/mysql.sql")


def esb_readme_txt(version: str) -> str:
    """``README.txt`` of the ESB: says what this pack is, and is not."""
    return render("esb/README.txt", version=version)


# --------------------------------------------------------------------------------------------
# WSO2 ELB 2.0.3
# --------------------------------------------------------------------------------------------


def elb_axis2_xml() -> str:
    """``repository/conf/axis2/axis2.xml`` of the ELB: Tribes clustering on, wka, no <members>."""
    # Quirks kept from the real ELB 2.0.x file: receivers indented by three spaces, the http
    # port parameter without a locked attribute, " true" with a leading blank, an active
    # mcastBindAddress, and no properties parameter, no <members>, no groupManagement.
    return render("elb/axis2.xml")


def elb_loadbalancer_conf() -> str:
    """``repository/conf/loadbalancer.conf``: our version of the stock ELB file.

    Nested ``name { key value; }`` blocks, ``#`` comments (one after a value), tabs mixed
    with spaces and a few trailing blanks, kept byte for byte by a round-trip.
    """
    return render("elb/loadbalancer.conf")


def elb_user_mgt_xml() -> str:
    """``repository/conf/user-mgt.xml`` of the ELB: its own H2 user store, no dataSource property."""
    # Ends without a final newline, as the real ELB file does.
    return render("elb/user-mgt.xml")


def elb_readme_txt(version: str) -> str:
    """``README.txt`` of the ELB: says what this pack is, and is not."""
    return render("elb/README.txt", version=version)
