"""Cutting MySQL scripts into statements as the mysql client does; what the statements create."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from installer.errors import InstallerError
from installer.sqlscript import (
    Kind,
    SchemaPresence,
    ScriptObjects,
    SqlScriptError,
    StatementKind,
    classify,
    script_objects,
    split_script_file,
    split_statements,
)
from tests.paths import CARBON_CONFIGS_DIR
from tests.support.mariadb import find_mariadb_program

KERNEL_SCRIPTS = {
    version: CARBON_CONFIGS_DIR / f"carbon-kernel-{version}" / "dbscripts" / "mysql.sql"
    for version in ("4.0.x", "4.1.x", "4.2.x")
}
STRATOS_RESOURCES = CARBON_CONFIGS_DIR / "tmpl-stratos-installer-resources" / "resources"


def texts(script: str) -> list[str]:
    return [statement.text for statement in split_statements(script)]


# ---------------------------------------------------------------- strings and comments


def test_statements_are_numbered_and_placed_and_lose_their_delimiter():
    script = "SELECT 1;\n\nSELECT\n  2 ;  SELECT 3;\n"
    statements = split_statements(script)
    assert [(s.text, s.number, s.line) for s in statements] == [
        ("SELECT 1", 1, 1),
        ("SELECT\n  2", 2, 3),
        ("SELECT 3", 3, 4),
    ]


def test_delimiters_and_comment_markers_inside_strings_are_text():
    script = (
        "SELECT 'a;b -- c # d /* e */' AS s1, \"f;g -- h\" AS s2, 1 AS `i;j # k`;\n"
        "SELECT 2;\n"
    )
    assert texts(script) == [
        "SELECT 'a;b -- c # d /* e */' AS s1, \"f;g -- h\" AS s2, 1 AS `i;j # k`",
        "SELECT 2",
    ]


def test_escaped_and_doubled_quotes_do_not_end_a_string():
    script = (
        "SELECT 'it''s; one', 'it\\'s; two', \"say \"\"hi\"\"; three\", \"back\\\"slash;\";\n"
        "SELECT 1 AS `a``b;c`;\n"
    )
    assert texts(script) == [
        "SELECT 'it''s; one', 'it\\'s; two', \"say \"\"hi\"\"; three\", \"back\\\"slash;\"",
        "SELECT 1 AS `a``b;c`",
    ]


def test_a_backslash_does_not_escape_a_backtick():
    # The server reads `x\` as the identifier x\ ; the statement ends at the ;
    assert texts("SELECT 1 AS `x\\`; SELECT 2;") == ["SELECT 1 AS `x\\`", "SELECT 2"]


def test_a_string_may_span_lines():
    statements = split_statements("SELECT 'one;\ntwo';\nSELECT 3;")
    assert [(s.text, s.line) for s in statements] == [("SELECT 'one;\ntwo'", 1), ("SELECT 3", 3)]


def test_comments_with_delimiters_and_quotes_are_dropped_whole():
    script = (
        "-- it's a comment; with \"quotes\n"
        "# so is this; it's\n"
        "/* and this; it's \" too */\n"
        "SELECT 1; -- trailing; 'comment\n"
        "SELECT 2 # hash; 'comment\n"
        "  + 3;\n"
    )
    statements = split_statements(script)
    assert [(s.text, s.line) for s in statements] == [("SELECT 1", 4), ("SELECT 2 \n  + 3", 5)]


def test_dash_dash_needs_whitespace_or_a_control_character_after_it():
    script = "SELECT 5--1;\nSELECT 6 --\tcomment;\n;\nSELECT 7 --\n;\nSELECT 8 --\x01x;\n;\nSELECT 9 --"
    assert texts(script) == ["SELECT 5--1", "SELECT 6", "SELECT 7", "SELECT 8", "SELECT 9"]


def test_block_comments_are_dropped_without_gluing_words_together():
    assert texts("SELECT/* c */1;\nSELECT 2 /* ; */ + 3;") == ["SELECT 1", "SELECT 2  + 3"]


def test_line_breaks_inside_a_dropped_comment_are_kept_so_lines_still_match():
    statements = split_statements("SELECT 1,\n/* a\ncomment */ 2,\n3;")
    assert statements[0].text == "SELECT 1,\n\n 2,\n3"
    assert statements[0].text.count("\n") == 3  # the statement spans script lines 1 to 4


def test_executable_comments_are_kept_in_the_statement():
    script = (
        "/*!40101 SET @saved = @@character_set_client */;\n"
        "CREATE TABLE /*!32312 IF NOT EXISTS*/ `t` (a INT) /*! ENGINE=InnoDB */;\n"
        "SELECT /*M!100100 1, */ 2;\n"
    )
    assert texts(script) == [
        "/*!40101 SET @saved = @@character_set_client */",
        "CREATE TABLE /*!32312 IF NOT EXISTS*/ `t` (a INT) /*! ENGINE=InnoDB */",
        "SELECT /*M!100100 1, */ 2",
    ]


def test_a_delimiter_inside_an_executable_comment_is_refused_before_anything_runs():
    # The client would send "/*!40101 SET @a = 6" and "SET @b = 7 */", both refused by the server.
    with pytest.raises(SqlScriptError) as caught:
        split_statements("SELECT 1;\n/*!40101 SET @a = 6;\nSET @b = 7 */;", source="setup.sql")
    assert caught.value.line == 2
    assert "not closed before its statement ends" in str(caught.value)
    assert texts("DELIMITER ;;\n/*!50003 CREATE PROCEDURE p() BEGIN SELECT 1; END */;;") == [
        "/*!50003 CREATE PROCEDURE p() BEGIN SELECT 1; END */"]


def test_optimizer_hints_are_dropped_like_comments():
    assert texts("SELECT /*+ NO_ICP(t) */ 1;") == ["SELECT  1"]


# ---------------------------------------------------------------- DELIMITER


def test_delimiter_blocks_keep_a_procedure_body_in_one_statement():
    script = (
        "CREATE TABLE t (a INT);\n"
        "DELIMITER //\n"
        "CREATE PROCEDURE p()\n"
        "BEGIN\n"
        "  INSERT INTO t VALUES (1); -- inner; comment\n"
        "  SELECT 'x;y';\n"
        "END//\n"
        "DELIMITER ;\n"
        "CALL p();\n"
    )
    statements = split_statements(script)
    assert [(s.text, s.number, s.line) for s in statements] == [
        ("CREATE TABLE t (a INT)", 1, 1),
        ("CREATE PROCEDURE p()\nBEGIN\n  INSERT INTO t VALUES (1); \n  SELECT 'x;y';\nEND", 2, 3),
        ("CALL p()", 3, 9),
    ]


def test_dollar_delimiter_in_any_case_and_not_inside_strings_or_comments():
    script = (
        "delimiter $$\n"
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\n"
        "BEGIN\n"
        "  SET NEW.note = '$$'; # $$ in a comment\n"
        "END $$\n"
        "SELECT 1; SELECT 2 $$\n"
        "  Delimiter ;\n"
        "SELECT 3;\n"
    )
    assert texts(script) == [
        "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW\nBEGIN\n  SET NEW.note = '$$'; \nEND",
        "SELECT 1; SELECT 2",
        "SELECT 3",
    ]


def test_a_quoted_delimiter_and_text_after_it_on_the_line():
    assert texts("DELIMITER '//' the rest is ignored\nSELECT 1//\nDELIMITER ; -- back\nSELECT 2;") == [
        "SELECT 1",
        "SELECT 2",
    ]


def test_a_delimiter_line_inside_an_unfinished_statement_is_sql():
    # The mysql client only takes DELIMITER as a command where a statement may begin.
    script = "CREATE TABLE t (\n  delimiter CHAR(1)\n);\nSELECT 1\nDELIMITER //\n;"
    assert texts(script) == ["CREATE TABLE t (\n  delimiter CHAR(1)\n)", "SELECT 1\nDELIMITER //"]


def test_delimiter_is_only_a_command_at_the_start_of_a_line():
    assert texts("SELECT 1; DELIMITER //\nSELECT 2//;") == ["SELECT 1", "DELIMITER //\nSELECT 2//"]


@pytest.mark.parametrize(
    ("script", "line", "phrase"),
    [
        ("SELECT 1;\nDELIMITER\nSELECT 2;", 2, "not followed by a delimiter"),
        ("SELECT 1;\nDELIMITER   \n", 2, "not followed by a delimiter"),
        ("DELIMITER \\\\\n", 1, "backslash"),
    ],
)
def test_bad_delimiter_lines_are_refused(script, line, phrase):
    with pytest.raises(SqlScriptError) as caught:
        split_statements(script, source="setup.sql")
    assert caught.value.line == line
    assert phrase in str(caught.value)


# ---------------------------------------------------------------- ends, line endings, BOM


def test_the_last_statement_needs_no_delimiter_and_empty_statements_are_skipped():
    statements = split_statements(";;\nSELECT 1;;\n; ;\n-- only a comment\n;\nSELECT 2")
    assert [(s.text, s.number, s.line) for s in statements] == [("SELECT 1", 1, 2), ("SELECT 2", 2, 6)]


def test_trailing_comments_and_blank_lines_make_no_statement():
    assert texts("SELECT 1;\n\n-- the end\n/* really */\n# bye\n\n") == ["SELECT 1"]
    assert split_statements("") == []
    assert split_statements("-- nothing but a comment\n") == []


def test_crlf_gives_the_same_statements_as_lf():
    script = (
        "-- comment\n"
        "CREATE TABLE t (\n  a INT -- note\n);\n"
        "DELIMITER //\n"
        "CREATE PROCEDURE p() BEGIN SELECT 1; END//\n"
        "DELIMITER ;\n"
        "SELECT 'x\ny';\n"
    )
    lf = split_statements(script)
    crlf = split_statements(script.replace("\n", "\r\n"))
    assert crlf == lf
    assert len(lf) == 3 and not any("\r" in statement.text for statement in crlf)


def test_a_byte_order_mark_is_not_part_of_the_first_statement():
    [statement] = split_statements("\ufeffCREATE TABLE t (a INT);")
    assert statement.text == "CREATE TABLE t (a INT)"
    assert (statement.kind, statement.name, statement.line) == (Kind.CREATE_TABLE, "t", 1)


def test_script_file_with_a_byte_order_mark_and_crlf(tmp_path):
    path = tmp_path / "bom.sql"
    path.write_bytes(b"\xef\xbb\xbfCREATE TABLE t (a INT);\r\n\r\nINSERT INTO t VALUES (1);\r\n")
    statements = split_script_file(path)
    assert [(s.kind, s.line) for s in statements] == [(Kind.CREATE_TABLE, 1), (Kind.INSERT, 3)]


def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path):
    path = tmp_path / "latin1.sql"
    path.write_bytes("SELECT 1;\nSELECT 'caf\u00e9';\n".encode("latin-1"))
    with pytest.raises(SqlScriptError) as caught:
        split_script_file(path)
    assert caught.value.line == 2
    assert str(path) in str(caught.value)


# ---------------------------------------------------------------- backslash commands


def test_backslash_g_ends_a_statement_and_backslash_n_is_null():
    assert texts("SELECT \\N\\gSELECT 2\\G\nSELECT 3;") == ["SELECT \\N", "SELECT 2", "SELECT 3"]


def test_other_backslash_commands_are_refused():
    with pytest.raises(SqlScriptError) as caught:
        split_statements("SELECT 1;\n\\q\n", source="setup.sql")
    assert caught.value.line == 2
    assert "\\q is a mysql client command" in str(caught.value)


# ---------------------------------------------------------------- unterminated strings and comments


@pytest.mark.parametrize(
    ("script", "line", "phrase"),
    [
        ("SELECT 1;\nSELECT 'abc;\n\nSELECT 2;", 2, "single quotes"),
        ("SELECT 1;\n\nSELECT \"abc;\nSELECT 2;", 3, "double quotes"),
        ("SELECT `abc;\nSELECT 2;", 1, "backticks"),
        ("SELECT 'escaped quote at the end\\';", 1, "single quotes"),
        ("SELECT 1;\nSELECT 'doubled quote at the end'';", 2, "single quotes"),
        ("-- it's only a comment\nSELECT 'open", 2, "single quotes"),
        ("SELECT 1;\n/* never\nclosed; */ ok */\n/* still open", 4, "/* comment"),
        ("SELECT 1;\n\n/*!40101 SET @a = 1\n", 3, "executable comment /*!"),
        ("SELECT 1;\n/*!40101 SET @a = 1 */ /*! SET @b = 2\\g", 2, "executable comment /*!"),
    ],
)
def test_unterminated_strings_and_comments_name_the_line_where_they_began(script, line, phrase):
    with pytest.raises(SqlScriptError) as caught:
        split_statements(script, source="setup.sql")
    error = caught.value
    assert isinstance(error, InstallerError)
    assert error.title == "SQL script problem"
    assert (error.source, error.line) == ("setup.sql", line)
    assert str(error).startswith(f"setup.sql, line {line}: ")
    assert phrase in str(error)
    assert error.hint


# ---------------------------------------------------------------- any string survives


_AWKWARD = st.text(alphabet=list("ab ;'\"`\\#-/*!$\n"), max_size=12)


def _quoted(body: str, quote: str) -> str:
    if quote == "`":
        return "`" + body.replace("`", "``") + "`"
    return quote + body.replace("\\", "\\\\").replace(quote, quote * 2) + quote


def _comment(body: str, style: str) -> str:
    one_line = body.replace("\n", " ")
    if style == "--":
        return f"-- {one_line}\n"
    if style == "#":
        return f"#{one_line}\n"
    # The space keeps a body starting with ! from making it an executable comment.
    return "/* " + body.replace("*/", "* /") + "*/\n"


@settings(deadline=None)  # a slow moment on a loaded machine is not a failure; speed is for benchmarks
@given(
    literals=st.lists(st.tuples(_AWKWARD, st.sampled_from(["'", '"', "`"]), _AWKWARD,
                                st.sampled_from(["--", "#", "/*"])), min_size=1, max_size=5),
    delimiter=st.sampled_from([";", "//", "$$", ";;"]),
)
def test_any_quoted_text_and_comment_survive_splitting(literals, delimiter):
    script = "" if delimiter == ";" else f"DELIMITER {delimiter}\n"
    expected = []
    for body, quote, comment_body, comment_style in literals:
        script += _comment(comment_body, comment_style)
        statement = f"SELECT {_quoted(body, quote)}"
        expected.append((statement, script.count("\n") + 1))
        script += f"{statement}{delimiter}\n"
    assert [(s.text, s.line) for s in split_statements(script)] == expected


# ---------------------------------------------------------------- classify


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CREATE TABLE REG_LOG (a INT)", StatementKind(Kind.CREATE_TABLE, "REG_LOG", "REG_LOG")),
        ("create  table\n if not  exists `REG_PATH`(a INT)", StatementKind(Kind.CREATE_TABLE, "REG_PATH", "REG_PATH")),
        ("CREATE TABLE /*!32312 IF NOT EXISTS*/ `t` (a INT)", StatementKind(Kind.CREATE_TABLE, "t", "t")),
        ("CREATE OR REPLACE TABLE registry.`UM_USER` (a INT)",
         StatementKind(Kind.CREATE_TABLE, "registry.UM_USER", "registry.UM_USER")),
        ("CREATE TABLE `odd``name` (a INT)", StatementKind(Kind.CREATE_TABLE, "odd`name", "odd`name")),
        ("-- leading comment\nCREATE TABLE t (a INT)", StatementKind(Kind.CREATE_TABLE, "t", "t")),
        ("CREATE TEMPORARY TABLE scratch (a INT)", StatementKind(Kind.OTHER)),
        ("CREATE INDEX REG_PATH_IND USING HASH ON REG_PATH(REG_PATH_VALUE)",
         StatementKind(Kind.CREATE_INDEX, "REG_PATH_IND", "REG_PATH")),
        ("CREATE UNIQUE INDEX INDEX_UM_TENANT\n                    ON UM_TENANT (UM_DOMAIN_NAME)",
         StatementKind(Kind.CREATE_INDEX, "INDEX_UM_TENANT", "UM_TENANT")),
        ("create index `i` on `t` using btree (a)", StatementKind(Kind.CREATE_INDEX, "i", "t")),
        ("CREATE FULLTEXT INDEX IF NOT EXISTS ft ON notes (body)", StatementKind(Kind.CREATE_INDEX, "ft", "notes")),
        ("ALTER TABLE REG_RESOURCE ADD CONSTRAINT REG_RESOURCE_FK FOREIGN KEY (REG_PATH_ID) REFERENCES REG_PATH (REG_PATH_ID)",
         StatementKind(Kind.ADD_CONSTRAINT, "REG_RESOURCE_FK", "REG_RESOURCE")),
        ("alter  table `t`\n add constraint `fk` foreign  key (a) references u (a)",
         StatementKind(Kind.ADD_CONSTRAINT, "fk", "t")),
        ("ALTER TABLE t ADD CONSTRAINT FOREIGN KEY (a) REFERENCES u (a)", StatementKind(Kind.OTHER)),
        ("ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES u (a)", StatementKind(Kind.OTHER)),
        ("ALTER TABLE t ADD INDEX i (a)", StatementKind(Kind.ADD_INDEX, "i", "t")),
        ("ALTER TABLE t ADD KEY `k` (a)", StatementKind(Kind.ADD_INDEX, "k", "t")),
        ("alter table t add unique index u (a)", StatementKind(Kind.ADD_INDEX, "u", "t")),
        ("ALTER TABLE t ADD UNIQUE u (a)", StatementKind(Kind.ADD_INDEX, "u", "t")),
        ("ALTER TABLE t ADD CONSTRAINT c UNIQUE (a)", StatementKind(Kind.ADD_INDEX, "c", "t")),
        ("ALTER TABLE t ADD CONSTRAINT c UNIQUE KEY k (a)", StatementKind(Kind.ADD_INDEX, "k", "t")),
        ("ALTER TABLE t ADD UNIQUE (a)", StatementKind(Kind.ADD_INDEX, None, "t")),
        ("ALTER TABLE t ADD UNIQUE KEY USING BTREE (a)", StatementKind(Kind.ADD_INDEX, None, "t")),
        ("ALTER TABLE IF EXISTS t ADD INDEX i (a)", StatementKind(Kind.ADD_INDEX, "i", "t")),
        ("ALTER TABLE t ADD COLUMN b INT", StatementKind(Kind.OTHER)),
        ("ALTER TABLE t ADD PRIMARY KEY (a)", StatementKind(Kind.OTHER)),
        ("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", StatementKind(Kind.OTHER)),
        ("INSERT INTO UM_TENANT VALUES (1)", StatementKind(Kind.INSERT, table="UM_TENANT")),
        ("insert ignore into `t` (a) values (1)", StatementKind(Kind.INSERT, table="t")),
        ("INSERT t VALUES (1)", StatementKind(Kind.INSERT, table="t")),
        ("INSERT LOW_PRIORITY IGNORE INTO t VALUES (1)", StatementKind(Kind.INSERT, table="t")),
        ("CREATE DATABASE IF NOT EXISTS registry", StatementKind(Kind.OTHER)),
        ("USE registry", StatementKind(Kind.OTHER)),
        ("DROP TABLE IF EXISTS t", StatementKind(Kind.OTHER)),
        ("SELECT 'CREATE TABLE t'", StatementKind(Kind.OTHER)),
        ("REPLACE INTO t VALUES (1)", StatementKind(Kind.OTHER)),
    ],
)
def test_classify(text, expected):
    assert classify(text) == expected


def test_split_statements_carry_their_classification():
    [table, index, other] = split_statements(
        "CREATE TABLE `t` (a INT);\nCREATE INDEX i ON t (a);\nSELECT 1;"
    )
    assert (table.kind, table.name, table.table) == ("create_table", "t", "t")
    assert (index.kind, index.name, index.table) == ("create_index", "i", "t")
    assert (other.kind, other.name, other.table) == ("other", None, None)


# ---------------------------------------------------------------- script objects

OBJECTS_SCRIPT = """
CREATE TABLE IF NOT EXISTS `Orders` (id INT PRIMARY KEY, code INT, UNIQUE (code));
CREATE TABLE order_lines (id INT, order_id INT);
CREATE INDEX lines_by_order USING BTREE ON order_lines (order_id);
ALTER TABLE order_lines ADD CONSTRAINT lines_fk_order FOREIGN KEY (order_id) REFERENCES `Orders` (id);
ALTER TABLE order_lines ADD UNIQUE (id);
ALTER TABLE order_lines ADD FOREIGN KEY (order_id) REFERENCES `Orders` (id);
CREATE TABLE IF NOT EXISTS orders (id INT);
CREATE INDEX LINES_BY_ORDER ON ORDER_LINES (order_id);
INSERT INTO `Orders` VALUES (1, 1);
"""


def objects_script_objects() -> ScriptObjects:
    return script_objects(split_statements(OBJECTS_SCRIPT))


def test_script_objects_lists_named_objects_once_in_script_order():
    assert objects_script_objects() == ScriptObjects(
        tables=("Orders", "order_lines"),
        indexes=(("order_lines", "lines_by_order"),),
        constraints=(("order_lines", "lines_fk_order"),),
    )


def test_nothing_there_is_absent():
    comparison = objects_script_objects().compare([], [], [])
    assert comparison.presence == SchemaPresence.ABSENT
    assert comparison.missing_tables == ("Orders", "order_lines")
    assert comparison.unexpected_tables == ()


def test_everything_there_in_another_case_is_complete():
    comparison = objects_script_objects().compare(
        ["orders", "ORDER_LINES"], [("ORDER_LINES", "Lines_By_Order"), ("orders", "PRIMARY")],
        [("order_lines", "LINES_FK_ORDER")],
    )
    assert comparison.presence == SchemaPresence.COMPLETE
    assert (comparison.missing_tables, comparison.missing_indexes, comparison.missing_constraints) == ((), (), ())


def test_a_missing_table_index_or_constraint_is_partial():
    objects = objects_script_objects()
    one_table = objects.compare(["Orders"])
    assert (one_table.presence, one_table.missing_tables) == (SchemaPresence.PARTIAL, ("order_lines",))

    no_index = objects.compare(["Orders", "order_lines"], [], [("order_lines", "lines_fk_order")])
    assert no_index.presence == SchemaPresence.PARTIAL
    assert no_index.missing_indexes == (("order_lines", "lines_by_order"),)
    assert no_index.missing_constraints == ()

    no_constraint = objects.compare(["Orders", "order_lines"], None, [("Orders", "lines_fk_order")])
    assert no_constraint.presence == SchemaPresence.PARTIAL
    assert no_constraint.missing_constraints == (("order_lines", "lines_fk_order"),)


def test_indexes_and_constraints_left_out_are_not_compared():
    assert objects_script_objects().compare(["Orders", "order_lines"]).presence == SchemaPresence.COMPLETE


def test_tables_the_script_does_not_create_are_reported():
    comparison = objects_script_objects().compare(["Orders", "legacy_notes", "order_lines"])
    assert comparison.presence == SchemaPresence.COMPLETE
    assert comparison.unexpected_tables == ("legacy_notes",)


# ---------------------------------------------------------------- the real Carbon scripts


def lines_matching(path: Path, pattern: str) -> list[re.Match[str]]:
    """An independent count: lines that begin with ``pattern`` (so never a ``--`` comment line)."""
    regex = re.compile(pattern, re.IGNORECASE)
    return [match for line in path.read_text().splitlines() if (match := regex.match(line))]


CREATE_TABLE_LINE = r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)"
CREATE_INDEX_LINE = r"\s*CREATE\s+(?:UNIQUE\s+)?INDEX\b"
ADD_CONSTRAINT_LINE = r"\s*ALTER\s+TABLE\s+\w+\s+ADD\s+CONSTRAINT\b"


@pytest.mark.parametrize("version", ["4.1.x", "4.2.x"])
def test_kernel_script_kinds_match_an_independent_count(carbon_configs_dir, version):
    path = KERNEL_SCRIPTS[version]
    statements = split_script_file(path)
    kinds = [statement.kind for statement in statements]
    table_lines = lines_matching(path, CREATE_TABLE_LINE)
    assert kinds.count(Kind.CREATE_TABLE) == len(table_lines)
    assert kinds.count(Kind.CREATE_INDEX) == len(lines_matching(path, CREATE_INDEX_LINE))
    assert kinds.count(Kind.ADD_CONSTRAINT) == len(lines_matching(path, ADD_CONSTRAINT_LINE))
    # These scripts hold nothing else.
    assert len(statements) == len(table_lines) + kinds.count(Kind.CREATE_INDEX) + kinds.count(Kind.ADD_CONSTRAINT)
    assert script_objects(statements).tables == tuple(match.group(1) for match in table_lines)


def test_kernel_41_script_in_numbers(carbon_configs_dir):
    statements = split_script_file(KERNEL_SCRIPTS["4.1.x"])
    kinds = [statement.kind for statement in statements]
    # 32, not 33: the REG_ASSOCIATIONS table is commented out with -- in the script.
    assert (kinds.count(Kind.CREATE_TABLE), kinds.count(Kind.CREATE_INDEX), kinds.count(Kind.ADD_CONSTRAINT)) == (
        32, 17, 13)
    assert not any("REG_ASSOCIATIONS" in statement.text for statement in statements)
    tenant_index = next(s for s in statements if s.name == "INDEX_UM_TENANT_UM_DOMAIN_NAME")
    assert (tenant_index.kind, tenant_index.table) == (Kind.CREATE_INDEX, "UM_TENANT")


@pytest.mark.parametrize("version", ["4.0.x", "4.1.x", "4.2.x"])
def test_kernel_script_statements_hold_no_comment_and_map_back_to_their_lines(carbon_configs_dir, version):
    path = KERNEL_SCRIPTS[version]
    source_lines = path.read_text().splitlines()
    for statement in split_script_file(path):
        assert "--" not in statement.text
        for offset, text_line in enumerate(statement.text.split("\n")):
            assert text_line.strip() in source_lines[statement.line - 1 + offset], (statement.number, offset)
        assert source_lines[statement.line - 1].lstrip().startswith(statement.text.split("\n")[0])


def test_kernel_40_and_41_scripts_split_identically(carbon_configs_dir):
    split_40 = split_script_file(KERNEL_SCRIPTS["4.0.x"])
    assert split_40 == split_script_file(KERNEL_SCRIPTS["4.1.x"])
    assert len(split_40) == 62


@pytest.mark.parametrize("database", ["registry", "userstore"])
def test_stratos_scripts_are_the_kernel_script_after_create_database_and_use(carbon_configs_dir, database):
    kernel = split_script_file(KERNEL_SCRIPTS["4.1.x"])
    stratos = split_script_file(STRATOS_RESOURCES / f"{database}.sql")
    assert len(stratos) == len(kernel) + 2
    assert [(s.text, s.kind, s.number, s.line) for s in stratos[:2]] == [
        (f"CREATE DATABASE IF NOT EXISTS {database}", Kind.OTHER, 1, 1),
        (f"USE {database}", Kind.OTHER, 2, 2),
    ]
    # Two statements and a blank line come before the kernel script's first line.
    for mine, theirs in zip(stratos[2:], kernel, strict=True):
        assert (mine.text, mine.kind, mine.name, mine.number, mine.line) == (
            theirs.text, theirs.kind, theirs.name, theirs.number + 2, theirs.line + 3)


# ---------------------------------------------------------------- against the real client and server


CLIENT_SCRIPT = """\
-- A comment with a ; and an unbalanced ' quote
# another with "; inside
/* a block ; with 'quote */
SELECT 'a;b -- c # d /* e */' AS s1, "f;g" AS s2, 1 AS `h;i`;
SELECT 'it''s', 'it\\'s; fine', "say ""hi""; ok", 2 AS `a``b`;
SELECT 1 /* inline ; comment */ + 2;
SELECT/* glued */3;
/*!40101 SET @sqlscript_test = 1 */;
SELECT 5--1;
SELECT 6 -- a comment ; with the delimiter
  + 1;
SELECT 7 #hash ; comment
  + 1;
SELECT 8 /* a comment
over two lines ; */ , 9;
SELECT \\N;
CREATE DATABASE sqlscript_client;
DELIMITER //
CREATE PROCEDURE sqlscript_client.p()
BEGIN
  SELECT 'x;y';
  SELECT 10; -- inner comment
END//
DELIMITER ;
  delimiter $$
CREATE FUNCTION sqlscript_client.f() RETURNS INT DETERMINISTIC
BEGIN
  RETURN 11; -- $$ in a comment
END $$
SELECT '$$' $$
DELIMITER ;
SELECT 12\\g
SELECT 13;;
SELECT 14"""

ECHO_RULE = "-" * 14


def client_statements(server, tmp_path: Path, script: str, database: str | None = None) -> list[str]:
    """The statements the real ``mariadb`` client sends for ``script``, as it echoes them with -v."""
    options = tmp_path / "client.cnf"
    options.write_text(f"[client]\nhost={server.host}\nport={server.port}\nuser={server.admin_user}\n"
                       f"password={server.admin_password}\n")
    options.chmod(0o600)
    command = [str(find_mariadb_program("mariadb")), f"--defaults-extra-file={options}", "--batch", "--verbose"]
    result = subprocess.run([*command, *([database] if database else [])], input=script,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    statements, current = [], None
    for line in result.stdout.splitlines():
        if line == ECHO_RULE:
            if current is None:
                current = []
            else:
                statements.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return statements


def squeezed(text: str) -> str:
    # The client drops the line breaks of a /* */ comment, we keep them; both are whitespace.
    return " ".join(text.split())


def test_the_mariadb_client_sends_the_same_statements(fresh_mariadb_state, tmp_path):
    sent = client_statements(fresh_mariadb_state, tmp_path, CLIENT_SCRIPT)
    assert len(sent) == 17
    assert [squeezed(text) for text in sent] == [squeezed(text) for text in texts(CLIENT_SCRIPT)]


@pytest.mark.parametrize("version", ["4.1.x", "4.2.x"])
def test_the_mariadb_client_sends_the_same_kernel_statements(carbon_configs_dir, fresh_mariadb_state, tmp_path,
                                                            version):
    path = KERNEL_SCRIPTS[version]
    with fresh_mariadb_state.connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE carbon_client")
    sent = client_statements(fresh_mariadb_state, tmp_path, path.read_text(), database="carbon_client")
    assert [squeezed(text) for text in sent] == [squeezed(s.text) for s in split_script_file(path)]


def database_objects(cursor, database: str) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1",
                   (database,))
    tables = [name for (name,) in cursor.fetchall()]
    cursor.execute("SELECT DISTINCT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS"
                   " WHERE TABLE_SCHEMA = %s", (database,))
    indexes = [tuple(row) for row in cursor.fetchall()]
    cursor.execute("SELECT TABLE_NAME, CONSTRAINT_NAME FROM information_schema.TABLE_CONSTRAINTS"
                   " WHERE TABLE_SCHEMA = %s AND CONSTRAINT_TYPE = 'FOREIGN KEY'", (database,))
    constraints = [tuple(row) for row in cursor.fetchall()]
    return tables, indexes, constraints


def test_kernel_script_runs_statement_by_statement_and_its_objects_are_what_the_server_has(
        carbon_configs_dir, fresh_mariadb_state):
    statements = split_script_file(KERNEL_SCRIPTS["4.1.x"])
    objects = script_objects(statements)
    with fresh_mariadb_state.connect() as connection, connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE carbon_db")
        cursor.execute("USE carbon_db")
        assert objects.compare(*database_objects(cursor, "carbon_db")).presence == SchemaPresence.ABSENT
        for statement in statements:
            cursor.execute(statement.text)

        complete = objects.compare(*database_objects(cursor, "carbon_db"))
        assert complete.presence == SchemaPresence.COMPLETE
        assert complete.unexpected_tables == ()

        cursor.execute("ALTER TABLE REG_RESOURCE DROP FOREIGN KEY REG_RESOURCE_FK_BY_PATH_ID")
        cursor.execute("DROP INDEX REG_PATH_IND_BY_PATH_VALUE ON REG_PATH")
        cursor.execute("DROP TABLE UM_HYBRID_REMEMBER_ME")
        cursor.execute("CREATE TABLE legacy_notes (a INT)")
        partial = objects.compare(*database_objects(cursor, "carbon_db"))
    assert partial.presence == SchemaPresence.PARTIAL
    assert partial.missing_tables == ("UM_HYBRID_REMEMBER_ME",)
    assert partial.missing_indexes == (("REG_PATH", "REG_PATH_IND_BY_PATH_VALUE"),)
    assert partial.missing_constraints == (("REG_RESOURCE", "REG_RESOURCE_FK_BY_PATH_ID"),)
    assert partial.unexpected_tables == ("legacy_notes",)
