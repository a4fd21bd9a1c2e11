"""The pg_catalog queries `catalog.read_catalog` runs, one per kind of object.

Every definition is rendered by PostgreSQL itself (`pg_get_*def`, `format_type`,
`pg_get_expr`, `aclexplode`), so two databases built from the same migrations read the
same. Objects that belong to an extension, and the tracking table, are left out.

The queries of objects compared as a whole (policies, grants, comments, ...) are in
`catalog_items.py`.
"""

from __future__ import annotations

__all__ = ["QUERIES"]

_NS = ("n.nspname NOT IN ('pg_catalog', 'information_schema') "
       "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")


def _not_ext(catalog: str, oid: str) -> str:
    return (f"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '{catalog}'::regclass "
            f"AND d.objid = {oid} AND d.deptype = 'e')")


# Objects made after initdb have OIDs from 16384 (FirstNormalObjectId) up: a cheap first
# filter that skips the thousands of built-in functions, types and relations.
_USER_OID = 16384
# Tracking tables, ours (in any schema: migrations.table) and other tools' (kept beside
# ours during a transition, or set aside by `workspace db adopt`), are not schema.
_REL = (f"c.oid >= {_USER_OID} AND {_NS} AND {_not_ext('pg_class', 'c.oid')} "
        "AND c.relname NOT IN ('schema_migrations', 'flyway_schema_history') "
        "AND c.relname NOT LIKE 'schema\\_migrations\\_before\\_workspace%'")
_QUALIFIED = "format('%I.%I', n.nspname, c.relname)"
_SIGNATURE = ("format('%I.%I(%s)', n.nspname, p.proname, "
              "pg_get_function_identity_arguments(p.oid))")
_OPTIONS = "COALESCE(array_to_string(ARRAY(SELECT unnest(c.reloptions) ORDER BY 1), ', '), '')"
# Functions a type made (a range's constructors) come and go with it.
_OWN_FUNCTION = (f"p.oid >= {_USER_OID} AND p.prokind IN ('f', 'p') AND {_NS} "
                 f"AND {_not_ext('pg_proc', 'p.oid')} "
                 "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass "
                 "AND d.objid = p.oid AND d.deptype = 'i')")
_PARTITION_CHILD = ("EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent "
                    "WHERE i.inhrelid = {oid} AND pc.relkind IN ('p', 'I'))")
# A standalone type of ours: domains, enums, ranges, and composites not backing a table.
_USER_TYPE = (f"t.oid >= {_USER_OID} AND {_NS} AND {_not_ext('pg_type', 't.oid')} "
              "AND (t.typtype IN ('d', 'e', 'r') OR "
              "(t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))")

QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT quote_ident(n.nspname) FROM pg_namespace n
        WHERE {_NS} AND {_not_ext('pg_namespace', 'n.oid')} ORDER BY 1""",
    "extensions": """
        SELECT extname, extversion FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1""",
    "types": f"""
        SELECT format('%I.%I', n.nspname, t.typname),
               (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                FROM pg_enum e WHERE e.enumtypid = t.oid)
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'e' AND t.oid >= {_USER_OID} AND {_NS}
          AND {_not_ext('pg_type', 't.oid')} ORDER BY 1""",
    "sequences": f"""
        SELECT {_QUALIFIED}, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
               (SELECT format('%I.%I.%I', tn.nspname, tc.relname, a.attname)
                FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid
                JOIN pg_namespace tn ON tn.oid = tc.relnamespace
                JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'a'),
               s.seqmin, s.seqmax, s.seqcache, s.seqcycle, c.relpersistence = 'u'
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_sequence s ON s.seqrelid = c.oid
        WHERE c.relkind = 'S' AND {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'i')
        ORDER BY 1""",
    "columns": f"""
        SELECT {_QUALIFIED}, quote_ident(a.attname),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated, a.attnum,
               CASE WHEN a.attcollation <> t.typcollation THEN
                    (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                     JOIN pg_namespace cn ON cn.oid = co.collnamespace
                     WHERE co.oid = a.attcollation) ELSE '' END,
               a.attislocal
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
        WHERE c.relkind IN ('r', 'p') AND {_REL}
        ORDER BY 1, a.attnum""",
    "tables": f"""
        SELECT {_QUALIFIED}, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               {_OPTIONS}, c.relpersistence = 'u',
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) ELSE '' END,
               CASE WHEN c.relispartition THEN
                    (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i
                     JOIN pg_class pc ON pc.oid = i.inhparent
                     JOIN pg_namespace pn ON pn.oid = pc.relnamespace
                     WHERE i.inhrelid = c.oid) ELSE '' END,
               COALESCE(pg_get_expr(c.relpartbound, c.oid), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {_REL} ORDER BY c.oid""",
    "constraints": f"""
        SELECT {_QUALIFIED}, quote_ident(k.conname), k.contype,
               pg_get_constraintdef(k.oid, true),
               c.relispartition AND (k.conparentid <> 0 OR NOT k.conislocal)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {_REL} ORDER BY 1, 2""",
    "indexes": f"""
        SELECT format('%I.%I', n.nspname, i.relname), {_QUALIFIED},
               pg_get_indexdef(x.indexrelid), x.indisvalid,
               {_PARTITION_CHILD.format(oid='x.indexrelid')}
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid
                          AND k.contype IN ('p', 'u', 'x'))
        ORDER BY 1""",
    "functions": f"""
        SELECT {_SIGNATURE}, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE {_OWN_FUNCTION}
        ORDER BY 1""",
    "triggers": f"""
        SELECT {_QUALIFIED}, quote_ident(t.tgname), pg_get_triggerdef(t.oid, true),
               t.tgenabled, t.tgparentid <> 0
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p') AND {_REL} ORDER BY 1, 2""",
    "views": f"""
        SELECT {_QUALIFIED}, c.relkind = 'm', pg_get_viewdef(c.oid, true), c.relispopulated,
               {_OPTIONS}
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('v', 'm') AND {_REL} ORDER BY c.oid""",
    # Who owns what, as ALTER ... OWNER TO names it: ("TABLE kb.t", "app_owner").
    "owners": f"""
        SELECT CASE c.relkind WHEN 'v' THEN 'VIEW ' WHEN 'm' THEN 'MATERIALIZED VIEW '
                    WHEN 'S' THEN 'SEQUENCE ' ELSE 'TABLE ' END || {_QUALIFIED},
               quote_ident(pg_get_userbyid(c.relowner))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND {_REL}
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype IN ('i', 'a'))
        UNION ALL
        SELECT CASE WHEN p.prokind = 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || {_SIGNATURE},
               quote_ident(pg_get_userbyid(p.proowner))
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_OWN_FUNCTION}
        UNION ALL
        SELECT CASE WHEN t.typtype = 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END
                   || format('%I.%I', n.nspname, t.typname), quote_ident(pg_get_userbyid(t.typowner))
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {_USER_TYPE}
        UNION ALL
        SELECT 'SCHEMA ' || quote_ident(n.nspname), quote_ident(pg_get_userbyid(n.nspowner))
        FROM pg_namespace n WHERE {_NS} AND {_not_ext('pg_namespace', 'n.oid')}
        ORDER BY 1""",
    # What depends on a type of ours: "column:kb.t.c", "function:<sig>", "type:<name>".
    "type_dependents": f"""
        SELECT format('%I.%I', n.nspname, t.typname),
               CASE WHEN d.classid = 'pg_proc'::regclass THEN
                    (SELECT 'function:' || {_SIGNATURE} FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE p.oid = d.objid AND {_OWN_FUNCTION})
                    WHEN d.classid = 'pg_type'::regclass THEN
                    (SELECT 'type:' || format('%I.%I', n.nspname, dt.typname) FROM pg_type dt
                     JOIN pg_namespace n ON n.oid = dt.typnamespace WHERE dt.oid = d.objid)
                    ELSE
                    (SELECT CASE WHEN c.relkind = 'c' THEN 'type:' || {_QUALIFIED}
                            WHEN c.relkind IN ('v', 'm') THEN 'view:' || {_QUALIFIED}
                            ELSE format('column:%I.%I.%I', n.nspname, c.relname, a.attname) END
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid
                     WHERE c.oid = d.objid) END
        FROM pg_depend d JOIN pg_type t ON t.oid = d.refobjid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE d.refclassid = 'pg_type'::regclass AND d.deptype = 'n'
          AND d.refobjid >= {_USER_OID}
          AND d.classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_class'::regclass)
          AND {_USER_TYPE}
        ORDER BY 1, 2""",
}
