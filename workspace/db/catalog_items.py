"""The pg_catalog queries of objects compared as a whole: RLS policies, privileges
(grants and default privileges), comments, domains and their constraints, composite and
range types, extended statistics, rules and event triggers.

Each returns ready-made rows `(kind, name, definition, create, drop, parent)`: what is
compared, the SQL that makes the object, the SQL that would remove it (printed for
extra objects, never run) and the object it hangs off (a table, column, view, function,
type, or another item), whose repair brings it back too.
"""

from __future__ import annotations

from workspace.db.catalog_sql import (
    _NS,
    _OWN_FUNCTION,
    _QUALIFIED,
    _REL,
    _SIGNATURE,
    _USER_OID,
    _USER_TYPE,
    _not_ext,
)

__all__ = ["ITEM_QUERIES"]

# A role in SQL: PUBLIC for grantee 0, else its quoted name.
_GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END"

_POLICY_COMMANDS = ("CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' "
                    "WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END")
_ACL_KIND = "CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END"
_DEFACL_KIND = ("CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES' "
                "WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END")


def _grant_rows(object_sql: str, parent: str, source: str) -> str:
    """Grant rows for one kind of object. `object_sql` renders `<KIND> <name>` (as GRANT
    spells it), the FROM clause `source` yields one `a` row per aclexplode entry."""
    return f"""
        SELECT 'grant',
               format('%s ON %s TO %s', a.privilege_type, {object_sql}, {_GRANTEE}),
               CASE WHEN a.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END,
               format('GRANT %s ON %s TO %s%s', a.privilege_type, {object_sql}, {_GRANTEE},
                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
               format('REVOKE %s ON %s FROM %s', a.privilege_type, {object_sql}, {_GRANTEE}),
               {parent}
        FROM {source}"""


ITEM_QUERIES: dict[str, str] = {
    "policies": f"""
        SELECT 'policy', format('%I.%I.%I', n.nspname, c.relname, p.polname),
               format('AS %s FOR %s TO %s%s%s',
                      CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                      {_POLICY_COMMANDS}, r.roles,
                      ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                      ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
               format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s', p.polname,
                      n.nspname, c.relname,
                      CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
                      {_POLICY_COMMANDS}, r.roles,
                      ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',
                      ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')'),
               format('DROP POLICY %I ON %I.%I', p.polname, n.nspname, c.relname),
               {_QUALIFIED}
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace,
        LATERAL (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC'
                                   ELSE quote_ident(pg_get_userbyid(x)) END, ', '
                                   ORDER BY CASE WHEN x = 0 THEN 'PUBLIC'
                                   ELSE pg_get_userbyid(x)::text END) AS roles
                 FROM unnest(p.polroles) x) r
        WHERE {_REL}""",
    "relation_grants": _grant_rows(
        f"{_ACL_KIND} || ' ' || {_QUALIFIED}", _QUALIFIED,
        f"""pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
            LATERAL aclexplode(COALESCE(c.relacl, acldefault(
                CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {_REL}
          AND a.grantee <> c.relowner
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'i')"""),
    "column_grants": f"""
        SELECT 'grant',
               format('%s (%I) ON TABLE %s TO %s', a.privilege_type, att.attname,
                      {_QUALIFIED}, {_GRANTEE}),
               CASE WHEN a.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END,
               format('GRANT %s (%I) ON TABLE %s TO %s%s', a.privilege_type, att.attname,
                      {_QUALIFIED}, {_GRANTEE},
                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
               format('REVOKE %s (%I) ON TABLE %s FROM %s', a.privilege_type, att.attname,
                      {_QUALIFIED}, {_GRANTEE}),
               format('%I.%I.%I', n.nspname, c.relname, att.attname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute att ON att.attrelid = c.oid AND att.attnum > 0
             AND NOT att.attisdropped AND att.attacl IS NOT NULL,
        LATERAL aclexplode(att.attacl) a
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {_REL} AND a.grantee <> c.relowner""",
    "function_grants": _grant_rows(
        f"CASE WHEN p.prokind = 'p' THEN 'PROCEDURE ' ELSE 'FUNCTION ' END || {_SIGNATURE}",
        _SIGNATURE,
        f"""pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace,
            LATERAL aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
        WHERE {_OWN_FUNCTION} AND a.grantee <> p.proowner"""),
    "type_grants": _grant_rows(
        "CASE WHEN t.typtype = 'd' THEN 'DOMAIN ' ELSE 'TYPE ' END || "
        "format('%I.%I', n.nspname, t.typname)",
        "format('%I.%I', n.nspname, t.typname)",
        f"""pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace,
            LATERAL aclexplode(COALESCE(t.typacl, acldefault('T', t.typowner))) a
        WHERE {_USER_TYPE} AND a.grantee <> t.typowner"""),
    "schema_grants": _grant_rows(
        "'SCHEMA ' || quote_ident(n.nspname)", "quote_ident(n.nspname)",
        f"""pg_namespace n,
            LATERAL aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a
        WHERE {_NS} AND {_not_ext('pg_namespace', 'n.oid')} AND a.grantee <> n.nspowner"""),
    "default_privileges": f"""
        SELECT 'default privilege',
               format('%s ON %s%s TO %s FOR ROLE %I', a.privilege_type, {_DEFACL_KIND},
                      ' IN SCHEMA ' || quote_ident(n.nspname), {_GRANTEE},
                      pg_get_userbyid(d.defaclrole)),
               CASE WHEN a.is_grantable THEN 'WITH GRANT OPTION' ELSE '' END,
               format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s GRANT %s ON %s TO %s%s',
                      pg_get_userbyid(d.defaclrole), ' IN SCHEMA ' || quote_ident(n.nspname),
                      a.privilege_type, {_DEFACL_KIND}, {_GRANTEE},
                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END),
               format('ALTER DEFAULT PRIVILEGES FOR ROLE %I%s REVOKE %s ON %s FROM %s',
                      pg_get_userbyid(d.defaclrole), ' IN SCHEMA ' || quote_ident(n.nspname),
                      a.privilege_type, {_DEFACL_KIND}, {_GRANTEE}),
               COALESCE(quote_ident(n.nspname), '')
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace,
        LATERAL aclexplode(d.defaclacl) a
        WHERE a.grantee <> d.defaclrole""",
    "domains": f"""
        SELECT 'domain', format('%I.%I', n.nspname, t.typname), s.def,
               format('CREATE DOMAIN %I.%I AS %s', n.nspname, t.typname, s.def),
               format('DROP DOMAIN %I.%I', n.nspname, t.typname), ''
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_type bt ON bt.oid = t.typbasetype,
        LATERAL (SELECT format_type(t.typbasetype, t.typtypmod)
            || CASE WHEN t.typcollation <> bt.typcollation THEN
                    (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co
                     JOIN pg_namespace cn ON cn.oid = co.collnamespace
                     WHERE co.oid = t.typcollation) ELSE '' END
            || COALESCE(' DEFAULT ' || pg_get_expr(t.typdefaultbin, 0), '')
            || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END AS def) s
        WHERE t.typtype = 'd' AND t.oid >= {_USER_OID} AND {_NS} AND {_not_ext('pg_type', 't.oid')}""",
    "domain_constraints": f"""
        SELECT 'domain constraint', format('%I.%I.%I', n.nspname, t.typname, k.conname),
               pg_get_constraintdef(k.oid, true),
               format('ALTER DOMAIN %I.%I ADD CONSTRAINT %I %s', n.nspname, t.typname,
                      k.conname, pg_get_constraintdef(k.oid, true)),
               format('ALTER DOMAIN %I.%I DROP CONSTRAINT %I', n.nspname, t.typname, k.conname),
               format('%I.%I', n.nspname, t.typname)
        FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE k.contype = 'c' AND t.oid >= {_USER_OID} AND {_NS}
          AND {_not_ext('pg_type', 't.oid')}""",
    "composite_types": f"""
        SELECT 'composite type', format('%I.%I', n.nspname, t.typname), s.def,
               format('CREATE TYPE %I.%I AS (%s)', n.nspname, t.typname, s.def),
               format('DROP TYPE %I.%I', n.nspname, t.typname), ''
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c',
        LATERAL (SELECT string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)),
                                   ', ' ORDER BY a.attnum) AS def
                 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                 AND NOT a.attisdropped) s
        WHERE t.oid >= {_USER_OID} AND {_NS} AND {_not_ext('pg_type', 't.oid')}""",
    "range_types": f"""
        SELECT 'range type', format('%I.%I', n.nspname, t.typname), s.def,
               format('CREATE TYPE %I.%I AS RANGE (%s)', n.nspname, t.typname, s.def),
               format('DROP TYPE %I.%I', n.nspname, t.typname), ''
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        JOIN pg_range r ON r.rngtypid = t.oid,
        LATERAL (SELECT 'SUBTYPE = ' || format_type(r.rngsubtype, NULL)
            || (SELECT CASE WHEN o.opcdefault THEN '' ELSE
                       format(', SUBTYPE_OPCLASS = %I.%I', on_.nspname, o.opcname) END
                FROM pg_opclass o JOIN pg_namespace on_ ON on_.oid = o.opcnamespace
                WHERE o.oid = r.rngsubopc)
            || CASE WHEN r.rngcollation <> 0 AND r.rngcollation
                         <> (SELECT typcollation FROM pg_type WHERE oid = r.rngsubtype) THEN
                    (SELECT format(', COLLATION = %I.%I', cn.nspname, co.collname)
                     FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                     WHERE co.oid = r.rngcollation) ELSE '' END
            || CASE WHEN r.rngcanonical <> 0 THEN
                    (SELECT format(', CANONICAL = %I.%I', pn.nspname, p.proname) FROM pg_proc p
                     JOIN pg_namespace pn ON pn.oid = p.pronamespace
                     WHERE p.oid = r.rngcanonical) ELSE '' END
            || CASE WHEN r.rngsubdiff <> 0 THEN
                    (SELECT format(', SUBTYPE_DIFF = %I.%I', pn.nspname, p.proname) FROM pg_proc p
                     JOIN pg_namespace pn ON pn.oid = p.pronamespace
                     WHERE p.oid = r.rngsubdiff) ELSE '' END
            || (SELECT format(', MULTIRANGE_TYPE_NAME = %I.%I', mn.nspname, mt.typname)
                FROM pg_type mt JOIN pg_namespace mn ON mn.oid = mt.typnamespace
                WHERE mt.oid = r.rngmultitypid) AS def) s
        WHERE t.oid >= {_USER_OID} AND {_NS} AND {_not_ext('pg_type', 't.oid')}""",
    "statistics": f"""
        SELECT 'statistics', format('%I.%I', sn.nspname, s.stxname),
               pg_get_statisticsobjdef(s.oid), pg_get_statisticsobjdef(s.oid),
               format('DROP STATISTICS %I.%I', sn.nspname, s.stxname), {_QUALIFIED}
        FROM pg_statistic_ext s JOIN pg_namespace sn ON sn.oid = s.stxnamespace
        JOIN pg_class c ON c.oid = s.stxrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {_REL}""",
    "rules": f"""
        SELECT 'rule', format('%I.%I.%I', n.nspname, c.relname, r.rulename),
               pg_get_ruledef(r.oid, true), pg_get_ruledef(r.oid, true),
               format('DROP RULE %I ON %I.%I', r.rulename, n.nspname, c.relname), {_QUALIFIED}
        FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE r.rulename <> '_RETURN' AND {_REL}""",
    "event_triggers": f"""
        SELECT 'event trigger', quote_ident(e.evtname), s.def || CASE e.evtenabled
                   WHEN 'O' THEN '' WHEN 'D' THEN ' (disabled)' WHEN 'R' THEN ' (replica)'
                   ELSE ' (always)' END,
               format('CREATE EVENT TRIGGER %I %s', e.evtname, s.def) || CASE e.evtenabled
                   WHEN 'O' THEN '' WHEN 'D' THEN format('; ALTER EVENT TRIGGER %I DISABLE',
                   e.evtname) WHEN 'R' THEN format('; ALTER EVENT TRIGGER %I ENABLE REPLICA',
                   e.evtname) ELSE format('; ALTER EVENT TRIGGER %I ENABLE ALWAYS', e.evtname) END,
               format('DROP EVENT TRIGGER %I', e.evtname), s.function
        FROM pg_event_trigger e JOIN pg_proc p ON p.oid = e.evtfoid
        JOIN pg_namespace n ON n.oid = p.pronamespace,
        LATERAL (SELECT format('ON %I%s EXECUTE FUNCTION %I.%I()', e.evtevent,
                        ' WHEN TAG IN (' || (SELECT string_agg(quote_literal(x), ', ' ORDER BY x)
                                             FROM unnest(e.evttags) x) || ')',
                        n.nspname, p.proname) AS def,
                        {_SIGNATURE} AS function) s
        WHERE {_not_ext('pg_event_trigger', 'e.oid')}""",
    # COMMENT ON <what>, where pg_identify_object names the object as COMMENT expects it.
    "comments": f"""
        SELECT 'comment', s.what, d.description,
               format('COMMENT ON %s IS %L', s.what, d.description),
               format('COMMENT ON %s IS NULL', s.what), s.parent
        FROM (SELECT * FROM pg_description  -- built-in objects' comments: not ours
              WHERE objoid >= 16384) d,
        LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o,
        LATERAL (SELECT
            CASE WHEN o.type LIKE '% column' THEN 'COLUMN ' || o.identity
                 WHEN o.type = 'table constraint' THEN 'CONSTRAINT ' || o.identity
                 WHEN o.type = 'domain constraint' THEN 'CONSTRAINT '
                      || replace(o.identity, ' on ', ' ON DOMAIN ')
                 WHEN o.type = 'function' THEN 'FUNCTION ' || f.sig
                 WHEN o.type = 'procedure' THEN 'PROCEDURE ' || f.sig
                 WHEN o.type = 'composite type' THEN 'TYPE ' || o.identity
                 WHEN o.type = 'statistics object' THEN 'STATISTICS ' || o.identity
                 ELSE upper(o.type) || ' ' || o.identity END AS what,
            CASE WHEN o.type LIKE '% column' THEN o.identity
                 WHEN o.type IN ('function', 'procedure') THEN f.sig
                 WHEN o.type IN ('table constraint', 'trigger', 'policy', 'rule',
                                 'domain constraint') THEN
                      split_part(o.identity, ' on ', 2) || '.' || split_part(o.identity, ' on ', 1)
                 ELSE o.identity END AS parent
            FROM (SELECT (SELECT {_SIGNATURE} FROM pg_proc p
                          JOIN pg_namespace n ON n.oid = p.pronamespace
                          WHERE d.classoid = 'pg_proc'::regclass AND p.oid = d.objoid) AS sig) f
        ) s
        WHERE d.classoid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass,
                             'pg_namespace'::regclass, 'pg_constraint'::regclass,
                             'pg_trigger'::regclass, 'pg_policy'::regclass,
                             'pg_rewrite'::regclass, 'pg_statistic_ext'::regclass,
                             'pg_event_trigger'::regclass)
          AND COALESCE(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END, '')
              NOT IN ('pg_catalog', 'information_schema')
          AND COALESCE(o.schema, o.identity) NOT LIKE 'pg\\_toast%'
          AND COALESCE(o.schema, o.identity) NOT LIKE 'pg\\_temp%'
          AND NOT (o.type LIKE 'table%' AND o.identity LIKE 'public.schema\\_migrations%')
          AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid
                          AND e.objid = d.objoid AND e.deptype = 'e')
          AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                          AND d.classoid = 'pg_type'::regclass AND e.deptype = 'e'
                          AND e.objid = (SELECT typrelid FROM pg_type WHERE oid = d.objoid))""",
}
