"""Compiled statements: querysets compiled to SQL once per process, and rows inserted or updated
through statements built from the models' fields.

The orders app no longer uses them (plain ORM); the kitchen's reads and writes still do, until they
move to the ORM as well, and this module goes with them. It relies on Django's SQL compiler, a
framework internal.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet

# # A payment and a tap on the till each read a handful of small rows. Django compiles a queryset to SQL
# afresh every time it runs: 0.1–0.3 ms a query on the restaurant's server, ten times what SQLite then
# takes to answer. The reads on those paths are written as ordinary querysets, compiled once per process
# and database vendor, and run again with new parameters through Django's cursor (so they are counted
# by assertNumQueries) and Django's own converters (Decimals on SQLite, aware datetimes).

# Compile-time stand-ins for the arguments, told apart from the query's constants. Within every integer
# column's range: PostgreSQL's smallint stops at 32767, and Django compiles a comparison with a value
# out of a column's range to nothing (EmptyResultSet).
_PLACEHOLDER = 30_011


@dataclass
class _Compiled:
    sql: str
    params: list
    slots: list[tuple[int, int]]  # (first position in params, how many) for each argument
    converters: list[tuple[int, list, object]]  # (column, converter functions, expression)


class Prepared:
    """A values_list() queryset compiled to SQL once, then run with other arguments.

    `build(*args)` returns the queryset. It is called once per database vendor with stand-in values,
    and each argument must become SQL parameters of its own: an exact lookup (`filter(order_id=a)`)
    or, when the argument is a list, an `__in` lookup (compiled once per list length). `model=`
    makes `instances()` available: `build` then returns a queryset of that model and every concrete
    field is read. Not for querysets with prefetches, or whose SQL depends on the values.
    """

    def __init__(self, build: Callable[..., QuerySet], *, model: type[Model] | None = None):
        self.build = build
        self.model = model
        self.attnames = [f.attname for f in model._meta.concrete_fields] if model is not None else None
        self._compiled: dict[tuple, _Compiled] = {}

    def _compile(self, connection, shape: tuple) -> _Compiled:
        stand_ins, next_id = [], _PLACEHOLDER
        for length in shape:
            if length is None:
                stand_ins.append(next_id)
                next_id += 1
            else:
                stand_ins.append(list(range(next_id, next_id + length)))
                next_id += length
        queryset = self.build(*stand_ins)
        if self.model is not None:
            queryset = queryset.values_list(*self.attnames)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        params = list(params)
        seen = [str(param) for param in params]  # a text column's lookup turns its stand-in into text
        slots = []
        for stand_in in stand_ins:
            values = [str(value) for value in (stand_in if isinstance(stand_in, list) else [stand_in])]
            first = seen.index(values[0]) if values[0] in seen else -1
            if first < 0 or seen[first:first + len(values)] != values or seen.count(values[0]) != 1:
                raise ImproperlyConfigured(f"Prepared query: an argument is not one SQL parameter in {sql}")
            slots.append((first, len(values)))
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = [(pos, convs, expression) for pos, (convs, expression) in compiler.get_converters(columns).items()]
        compiled = _Compiled(sql, params, slots, converters)
        self._compiled[(connection.vendor, shape)] = compiled
        return compiled

    def rows(self, *args) -> list:
        """The rows (tuples, in the queryset's column order). A list argument that is empty gives []."""
        args = [list(dict.fromkeys(a)) if isinstance(a, (list, tuple, set, frozenset)) else a for a in args]
        if any(isinstance(a, list) and not a for a in args):
            return []
        connection = connections[DEFAULT_DB_ALIAS]
        shape = tuple(len(a) if isinstance(a, list) else None for a in args)
        compiled = self._compiled.get((connection.vendor, shape)) or self._compile(connection, shape)
        params = list(compiled.params)
        for (first, count), arg in zip(compiled.slots, args, strict=True):
            params[first:first + count] = arg if isinstance(arg, list) else [arg]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for pos, convs, expression in compiled.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
            converted.append(tuple(row))
        return converted

    def instances(self, *args) -> list:
        """The rows as model instances, as `list(queryset)` would give them."""
        alias = connections[DEFAULT_DB_ALIAS].alias
        return [self.model.from_db(alias, self.attnames, row) for row in self.rows(*args)]


# The rows the kitchen writes on every send go through `insert_rows` (kds.services): the statement is
# built once per model and database vendor from the model's own fields (values still go through each
# field's get_db_prep_save), where the ORM compiles it again on every call. No model written this way
# has save signals to skip.
_statements: dict[tuple, tuple] = {}

# Values that get_db_prep_save hands to the driver unchanged, by field type: they skip that call (half
# the cost of an INSERT's parameters). Anything else (dates, JSON, other types) goes through it.
_AS_IS = {
    **dict.fromkeys(("CharField", "TextField", "SlugField"), (str, type(None))),
    "DecimalField": (Decimal, type(None)),
    **dict.fromkeys(("DateTimeField", "DateField", "TimeField", "DurationField"), (type(None),)),
    "BooleanField": (bool, type(None)),
    **dict.fromkeys(
        ("IntegerField", "SmallIntegerField", "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
         "PositiveBigIntegerField", "ForeignKey", "AutoField", "BigAutoField"),
        (int, type(None)),
    ),
}


def _db_values(fields: Sequence[tuple[Any, tuple]], values: Iterable, connection) -> list:
    return [value if type(value) in as_is else f.get_db_prep_save(value, connection)
            for (f, as_is), value in zip(fields, values, strict=True)]


def _with_kinds(fields) -> list[tuple[Any, tuple]]:
    return [(f, _AS_IS.get(f.get_internal_type(), ())) for f in fields]


def insert_row(obj: Model) -> Model:
    """INSERT `obj`, a new row (the one `Model.objects.create` would write), and set the primary key the
    database gave it."""
    insert_rows([obj])
    return obj


def insert_rows(objs: Sequence[Model]) -> Sequence[Model]:
    """INSERT new rows of one model in one statement (as bulk_create would, without compiling it each
    time), and set the primary keys the database gave them, in order (RETURNING; one statement a row
    where the database cannot return them)."""
    if not objs:
        return objs
    connection = connections[DEFAULT_DB_ALIAS]
    model = type(objs[0])
    returning = connection.features.can_return_rows_from_bulk_insert
    if not returning and len(objs) > 1:
        for obj in objs:
            insert_rows([obj])
        return objs
    key = ("insert", model, connection.vendor, len(objs))
    if key not in _statements:
        meta, qn = model._meta, connection.ops.quote_name
        fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES {', '.join([row] * len(objs))}")
        if returning:
            sql += f" RETURNING {qn(meta.pk.column)}"
        _statements[key] = (sql, _with_kinds(fields))
    sql, fields = _statements[key]
    params = []
    for obj in objs:
        params += _db_values(fields, [f.pre_save(obj, True) for f, _as_is in fields], connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
        else:
            objs[0].pk = cursor.lastrowid
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias
    return objs


def update_row(model: type[Model], pk: int, values: dict[str, Any], *, where: dict[str, Any] | None = None) -> int:
    """UPDATE row `pk` of `model` with `values` (by field name), only if its columns equal `where` (a
    compare-and-set; None there means IS NULL). Returns the number of rows changed, as QuerySet.update
    does."""
    return update_rows(model, [pk], values, where=where)


def update_rows(model: type[Model], pks: Sequence[int], values: dict[str, Any], *, where: dict[str, Any] | None = None) -> int:
    """`update_row` for the rows `pks` at once."""
    if not pks:
        return 0
    connection = connections[DEFAULT_DB_ALIAS]
    where = where or {}
    key = ("update", model, connection.vendor, len(pks), tuple(values), tuple((n, v is None) for n, v in where.items()))
    if key not in _statements:
        meta, qn = model._meta, connection.ops.quote_name
        assigned = [meta.get_field(n) for n in values]
        compared = [meta.get_field(n) for n, v in where.items() if v is not None]
        null = [meta.get_field(n) for n, v in where.items() if v is None]
        pk_test = f"{qn(meta.pk.column)} = %s" if len(pks) == 1 else f"{qn(meta.pk.column)} IN ({', '.join(['%s'] * len(pks))})"
        tests = [pk_test, *(f"{qn(f.column)} = %s" for f in compared), *(f"{qn(f.column)} IS NULL" for f in null)]
        sql = f"UPDATE {qn(meta.db_table)} SET {', '.join(f'{qn(f.column)} = %s' for f in assigned)} WHERE {' AND '.join(tests)}"
        _statements[key] = (sql, _with_kinds(assigned), _with_kinds(compared))
    sql, assigned, compared = _statements[key]
    params = [*_db_values(assigned, values.values(), connection), *pks,
              *_db_values(compared, [v for v in where.values() if v is not None], connection)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
