-- 0002_populate_materialized_views: populate kb.graph_object_revision_counts and add kb.graph_objects_current.
--
-- 0001 creates the materialized view WITH NO DATA; a plain REFRESH populates it and is
-- safe to repeat. Later refreshes go through kb.refresh_revision_counts() (CONCURRENTLY).

-- Populate per-object revision counts.
REFRESH MATERIALIZED VIEW kb.graph_object_revision_counts;

-- kb.graph_objects_current: the head (highest version) of each canonical object per branch,
-- excluding objects whose head version is a deletion tombstone.
CREATE OR REPLACE VIEW kb.graph_objects_current AS
SELECT h.id, h.project_id, h.branch_id, h.canonical_id, h.version, h.type, h.key,
       h.properties, h.labels, h.status, h.created_at, h.updated_at
FROM (
    SELECT DISTINCT ON (o.canonical_id, o.branch_id) o.*
    FROM kb.graph_objects AS o
    ORDER BY o.canonical_id, o.branch_id, o.version DESC
) AS h
WHERE h.deleted_at IS NULL;
