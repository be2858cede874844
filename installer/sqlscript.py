"""MySQL scripts cut into statements the way the ``mysql`` command-line client cuts them.

Carbon ships its schema as ``dbscripts/mysql.sql`` and operators bring scripts of their own. The
installer sends statements one at a time through pymysql, so a script has to be cut into
statements first, and cut exactly where the ``mysql`` client would cut it: a ``;`` inside a
string, a comment or a procedure body must not send half a statement to the server.

What the client does, and so what ``split_statements`` does:

* ``-- `` comments (the second dash followed by whitespace, a control character or the end of
  the script: ``5--1`` is five minus minus one), ``#`` comments to the end of the line and
  ``/* ... */`` comments are left out of the statements;
* ``/*! ... */`` (and MariaDB's ``/*M! ... */``) executable comments are kept, since the server
  runs what is inside them. Their content is read like any other SQL; the client would let a
  delimiter inside one end the statement, leaving two halves the server refuses, so that is
  reported as an error instead;
* ``'...'`` and ``"..."`` strings (backslash escapes, doubled quotes) and `` `...` ``
  identifiers (doubled backticks) are kept as written; nothing inside them is a delimiter or a
  comment;
* a ``DELIMITER xx`` line (any case) where no statement is under way sets the delimiter until
  the next such line; the line is a client command, not a statement. Inside an unfinished
  statement the client reads that line as SQL (a column may be called ``delimiter``), and so do
  we;
* ``\\g`` and ``\\G`` end a statement like the delimiter, ``\\N`` is SQL's NULL, and any other
  backslash command (``\\q``, ``\\u``, ``\\.``...) is refused: it would make the client do
  something this installer does not do;
* the last statement needs no delimiter, and empty statements are skipped;
* CRLF line endings and a UTF-8 byte order mark are accepted.

One difference on purpose: the line breaks inside a dropped ``/* */`` comment are kept, so line
N of ``Statement.text`` is always line ``Statement.line + N - 1`` of the script, and a server
error "at line N" can be traced back to the script.

Named client commands other than DELIMITER (``source``, ``quit``, ``use db`` without a
delimiter) are not recognised; ``USE db;`` is sent to the server, which does the same thing.
Optimizer hints ``/*+ ... */`` are dropped like comments, as MariaDB's client does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from installer.errors import InstallerError

DEFAULT_DELIMITER = ";"

_BYTE_ORDER_MARK = "\ufeff"
_QUOTES = "'\"`"
_QUOTE_NAMES = {"'": "single quotes", '"': "double quotes", "`": "backticks"}
# Possessive quantifiers: an unterminated string fails in one pass instead of backtracking over
# every way of splitting it. ``''`` (doubled quote) is the same as closing and reopening.
_QUOTED_BODY = {
    "'": re.compile(r"(?:[^'\\]++|\\.|'')*+'", re.DOTALL),
    '"': re.compile(r'(?:[^"\\]++|\\.|"")*+"', re.DOTALL),
    # The server does not treat a backslash in an identifier as an escape.
    "`": re.compile(r"(?:[^`]++|``)*+`"),
}
_DELIMITER_COMMAND = re.compile(r"[^\S\n]*delimiter(?=[^\S\n]|\n|\Z)", re.IGNORECASE)
_DELIMITER_ARGUMENT = re.compile(r"[^\S\n]*(?:(?P<quote>['\"`])(?P<quoted>[^\n]*?)(?P=quote)|(?P<bare>[^\s'\"`]\S*))?")


class SqlScriptError(InstallerError):
    """A script that cannot be cut into statements safely: ``source`` and ``line`` say where."""

    title = "SQL script problem"

    def __init__(self, source: str, line: int, problem: str, hint: str) -> None:
        super().__init__(f"{source}, line {line}: {problem}", hint)
        self.source = source
        self.line = line


class Kind(StrEnum):
    CREATE_TABLE = "create_table"
    CREATE_INDEX = "create_index"
    ADD_CONSTRAINT = "add_constraint"
    ADD_INDEX = "add_index"
    INSERT = "insert"
    OTHER = "other"


@dataclass(frozen=True)
class StatementKind:
    """What a statement does to the schema.

    ``name`` is the table, index or constraint it creates; ``table`` the table it creates or
    changes (for an INSERT, the table it writes to). Names are unquoted; a qualified name keeps
    its database: ``registry.REG_PATH``.
    """

    kind: Kind
    name: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class Statement:
    """One statement of a script, as the client would send it to the server.

    ``text`` has no delimiter, no comments (executable ones aside) and no surrounding
    whitespace; ``number`` counts the script's statements from 1; ``line`` is the script line
    where the statement's first character is.
    """

    text: str
    number: int
    line: int
    kind: Kind
    name: str | None
    table: str | None


def split_statements(text: str, *, source: str = "script") -> list[Statement]:
    """The statements of a MySQL script, in order; ``source`` names the script in errors.

    Raises SqlScriptError for a string, identifier or comment that is never closed, an
    executable comment still open where its statement ends, a DELIMITER line without a usable
    delimiter, and a backslash client command.
    """
    return _ScriptReader(text, source).read()


def split_script_file(path: Path) -> list[Statement]:
    """``split_statements`` over a UTF-8 file, named by its path in errors."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SqlScriptError(
            str(path), line, f"byte 0x{data[error.start]:02x} is not UTF-8",
            "Save the script as UTF-8 (plain ASCII is UTF-8 too).",
        ) from None
    return split_statements(text, source=str(path))


class _ScriptReader:
    """One pass over a script, keeping the state the ``mysql`` client keeps between lines."""

    def __init__(self, text: str, source: str) -> None:
        if text.startswith(_BYTE_ORDER_MARK):
            text = text[len(_BYTE_ORDER_MARK):]
        # A lone CR is whitespace to the server, but CRLF must not leave CRs at line ends, where
        # they would stick to a DELIMITER argument.
        self.text = text.replace("\r\n", "\n")
        self.source = source
        self.pos = 0
        self.line = 1
        self.statements: list[Statement] = []
        self.pieces: list[str] = []
        self.statement_line: int | None = None  # set once the statement has a non-space character
        self.executable_comment_line: int | None = None  # where an open /*! began
        self._set_delimiter(DEFAULT_DELIMITER)

    def read(self) -> list[Statement]:
        text = self.text
        while self.pos < len(text):
            pos = self.pos
            char = text[pos]
            at_line_start = pos == 0 or text[pos - 1] == "\n"
            # The client only looks for DELIMITER when its statement buffer is empty.
            if at_line_start and self.statement_line is None and self._read_delimiter_command():
                continue
            if text.startswith(self.delimiter, pos):
                self.pos += len(self.delimiter)
                self._end_statement()
            elif char == "\n":
                self._append("\n")
                self.line += 1
                self.pos += 1
            elif char in _QUOTES:
                self._read_quoted(char)
            elif char == "#" or (char == "-" and self._dash_comment_starts_at(pos)):
                end = text.find("\n", pos)
                self.pos = len(text) if end == -1 else end
            elif text.startswith("/*", pos):
                if text.startswith(("/*!", "/*M!"), pos):
                    if self.executable_comment_line is None:
                        self.executable_comment_line = self.line
                    self._append("/*")
                    self.pos += 2
                else:
                    self._skip_comment()
            elif text.startswith("*/", pos) and self.executable_comment_line is not None:
                self.executable_comment_line = None
                self._append("*/")
                self.pos += 2
            elif char == "\\":
                self._read_backslash_command()
            else:
                run = self._ordinary_run.match(text, pos)
                piece = run.group() if run else char
                self._append(piece)
                self.pos += len(piece)
        self._end_statement()
        return self.statements

    def _set_delimiter(self, delimiter: str) -> None:
        self.delimiter = delimiter
        # Characters that may start something other than plain SQL text stop a run.
        self._ordinary_run = re.compile(f"[^'\"`\\\\#/*\\-\\n{re.escape(delimiter[0])}]+")

    def _append(self, piece: str) -> None:
        if self.statement_line is None:
            piece = piece.lstrip()
            if not piece:
                return
            self.statement_line = self.line
        self.pieces.append(piece)

    def _end_statement(self) -> None:
        if self.executable_comment_line is not None:
            # The client would cut the statement inside the comment, and the server refuses both
            # halves; better to say so before anything of the script has run.
            raise SqlScriptError(
                self.source, self.executable_comment_line,
                "the executable comment /*! that starts here is not closed before its statement ends",
                "Close it with */ before the delimiter: a delimiter inside /*! ... */ ends the statement.",
            )
        if self.statement_line is not None:
            text = "".join(self.pieces).strip()
            kind = classify(text)
            self.statements.append(Statement(
                text=text, number=len(self.statements) + 1, line=self.statement_line,
                kind=kind.kind, name=kind.name, table=kind.table,
            ))
        self.pieces = []
        self.statement_line = None

    def _dash_comment_starts_at(self, pos: int) -> bool:
        text = self.text
        if not text.startswith("--", pos):
            return False
        after = pos + 2
        return after == len(text) or ord(text[after]) <= 32 or text[after] == "\x7f"

    def _read_quoted(self, quote: str) -> None:
        body = _QUOTED_BODY[quote].match(self.text, self.pos + 1)
        if body is None:
            doubled = quote * 2
            escaped = "" if quote == "`" else f" or escaped (\\{quote})"
            raise SqlScriptError(
                self.source, self.line,
                f"the text in {_QUOTE_NAMES[quote]} that starts here is never closed",
                f"Close it with {quote}. A {quote} that is part of the text is doubled ({doubled}){escaped}.",
            )
        literal = self.text[self.pos:body.end()]
        self._append(literal)
        self.line += literal.count("\n")
        self.pos = body.end()

    def _skip_comment(self) -> None:
        text = self.text
        end = text.find("*/", self.pos + 2)
        if end == -1:
            raise SqlScriptError(
                self.source, self.line, "the /* comment that starts here is never closed",
                "Close it with */ (comments do not nest).",
            )
        line_breaks = text.count("\n", self.pos, end)
        self.pos = end + 2
        self.line += line_breaks
        if line_breaks:
            self._append("\n" * line_breaks)
        elif self._comment_joins_words():
            self._append(" ")

    def _comment_joins_words(self) -> bool:
        # SELECT/* c */1 must become SELECT 1, not SELECT1.
        before = self.pieces[-1][-1] if self.pieces else " "
        after = self.text[self.pos] if self.pos < len(self.text) else " "
        return not before.isspace() and not after.isspace()

    def _read_backslash_command(self) -> None:
        command = self.text[self.pos + 1:self.pos + 2]
        if command == "N":
            self._append("\\N")
            self.pos += 2
        elif command in ("g", "G"):
            self.pos += 2
            self._end_statement()
        else:
            shown = f"\\{command}" if command.isprintable() and command else f"\\ followed by {command!r}"
            raise SqlScriptError(
                self.source, self.line, f"{shown} is a mysql client command, not SQL",
                "Keep the script to SQL statements ended by the delimiter; DELIMITER lines are the "
                "only client command the installer understands. A backslash belongs inside a string.",
            )

    def _read_delimiter_command(self) -> bool:
        command = _DELIMITER_COMMAND.match(self.text, self.pos)
        if command is None:
            return False
        line_end = self.text.find("\n", command.end())
        if line_end == -1:
            line_end = len(self.text)
        argument = _DELIMITER_ARGUMENT.match(self.text, command.end(), line_end)
        delimiter = argument.group("quoted") if argument.group("quote") else argument.group("bare")
        if not delimiter:
            raise SqlScriptError(
                self.source, self.line, "DELIMITER is not followed by a delimiter",
                "Write the new delimiter after it, e.g. DELIMITER // (and DELIMITER ; to go back).",
            )
        if "\\" in delimiter:
            raise SqlScriptError(
                self.source, self.line, f"the delimiter {delimiter!r} contains a backslash",
                "The mysql client refuses backslashes in a delimiter; choose another, e.g. // or $$.",
            )
        self._set_delimiter(delimiter)
        # Like the client, ignore whatever follows the delimiter on its line.
        self.pos = line_end
        return True


# ---------------------------------------------------------------- classify

_HEAD_TOKEN = re.compile(
    r"""
      (?P<space>\s+|/\*M?!\d*|\*/|/\*.*?\*/|--(?=[\x00-\x20\x7f]|\Z)[^\n]*|\#[^\n]*)
    | `(?P<quoted>(?:[^`]|``)*)`
    | (?P<word>[0-9A-Za-z_$\u0080-\uffff]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Enough tokens for the longest head we recognise; an INSERT's values are never tokenised.
_HEAD_TOKEN_LIMIT = 32
_OTHER = StatementKind(Kind.OTHER)


@dataclass(frozen=True)
class _Token:
    text: str
    quoted: bool = False  # a `quoted` identifier is never a keyword


class _Head:
    """The first tokens of a statement, read keyword by keyword.

    The markers of executable comments are skipped and their content read as SQL: mysqldump
    writes ``CREATE TABLE /*!32312 IF NOT EXISTS*/ `t```, and the server runs it as such.
    """

    def __init__(self, text: str) -> None:
        self.tokens = list(itertools.islice(_tokens(text), _HEAD_TOKEN_LIMIT))
        self.index = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next_is(self, *keywords: str) -> bool:
        token = self._peek()
        return token is not None and not token.quoted and token.text.upper() in keywords

    def accept(self, *keywords: str) -> bool:
        """Consume the next token if it is one of ``keywords``."""
        if self.next_is(*keywords):
            self.index += 1
            return True
        return False

    def accept_all(self, *keywords: str) -> bool:
        """Consume ``keywords`` if the next tokens are exactly these, in order; else nothing."""
        start = self.index
        for keyword in keywords:
            if not self.accept(keyword):
                self.index = start
                return False
        return True

    def skip(self) -> None:
        self.index += 1

    def name(self) -> str | None:
        """A possibly qualified name (``t``, `` `t` ``, ``db.t``), unquoted; None if none is next."""
        parts: list[str] = []
        while True:
            token = self._peek()
            if token is None or not (token.quoted or _is_word(token.text)):
                break
            parts.append(token.text)
            self.index += 1
            following = self._peek()
            if following is None or following.text != ".":
                break
            self.index += 1
        return ".".join(parts) if parts else None


def _is_word(text: str) -> bool:
    return bool(text) and (text[0].isalnum() or text[0] in "_$" or ord(text[0]) >= 0x80)


def _tokens(text: str) -> Iterator[_Token]:
    for match in _HEAD_TOKEN.finditer(text):
        if match.group("space") is not None:
            continue
        if match.group("quoted") is not None:
            yield _Token(match.group("quoted").replace("``", "`"), quoted=True)
        else:
            yield _Token(match.group())


def classify(statement_text: str) -> StatementKind:
    """What ``statement_text`` (one statement, as ``split_statements`` gives it) creates.

    Recognised, in any case and spacing, names bare or in backticks:
    ``CREATE TABLE [IF NOT EXISTS] t``, ``CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX i [USING ...] ON t``,
    ``ALTER TABLE t ADD CONSTRAINT c FOREIGN KEY ...``,
    ``ALTER TABLE t ADD [UNIQUE|FULLTEXT|SPATIAL] INDEX|KEY i`` (and ``ADD [CONSTRAINT c] UNIQUE``),
    and ``INSERT [IGNORE] [INTO] t``. Anything else is ``Kind.OTHER``.
    """
    head = _Head(statement_text)
    if head.accept("CREATE"):
        return _classify_create(head)
    if head.accept("ALTER"):
        head.accept("ONLINE", "OFFLINE")
        head.accept("IGNORE")
        if not head.accept("TABLE"):
            return _OTHER
        head.accept_all("IF", "EXISTS")
        table = head.name()
        if table is None or not head.accept("ADD"):
            return _OTHER
        return _classify_alter_table_add(head, table)
    if head.accept("INSERT"):
        head.accept("LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY")
        head.accept("IGNORE")
        head.accept("INTO")
        return StatementKind(Kind.INSERT, table=head.name())
    return _OTHER


def _classify_create(head: _Head) -> StatementKind:
    head.accept_all("OR", "REPLACE")
    if head.accept("TEMPORARY"):
        return _OTHER  # a temporary table goes with the session; it is not part of the schema
    if head.accept("TABLE"):
        head.accept_all("IF", "NOT", "EXISTS")
        table = head.name()
        return StatementKind(Kind.CREATE_TABLE, name=table, table=table) if table else _OTHER
    head.accept("ONLINE", "OFFLINE")
    head.accept("UNIQUE", "FULLTEXT", "SPATIAL")
    if not head.accept("INDEX"):
        return _OTHER
    head.accept_all("IF", "NOT", "EXISTS")
    index = head.name()
    if head.accept("USING"):
        head.skip()  # BTREE or HASH
    if index is None or not head.accept("ON"):
        return _OTHER
    table = head.name()
    return StatementKind(Kind.CREATE_INDEX, name=index, table=table) if table else _OTHER


def _classify_alter_table_add(head: _Head, table: str) -> StatementKind:
    if head.accept("CONSTRAINT"):
        constraint = None if head.next_is("FOREIGN", "UNIQUE", "PRIMARY", "CHECK") else head.name()
        if head.accept_all("FOREIGN", "KEY"):
            # Without a name the server makes one up (t_ibfk_1); the script cannot say which.
            return StatementKind(Kind.ADD_CONSTRAINT, name=constraint, table=table) if constraint else _OTHER
        if head.accept("UNIQUE"):
            # ADD CONSTRAINT c UNIQUE [KEY k] (...) creates index k, or c when k is left out.
            return StatementKind(Kind.ADD_INDEX, name=_index_name(head) or constraint, table=table)
        return _OTHER
    if head.accept("UNIQUE", "FULLTEXT", "SPATIAL"):
        return StatementKind(Kind.ADD_INDEX, name=_index_name(head), table=table)
    if head.next_is("INDEX", "KEY"):
        return StatementKind(Kind.ADD_INDEX, name=_index_name(head), table=table)
    return _OTHER


def _index_name(head: _Head) -> str | None:
    """After ADD [UNIQUE]: the index's name, or None when the server is left to choose it."""
    head.accept("INDEX", "KEY")
    head.accept_all("IF", "NOT", "EXISTS")
    if head.next_is("USING"):
        return None
    return head.name()


# ---------------------------------------------------------------- script objects


class SchemaPresence(StrEnum):
    ABSENT = "absent"  # none of the script's tables exists
    PARTIAL = "partial"  # some of what the script creates exists, not all
    COMPLETE = "complete"  # everything compared exists


@dataclass(frozen=True)
class SchemaComparison:
    """A database measured against a script. ``missing_*`` use the script's spelling,
    ``unexpected_tables`` the database's."""

    presence: SchemaPresence
    missing_tables: tuple[str, ...]
    missing_indexes: tuple[tuple[str, str], ...]
    missing_constraints: tuple[tuple[str, str], ...]
    unexpected_tables: tuple[str, ...]


@dataclass(frozen=True)
class ScriptObjects:
    """The tables, indexes ``(table, index)`` and constraints ``(table, constraint)`` a script
    creates, in script order, each once.

    Keys and constraints written inside CREATE TABLE come with their table and are not listed;
    neither are indexes and foreign keys left for the server to name.
    """

    tables: tuple[str, ...]
    indexes: tuple[tuple[str, str], ...]
    constraints: tuple[tuple[str, str], ...]

    def compare(
        self,
        existing_tables: Iterable[str],
        existing_indexes: Iterable[tuple[str, str]] | None = None,
        existing_constraints: Iterable[tuple[str, str]] | None = None,
    ) -> SchemaComparison:
        """How much of this script's schema a database holds, given what the database has.

        Indexes and constraints are compared only when given (None: not looked at). Names are
        compared without regard to case: index and constraint names are case-insensitive in
        MySQL, and a server with lower_case_table_names set reports REG_PATH as reg_path.
        """
        database_tables = list(existing_tables)
        tables_there = {_fold(name) for name in database_tables}
        missing_tables = tuple(name for name in self.tables if _fold(name) not in tables_there)
        missing_indexes = _missing_pairs(self.indexes, existing_indexes)
        missing_constraints = _missing_pairs(self.constraints, existing_constraints)
        script_tables = {_fold(name) for name in self.tables}
        unexpected_tables = tuple(name for name in database_tables if _fold(name) not in script_tables)

        if not (missing_tables or missing_indexes or missing_constraints):
            presence = SchemaPresence.COMPLETE
        elif len(missing_tables) == len(self.tables):
            presence = SchemaPresence.ABSENT
        else:
            presence = SchemaPresence.PARTIAL
        return SchemaComparison(presence, missing_tables, missing_indexes, missing_constraints, unexpected_tables)


def _fold(name: str) -> str:
    return name.casefold()


def _missing_pairs(
    wanted: tuple[tuple[str, str], ...], existing: Iterable[tuple[str, str]] | None
) -> tuple[tuple[str, str], ...]:
    if existing is None:
        return ()
    there = {(_fold(table), _fold(name)) for table, name in existing}
    return tuple(pair for pair in wanted if (_fold(pair[0]), _fold(pair[1])) not in there)


def script_objects(statements: Iterable[Statement]) -> ScriptObjects:
    """What ``statements`` create (see ``ScriptObjects``)."""
    tables: dict[str, str] = {}
    indexes: dict[tuple[str, str], tuple[str, str]] = {}
    constraints: dict[tuple[str, str], tuple[str, str]] = {}
    for statement in statements:
        if statement.name is None or statement.table is None:
            continue
        pair = (statement.table, statement.name)
        folded_pair = (_fold(statement.table), _fold(statement.name))
        if statement.kind == Kind.CREATE_TABLE:
            tables.setdefault(_fold(statement.name), statement.name)
        elif statement.kind in (Kind.CREATE_INDEX, Kind.ADD_INDEX):
            indexes.setdefault(folded_pair, pair)
        elif statement.kind == Kind.ADD_CONSTRAINT:
            constraints.setdefault(folded_pair, pair)
    return ScriptObjects(tuple(tables.values()), tuple(indexes.values()), tuple(constraints.values()))
