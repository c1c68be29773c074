"""The SQL guard: model-written SQL is untrusted; only one plain read of allowed data passes.

The statement that runs is sqlglot's regeneration of the checked tree, never the model's text,
so comment and quoting tricks that sqlglot and Postgres might read differently cannot smuggle
anything past the checks. The read-only query role (pipeline/roles.py) is the second layer.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

from pipeline.errors import UnsafeSql

if TYPE_CHECKING:
    from pipeline.schema import Schema

# Every entry also matches as a prefix ("lo_" covers lo_import, "pg_sleep" covers pg_sleep_for).
DEFAULT_DENIED_FUNCTIONS: frozenset[str] = frozenset({
    # sleeping, locking, signalling, configuration
    "pg_sleep", "pg_advisory", "pg_try_advisory", "pg_terminate_backend", "pg_cancel_backend",
    "pg_signal_backend", "pg_reload_conf", "pg_rotate_logfile", "set_config", "current_setting",
    "pg_notify", "pg_log_backend_memory_contexts", "pg_stat_reset", "pg_stat_get_",
    # files, large objects, other databases
    "pg_read_file", "pg_read_binary_file", "pg_ls_", "pg_stat_file", "pg_file_", "pg_current_logfile",
    "lo_", "loread", "lowrite", "dblink",
    # functions that run SQL given as text
    "query_to_xml", "table_to_xml", "schema_to_xml", "database_to_xml", "cursor_to_xml", "ts_stat",
    # transactions, replication, WAL, backups, sequences
    "txid_", "pg_current_xact_id", "pg_logical", "pg_replication", "pg_create_", "pg_drop_replication",
    "pg_switch_wal", "pg_backup_", "pg_start_backup", "pg_stop_backup", "pg_promote", "pg_wal_",
    "pg_import_system_collations", "pg_export_snapshot", "binary_upgrade_",
    "nextval", "setval", "lastval",
})

# Nodes that change data or state, wherever they appear (data-modifying CTEs included).
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = (
    exp.DML, exp.DDL, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
    exp.TruncateTable, exp.Copy, exp.Command, exp.Set, exp.Into, exp.Lock, exp.Grant, exp.Revoke,
    exp.Transaction, exp.Commit, exp.Rollback, exp.Use, exp.Pragma, exp.Describe, exp.Execute,
    exp.Show, exp.Kill, exp.Cache, exp.Uncache, exp.Refresh, exp.Analyze, exp.Comment, exp.LoadData,
    exp.Declare, exp.Export, exp.Summarize,
)
_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema", "pg_toast", "pg_temp"})


@dataclass(frozen=True)
class GuardPolicy:
    schemas: tuple[str, ...] = ("public",)
    allowed_tables: frozenset[str] | None = None
    denied_tables: frozenset[str] = frozenset()
    denied_columns: frozenset[str] = frozenset()  # "table.column"
    denied_functions: frozenset[str] = DEFAULT_DENIED_FUNCTIONS
    allow_system_catalogs: bool = False
    table_columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_sql_chars: int = 20_000

    @classmethod
    def from_schema(cls, schema: Schema, **overrides) -> GuardPolicy:
        """A policy over every table of an introspected schema; keyword overrides win."""
        values = {
            "schemas": (schema.name,),
            "table_columns": {t.name: tuple(c.name for c in t.columns) for t in schema.tables},
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class CheckedSql:
    sql: str
    tables: tuple[str, ...]
    has_order_by: bool


def check_sql(sql: str, policy: GuardPolicy) -> CheckedSql:
    """The single read-only statement in `sql`, normalised; raises UnsafeSql saying why otherwise."""
    try:
        tree = _parse_one(sql, policy)
        tables = _check_tree(tree, policy)
        text = tree.sql(dialect="postgres", comments=False)
        # The regenerated text is what runs, so it must pass the same checks as Postgres will read it.
        _check_tree(_parse_one(text, policy), policy)
    except UnsafeSql as e:
        raise UnsafeSql(e.reason, sql) from None
    except Exception as e:  # noqa: BLE001 - sqlglot bugs must surface as a refusal, never a crash
        raise UnsafeSql(f"the statement could not be checked ({type(e).__name__})", sql) from e
    return CheckedSql(text, tuple(sorted(tables)), tree.args.get("order") is not None)


def _parse_one(sql: str, policy: GuardPolicy) -> exp.Expression:
    if not isinstance(sql, str) or not sql.strip():
        raise UnsafeSql("the statement is empty")
    if len(sql) > policy.max_sql_chars:
        raise UnsafeSql(f"the statement is longer than {policy.max_sql_chars} characters")
    _check_characters(sql)
    try:
        parsed = sqlglot.parse(sql, read="postgres")
    except sqlglot.errors.SqlglotError as e:
        raise UnsafeSql("could not parse the statement as PostgreSQL") from e
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if len(statements) != 1:
        raise UnsafeSql(f"expected exactly one statement, found {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        raise UnsafeSql(f"only SELECT queries are allowed, not {_describe(tree)}")
    return tree


def _check_characters(sql: str) -> None:
    """Refuse non-ASCII outside quotes (look-alike letters, zero-width spaces) and U&"..." escaped names."""
    if sql.isascii() and "&" not in sql:
        return
    try:
        tokens = sqlglot.tokenize(sql, read="postgres")
    except sqlglot.errors.SqlglotError as e:
        raise UnsafeSql("could not parse the statement as PostgreSQL") from e
    quoted = (sqlglot.TokenType.STRING, sqlglot.TokenType.NATIONAL_STRING, sqlglot.TokenType.HEREDOC_STRING,
              sqlglot.TokenType.IDENTIFIER)
    for token, nxt in zip(tokens, tokens[1:] + [None]):
        if token.token_type not in quoted and not token.text.isascii():
            raise UnsafeSql(f"unexpected non-ASCII characters in {token.text!r} outside quotes")
        # U&"..." hides a name behind escapes (U&"pg_sl\0065ep"); the checks could not see the real name.
        if token.text.upper() == "U" and nxt is not None and nxt.text == "&" and nxt.start == token.end + 1:
            raise UnsafeSql("Unicode escape names (U&\"...\") are not allowed")


def _describe(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return f"a {str(node.this).upper()} command"
    return f"a {node.key.upper()} statement"


def _check_tree(tree: exp.Expression, policy: GuardPolicy) -> set[str]:
    """Check every node; return the base tables read."""
    denied_functions = tuple(d.lower().rstrip("*") for d in policy.denied_functions)
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeSql(_forbidden_reason(node))
        if isinstance(node, exp.Func):
            _check_function(node, denied_functions)
    sources = [t for t in tree.find_all(exp.Table) if _is_relation(t)]
    base = [t for t in sources if not _is_cte_reference(t)]
    for table in base:
        _check_table(table, policy)
    if policy.denied_columns:
        _check_columns(tree, base, policy)
    return {t.name.lower() for t in base}


def _forbidden_reason(node: exp.Expression) -> str:
    if isinstance(node, exp.Into):
        return "SELECT INTO creates a table; only plain reads are allowed"
    if isinstance(node, exp.Lock):
        return "locking clauses (FOR UPDATE / FOR SHARE) are not allowed"
    if isinstance(node, exp.Command):
        return f"{str(node.this).upper()} commands are not allowed"
    return f"{node.key.upper()} is not allowed; only reading data is"


def _function_names(node: exp.Func) -> set[str]:
    if isinstance(node, exp.Anonymous):
        return {node.name.lower()}
    return {n.lower() for n in type(node).sql_names()} | {node.key.lower()}


def _check_function(node: exp.Func, denied: tuple[str, ...]) -> None:
    for name in _function_names(node):
        if name.startswith(denied):
            raise UnsafeSql(f"the function {name}() is not allowed")


def _is_relation(table: exp.Table) -> bool:
    # FROM generate_series(...) is a Table node wrapping a function; its function is checked as such.
    return isinstance(table.this, exp.Identifier)


def _is_cte_reference(table: exp.Table) -> bool:
    """Whether `table` names a CTE visible where it stands (Postgres scoping: earlier siblings, outer WITHs)."""
    if table.args.get("db") or table.args.get("catalog"):
        return False
    name = table.name.lower()
    node: exp.Expression = table
    while node.parent is not None:
        parent = node.parent
        if isinstance(node, exp.CTE) and isinstance(parent, exp.With):
            ctes = parent.expressions
            visible = ctes if parent.args.get("recursive") else ctes[: ctes.index(node)]
            if any(c.alias_or_name.lower() == name for c in visible):
                return True
        elif not isinstance(node, exp.With) and isinstance(parent.args.get("with_"), exp.With):
            if any(c.alias_or_name.lower() == name for c in parent.args["with_"].expressions):
                return True
        node = parent
    return False


def _check_table(table: exp.Table, policy: GuardPolicy) -> None:
    name, schema = table.name.lower(), table.db.lower()
    shown = f"{schema}.{name}" if schema else name
    if table.catalog:
        raise UnsafeSql(f"database-qualified names like {table.sql(dialect='postgres')} are not allowed")
    system = schema in _SYSTEM_SCHEMAS or schema.startswith("pg_") or (not schema and name.startswith("pg_"))
    if system:
        if policy.allow_system_catalogs:
            return
        raise UnsafeSql(f"system catalog {shown} is not available")
    if schema and schema not in {s.lower() for s in policy.schemas}:
        raise UnsafeSql(f"schema {schema} is not available")
    if name in {t.lower() for t in policy.denied_tables}:
        raise UnsafeSql(f"table {shown} is not available")
    allowed = policy.allowed_tables if policy.allowed_tables is not None else policy.table_columns.keys()
    if (policy.allowed_tables is not None or policy.table_columns) and name not in {t.lower() for t in allowed}:
        raise UnsafeSql(f"table {shown} is not available")


def _denied_map(policy: GuardPolicy) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for item in policy.denied_columns:
        table, _, column = item.lower().rpartition(".")
        out.setdefault(table.rpartition(".")[2], set()).add(column)
    return out


def _check_columns(tree: exp.Expression, base: list[exp.Table], policy: GuardPolicy) -> None:
    """Refuse any way of reading a denied column: by name, by *, t.*, whole-row values or renamed aliases."""
    denied = _denied_map(policy)
    holders = [t for t in base if t.name.lower() in denied]
    if not holders:
        return
    in_scope = set().union(*(denied[t.name.lower()] for t in holders))
    # Alias (or bare name) -> denied columns behind it; aliases are matched across scopes, conservatively.
    refs: dict[str, set[str]] = {}
    for t in holders:
        for ref in {t.alias_or_name.lower(), t.name.lower()}:
            refs.setdefault(ref, set()).update(denied[t.name.lower()])
        alias = t.args.get("alias")
        if alias is not None and alias.columns:
            raise UnsafeSql(f"renaming the columns of {t.name} is not allowed (it has restricted columns)")
    for node in tree.walk():
        if isinstance(node, exp.Column):
            _check_column(node, refs, in_scope)
        elif isinstance(node, exp.Star):
            _check_star(node, holders)
        elif isinstance(node, exp.Join):
            _check_join(node, in_scope, bool(holders))


def _check_column(col: exp.Column, refs: dict[str, set[str]], in_scope: set[str]) -> None:
    qualifier, name = col.table.lower(), col.name.lower()
    if isinstance(col.this, exp.Star):
        if qualifier in refs:
            raise UnsafeSql(f"{col.table}.* would read restricted columns; name the columns you need")
        return
    if name in refs.get(qualifier, ()) or (not qualifier and name in in_scope):
        raise UnsafeSql(f"column {col.sql(dialect='postgres')} is restricted")
    # `s` or `public.students` used as a value is the whole row, restricted columns included.
    if name in refs and not (not qualifier and _is_output_name_in_order_by(col)):
        raise UnsafeSql(f"using the whole row of {col.name} would read restricted columns")


def _is_output_name_in_order_by(col: exp.Column) -> bool:
    # Postgres resolves a bare ORDER BY name to an output column first (`count(*) AS students ... ORDER BY students`).
    ordered = col.parent
    if not isinstance(ordered, exp.Ordered) or not isinstance(ordered.parent, exp.Order):
        return False
    select = ordered.parent.parent
    return isinstance(select, exp.Select) and any(
        isinstance(e, exp.Alias) and e.alias.lower() == col.name.lower() for e in select.expressions)


def _check_star(star: exp.Star, holders: list[exp.Table]) -> None:
    if isinstance(star.parent, (exp.Count, exp.Column)):
        return  # count(*) reads no values; t.* is a Column, checked there
    select = star.find_ancestor(exp.Select)
    # A table belongs to the nearest SELECT above it; that covers parenthesised joins too.
    for table in holders:
        if table.find_ancestor(exp.Select) is select:
            raise UnsafeSql(f"SELECT * from {table.name} would read restricted columns; name the columns you need")


def _check_join(join: exp.Join, in_scope: set[str], has_holders: bool) -> None:
    if has_holders and join.method.upper() == "NATURAL":
        raise UnsafeSql("NATURAL JOIN is not allowed on tables with restricted columns; use JOIN ... ON")
    for ident in join.args.get("using") or []:
        if ident.name.lower() in in_scope:
            raise UnsafeSql(f"column {ident.name} is restricted")
