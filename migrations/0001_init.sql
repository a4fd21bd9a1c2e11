-- 0001_init: core and kb schemas, tables, functions, triggers, indexes and the revision-count materialized view.
--
-- Schema layout
--   core  identity, organisations, projects, integrations, notifications, audit trail.
--   kb    documents, chunks and embeddings, extraction and embedding job queues,
--         the versioned object graph, type schemas, tags, chat.
--
-- Every statement is idempotent: the file can be applied twice without error.
-- kb.auth_introspection_cache is created by 0004_auth_introspection_cache.sql, not here.
-- The materialized view is created WITH NO DATA; 0002 populates it.

-- Extensions: pgvector for embeddings. pgcrypto is deliberately not required:
-- gen_random_uuid() is built into PostgreSQL 13+, and the embedded server (pgserver)
-- ships only plpgsql and vector, so CREATE EXTENSION pgcrypto would fail there.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS kb;

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

-- core.set_updated_at(): BEFORE UPDATE trigger function that stamps updated_at with now().
CREATE OR REPLACE FUNCTION core.set_updated_at()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- kb.update_tsv(): BEFORE INSERT/UPDATE trigger function that keeps kb.chunks.tsv
-- in step with kb.chunks.text (simple dictionary: language-neutral, no stemming).
CREATE OR REPLACE FUNCTION kb.update_tsv()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.tsv := to_tsvector('simple', coalesce(NEW.text, ''));
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------
-- core: identity and tenancy
-- ---------------------------------------------------------------------------

-- core.orgs: top-level tenant; owns projects and memberships.
CREATE TABLE IF NOT EXISTS core.orgs (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (length(btrim(name)) > 0),
    slug        text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),  -- URL-safe handle
    settings    jsonb       NOT NULL DEFAULT '{}'::jsonb,                               -- org-wide preferences
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- core.user_profiles: one row per person, keyed to the identity provider's subject.
CREATE TABLE IF NOT EXISTS core.user_profiles (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    subject_id    text        NOT NULL UNIQUE,                       -- IdP "sub" claim
    display_name  text,
    first_name    text,
    last_name     text,
    avatar_url    text,
    timezone      text        NOT NULL DEFAULT 'UTC',
    preferences   jsonb       NOT NULL DEFAULT '{}'::jsonb,          -- UI preferences
    last_seen_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz                                        -- soft delete
);

-- core.user_emails: email addresses of a user; at most one primary per user.
CREATE TABLE IF NOT EXISTS core.user_emails (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    email       text        NOT NULL CHECK (position('@' IN email) > 1),
    verified    boolean     NOT NULL DEFAULT false,
    is_primary  boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- core.superadmins: users granted instance-wide administration.
CREATE TABLE IF NOT EXISTS core.superadmins (
    user_id     uuid        PRIMARY KEY REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    granted_by  uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,                                         -- NULL while active
    notes       text
);

-- core.org_memberships: which users belong to which org, and with what role.
CREATE TABLE IF NOT EXISTS core.org_memberships (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid        NOT NULL REFERENCES core.orgs (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    role        text        NOT NULL DEFAULT 'org_member' CHECK (role IN ('org_admin', 'org_member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, user_id)
);

-- core.projects: a knowledge base inside an org; scopes documents and graph data.
CREATE TABLE IF NOT EXISTS core.projects (
    id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                uuid        NOT NULL REFERENCES core.orgs (id) ON DELETE CASCADE,
    name                  text        NOT NULL CHECK (length(btrim(name)) > 0),
    description           text,
    kb_purpose            text,                                      -- guides extraction prompts
    auto_extract_objects  boolean     NOT NULL DEFAULT false,        -- queue extraction on upload
    auto_extract_config   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

-- core.project_memberships: per-project roles.
CREATE TABLE IF NOT EXISTS core.project_memberships (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    role        text        NOT NULL DEFAULT 'project_user'
                            CHECK (role IN ('project_admin', 'project_user', 'project_viewer')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, user_id)
);

-- core.invites: pending invitations to an org or project; only a hash of the token is stored.
CREATE TABLE IF NOT EXISTS core.invites (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id       uuid        NOT NULL REFERENCES core.orgs (id) ON DELETE CASCADE,
    project_id   uuid        REFERENCES core.projects (id) ON DELETE CASCADE,   -- NULL: org-level invite
    email        text        NOT NULL CHECK (position('@' IN email) > 1),
    role         text        NOT NULL,
    token_hash   text        NOT NULL UNIQUE,
    status       text        NOT NULL DEFAULT 'pending'
                             CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
    invited_by   uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    expires_at   timestamptz NOT NULL DEFAULT now() + interval '7 days',
    accepted_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- core.api_tokens: personal access tokens for the API; only a hash of the secret is stored.
CREATE TABLE IF NOT EXISTS core.api_tokens (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    project_id    uuid        REFERENCES core.projects (id) ON DELETE CASCADE,  -- NULL: all projects
    name          text        NOT NULL,
    token_hash    text        NOT NULL UNIQUE,
    scopes        text[]      NOT NULL DEFAULT '{}',
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- core: integrations, notifications, email, audit
-- ---------------------------------------------------------------------------

-- core.integrations: third-party connectors configured per project.
CREATE TABLE IF NOT EXISTS core.integrations (
    id                  uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    provider            text        NOT NULL CHECK (provider ~ '^[a-z0-9_]+$'),   -- e.g. clickup, github
    display_name        text        NOT NULL,
    enabled             boolean     NOT NULL DEFAULT true,
    settings            jsonb       NOT NULL DEFAULT '{}'::jsonb,               -- non-secret options
    encrypted_settings  bytea,                                                  -- secrets, encrypted by the app
    created_by          uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, provider)
);

-- core.integration_sync_runs: history of integration sync executions.
CREATE TABLE IF NOT EXISTS core.integration_sync_runs (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    integration_id  uuid        NOT NULL REFERENCES core.integrations (id) ON DELETE CASCADE,
    status          text        NOT NULL DEFAULT 'running'
                                CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    items_synced    integer     NOT NULL DEFAULT 0 CHECK (items_synced >= 0),
    error_message   text,
    stats           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    started_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    CHECK (completed_at IS NULL OR completed_at >= started_at)
);

-- core.notifications: in-app notifications addressed to one user.
CREATE TABLE IF NOT EXISTS core.notifications (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    project_id    uuid        REFERENCES core.projects (id) ON DELETE CASCADE,
    category      text        NOT NULL,                              -- e.g. extraction.completed
    importance    text        NOT NULL DEFAULT 'other' CHECK (importance IN ('important', 'other')),
    title         text        NOT NULL,
    message       text        NOT NULL,
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    source_type   text,                                              -- entity that raised it
    source_id     uuid,
    action_url    text,
    read_at       timestamptz,
    dismissed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- core.notification_preferences: per-user, per-category delivery choices.
CREATE TABLE IF NOT EXISTS core.notification_preferences (
    user_id     uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    category    text        NOT NULL,
    in_app      boolean     NOT NULL DEFAULT true,
    email       boolean     NOT NULL DEFAULT false,
    digest      text        NOT NULL DEFAULT 'none' CHECK (digest IN ('none', 'daily', 'weekly')),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, category)
);

-- core.email_jobs: outbound email queue with retry bookkeeping.
CREATE TABLE IF NOT EXISTS core.email_jobs (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    template_name  text        NOT NULL,
    to_email       text        NOT NULL CHECK (position('@' IN to_email) > 1),
    to_name        text,
    subject        text        NOT NULL,
    template_data  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'processing', 'sent', 'failed')),
    attempts       integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts   integer     NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    last_error     text,
    next_retry_at  timestamptz,
    sent_at        timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- core.audit_log: append-only record of security-relevant actions.
-- org_id/project_id carry no foreign keys so entries outlive deleted tenants.
CREATE TABLE IF NOT EXISTS core.audit_log (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at    timestamptz NOT NULL DEFAULT now(),
    actor_user_id  uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    actor_type     text        NOT NULL DEFAULT 'user' CHECK (actor_type IN ('user', 'api_token', 'system')),
    org_id         uuid,
    project_id     uuid,
    action         text        NOT NULL,                             -- e.g. document.delete
    resource_type  text,
    resource_id    text,
    outcome        text        NOT NULL DEFAULT 'success' CHECK (outcome IN ('success', 'failure', 'denied')),
    request_id     text,                                             -- correlates with server logs
    client_ip      inet,
    user_agent     text,
    details        jsonb       NOT NULL DEFAULT '{}'::jsonb
);

-- ---------------------------------------------------------------------------
-- kb: documents and chunks
-- ---------------------------------------------------------------------------

-- kb.documents: an ingested source document (8 columns).
CREATE TABLE IF NOT EXISTS kb.documents (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    filename      text,
    source_url    text,
    mime_type     text,
    content       text,                                              -- extracted plain text
    content_hash  text,                                              -- sha256 hex, for de-duplication
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (filename IS NOT NULL OR source_url IS NOT NULL)
);

-- kb.chunks: retrieval units of a document with embedding and full-text vector (7 columns).
-- tsv is maintained by kb.update_tsv().
CREATE TABLE IF NOT EXISTS kb.chunks (
    id           uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id  uuid         NOT NULL REFERENCES kb.documents (id) ON DELETE CASCADE,
    chunk_index  integer      NOT NULL CHECK (chunk_index >= 0),      -- position within the document
    text         text         NOT NULL,
    embedding    vector(768),                                         -- NULL until embedded
    tsv          tsvector,
    created_at   timestamptz  NOT NULL DEFAULT now(),
    UNIQUE (document_id, chunk_index)
);

-- kb.tags: project-scoped labels for documents and graph objects (8 columns).
CREATE TABLE IF NOT EXISTS kb.tags (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(btrim(name)) > 0),
    description  text,
    color        text        CHECK (color IS NULL OR color ~ '^#[0-9A-Fa-f]{6}$'),
    created_by   uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- kb.document_tags: many-to-many link between documents and tags.
CREATE TABLE IF NOT EXISTS kb.document_tags (
    document_id  uuid        NOT NULL REFERENCES kb.documents (id) ON DELETE CASCADE,
    tag_id       uuid        NOT NULL REFERENCES kb.tags (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, tag_id)
);

-- kb.chunk_embedding_jobs: queue of chunks waiting for an embedding.
CREATE TABLE IF NOT EXISTS kb.chunk_embedding_jobs (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    chunk_id       uuid        NOT NULL REFERENCES kb.chunks (id) ON DELETE CASCADE,
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempt_count  integer     NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    last_error     text,
    priority       integer     NOT NULL DEFAULT 0,                   -- higher runs first
    scheduled_at   timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- kb: type system and template packs
-- ---------------------------------------------------------------------------

-- kb.template_packs: versioned bundles of object/relationship types and extraction prompts.
CREATE TABLE IF NOT EXISTS kb.template_packs (
    id                          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                        text        NOT NULL,
    version                     text        NOT NULL,
    description                 text,
    author                      text,
    object_type_schemas         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    relationship_type_schemas   jsonb       NOT NULL DEFAULT '{}'::jsonb,
    extraction_prompts          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    published_at                timestamptz,
    deprecated_at               timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);

-- kb.project_template_packs: template packs installed in a project, with local overrides.
CREATE TABLE IF NOT EXISTS kb.project_template_packs (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    template_pack_id  uuid        NOT NULL REFERENCES kb.template_packs (id) ON DELETE RESTRICT,
    active            boolean     NOT NULL DEFAULT true,
    customizations    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    installed_by      uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    installed_at      timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, template_pack_id)
);

-- kb.object_type_schemas: JSON Schema per object type in a project.
CREATE TABLE IF NOT EXISTS kb.object_type_schemas (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    template_pack_id  uuid        REFERENCES kb.template_packs (id) ON DELETE SET NULL,  -- NULL: custom type
    type_name         text        NOT NULL CHECK (type_name ~ '^[A-Za-z][A-Za-z0-9_]*$'),
    description       text,
    json_schema       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ui_config         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enabled           boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, type_name)
);

-- kb.relationship_type_schemas: allowed relationship types and their endpoint types.
CREATE TABLE IF NOT EXISTS kb.relationship_type_schemas (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    template_pack_id  uuid        REFERENCES kb.template_packs (id) ON DELETE SET NULL,
    type_name         text        NOT NULL CHECK (type_name ~ '^[A-Za-z][A-Za-z0-9_]*$'),
    source_types      text[]      NOT NULL DEFAULT '{}',             -- allowed source object types
    target_types      text[]      NOT NULL DEFAULT '{}',             -- allowed target object types
    multiplicity      text        NOT NULL DEFAULT 'many_to_many'
                                  CHECK (multiplicity IN ('one_to_one', 'one_to_many', 'many_to_one', 'many_to_many')),
    json_schema       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    enabled           boolean     NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, type_name)
);

-- kb.embedding_policies: per object type, which objects and properties get embedded.
CREATE TABLE IF NOT EXISTS kb.embedding_policies (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    object_type        text        NOT NULL,
    enabled            boolean     NOT NULL DEFAULT true,
    max_property_size  integer     CHECK (max_property_size IS NULL OR max_property_size > 0),  -- bytes
    required_labels    text[]      NOT NULL DEFAULT '{}',
    excluded_labels    text[]      NOT NULL DEFAULT '{}',
    relevant_paths     text[]      NOT NULL DEFAULT '{}',            -- JSON paths to embed
    excluded_statuses  text[]      NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, object_type)
);

-- ---------------------------------------------------------------------------
-- kb: branches and extraction
-- ---------------------------------------------------------------------------

-- kb.branches: named lines of graph history within a project (NULL branch = main).
CREATE TABLE IF NOT EXISTS kb.branches (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id            uuid        REFERENCES core.orgs (id) ON DELETE CASCADE,
    project_id        uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    name              text        NOT NULL CHECK (length(btrim(name)) > 0),
    parent_branch_id  uuid        REFERENCES kb.branches (id) ON DELETE SET NULL,
    created_by        uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- kb.branch_lineage: transitive closure of branch ancestry for fast lookups.
CREATE TABLE IF NOT EXISTS kb.branch_lineage (
    branch_id           uuid    NOT NULL REFERENCES kb.branches (id) ON DELETE CASCADE,
    ancestor_branch_id  uuid    NOT NULL REFERENCES kb.branches (id) ON DELETE CASCADE,
    depth               integer NOT NULL CHECK (depth >= 0),          -- 0 = the branch itself
    PRIMARY KEY (branch_id, ancestor_branch_id)
);

-- kb.object_extraction_jobs: queue and progress of LLM object extraction runs (31 columns).
CREATE TABLE IF NOT EXISTS kb.object_extraction_jobs (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id             uuid        REFERENCES core.orgs (id) ON DELETE CASCADE,
    project_id         uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    source_type        text        NOT NULL CHECK (source_type IN ('document', 'chunk', 'manual', 'integration')),
    document_id        uuid        REFERENCES kb.documents (id) ON DELETE CASCADE,
    chunk_id           uuid        REFERENCES kb.chunks (id) ON DELETE CASCADE,
    source_metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
    extraction_config  jsonb       NOT NULL DEFAULT '{}'::jsonb,     -- types, thresholds, model options
    status             text        NOT NULL DEFAULT 'pending'
                                   CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'requires_review')),
    total_items        integer     NOT NULL DEFAULT 0 CHECK (total_items >= 0),
    processed_items    integer     NOT NULL DEFAULT 0 CHECK (processed_items >= 0),
    successful_items   integer     NOT NULL DEFAULT 0 CHECK (successful_items >= 0),
    failed_items       integer     NOT NULL DEFAULT 0 CHECK (failed_items >= 0),
    discovered_types   text[]      NOT NULL DEFAULT '{}',
    created_objects    uuid[]      NOT NULL DEFAULT '{}',            -- graph_objects ids produced
    error_message      text,
    error_details      jsonb,
    retry_count        integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    max_retries        integer     NOT NULL DEFAULT 3 CHECK (max_retries >= 0),
    priority           integer     NOT NULL DEFAULT 0,               -- higher runs first
    scheduled_at       timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    completed_at       timestamptz,
    created_by         uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    reprocessing_of    uuid        REFERENCES kb.object_extraction_jobs (id) ON DELETE SET NULL,
    template_pack_id   uuid        REFERENCES kb.template_packs (id) ON DELETE SET NULL,
    llm_model          text,
    tokens_used        bigint      NOT NULL DEFAULT 0 CHECK (tokens_used >= 0),
    debug_info         jsonb,                                        -- prompts/responses when debugging
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (processed_items <= total_items OR total_items = 0),
    CHECK (source_type <> 'document' OR document_id IS NOT NULL),
    CHECK (source_type <> 'chunk' OR chunk_id IS NOT NULL)
);

-- kb.extraction_job_logs: step-by-step trace of an extraction job.
CREATE TABLE IF NOT EXISTS kb.extraction_job_logs (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id          uuid        NOT NULL REFERENCES kb.object_extraction_jobs (id) ON DELETE CASCADE,
    step_index      integer     NOT NULL CHECK (step_index >= 0),
    operation_type  text        NOT NULL,                            -- e.g. llm_call, object_creation
    operation_name  text,
    status          text        NOT NULL CHECK (status IN ('success', 'error', 'warning')),
    input_data      jsonb,
    output_data     jsonb,
    error_message   text,
    duration_ms     integer     CHECK (duration_ms IS NULL OR duration_ms >= 0),
    tokens_used     integer     CHECK (tokens_used IS NULL OR tokens_used >= 0),
    logged_at       timestamptz NOT NULL DEFAULT now()
);

-- kb.llm_call_logs: cost and latency accounting for each model call.
CREATE TABLE IF NOT EXISTS kb.llm_call_logs (
    id                uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid          REFERENCES core.projects (id) ON DELETE SET NULL,
    job_id            uuid          REFERENCES kb.object_extraction_jobs (id) ON DELETE SET NULL,
    model_name        text          NOT NULL,
    request_payload   jsonb,
    response_payload  jsonb,
    input_tokens      integer       CHECK (input_tokens IS NULL OR input_tokens >= 0),
    output_tokens     integer       CHECK (output_tokens IS NULL OR output_tokens >= 0),
    cost_usd          numeric(12,6) CHECK (cost_usd IS NULL OR cost_usd >= 0),
    duration_ms       integer       CHECK (duration_ms IS NULL OR duration_ms >= 0),
    status            text          NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'success', 'error', 'timeout')),
    error_message     text,
    started_at        timestamptz   NOT NULL DEFAULT now(),
    completed_at      timestamptz
);

-- kb.discovery_jobs: runs that propose new object types from a project's documents.
CREATE TABLE IF NOT EXISTS kb.discovery_jobs (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id        uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    config            jsonb       NOT NULL DEFAULT '{}'::jsonb,
    discovered_types  jsonb       NOT NULL DEFAULT '[]'::jsonb,      -- proposed type definitions
    error_message     text,
    started_at        timestamptz,
    completed_at      timestamptz,
    created_by        uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------
-- kb: object graph (versioned: each edit inserts a row sharing canonical_id)
-- ---------------------------------------------------------------------------

-- kb.graph_objects: one version of a typed graph node (30 columns).
CREATE TABLE IF NOT EXISTS kb.graph_objects (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id                 uuid        REFERENCES core.orgs (id) ON DELETE CASCADE,
    project_id             uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    branch_id              uuid        REFERENCES kb.branches (id) ON DELETE CASCADE,   -- NULL = main
    canonical_id           uuid        NOT NULL DEFAULT gen_random_uuid(),              -- stable across versions
    supersedes_id          uuid        REFERENCES kb.graph_objects (id) ON DELETE SET NULL,
    version                integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    type                   text        NOT NULL,
    key                    text,                                                        -- business key within type
    properties             jsonb       NOT NULL DEFAULT '{}'::jsonb,
    labels                 text[]      NOT NULL DEFAULT '{}',
    status                 text        CHECK (status IS NULL OR status IN ('draft', 'active', 'accepted', 'rejected', 'archived')),
    change_summary         jsonb,                                                       -- diff against previous version
    content_hash           bytea,                                                       -- digest of type+key+properties
    source_document_id     uuid        REFERENCES kb.documents (id) ON DELETE SET NULL,
    embedding              vector(768),
    embedding_updated_at   timestamptz,
    extraction_job_id      uuid        REFERENCES kb.object_extraction_jobs (id) ON DELETE SET NULL,
    extraction_confidence  real        CHECK (extraction_confidence IS NULL OR extraction_confidence BETWEEN 0 AND 1),
    needs_review           boolean     NOT NULL DEFAULT false,
    reviewed_by            uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    reviewed_at            timestamptz,
    external_source        text,                                                        -- integration provider
    external_id            text,
    external_url           text,
    synced_at              timestamptz,
    created_by             uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    deleted_at             timestamptz,                                                 -- tombstone version
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (canonical_id, version),
    CHECK (supersedes_id IS NULL OR supersedes_id <> id),
    CHECK (external_id IS NULL OR external_source IS NOT NULL)
);

-- kb.graph_relationships: one version of a typed, directed edge between objects (18 columns).
CREATE TABLE IF NOT EXISTS kb.graph_relationships (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id          uuid        REFERENCES core.orgs (id) ON DELETE CASCADE,
    project_id      uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    branch_id       uuid        REFERENCES kb.branches (id) ON DELETE CASCADE,          -- NULL = main
    canonical_id    uuid        NOT NULL DEFAULT gen_random_uuid(),
    supersedes_id   uuid        REFERENCES kb.graph_relationships (id) ON DELETE SET NULL,
    version         integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    type            text        NOT NULL,
    src_id          uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    dst_id          uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    properties      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    weight          real        CHECK (weight IS NULL OR weight >= 0),
    valid_from      timestamptz,                                                        -- temporal validity
    valid_to        timestamptz,
    change_summary  jsonb,
    content_hash    bytea,
    deleted_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (canonical_id, version),
    CHECK (src_id <> dst_id),
    CHECK (valid_to IS NULL OR valid_from IS NULL OR valid_to > valid_from)
);

-- kb.graph_embedding_jobs: queue of graph objects waiting for an embedding (11 columns).
CREATE TABLE IF NOT EXISTS kb.graph_embedding_jobs (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    object_id      uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    status         text        NOT NULL DEFAULT 'pending'
                               CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempt_count  integer     NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    last_error     text,
    priority       integer     NOT NULL DEFAULT 0,                   -- higher runs first
    scheduled_at   timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    completed_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- kb.object_chunks: provenance; which chunks an object version was extracted from.
CREATE TABLE IF NOT EXISTS kb.object_chunks (
    object_id          uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    chunk_id           uuid        NOT NULL REFERENCES kb.chunks (id) ON DELETE CASCADE,
    extraction_job_id  uuid        REFERENCES kb.object_extraction_jobs (id) ON DELETE SET NULL,
    confidence         real        CHECK (confidence IS NULL OR confidence BETWEEN 0 AND 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_id, chunk_id)
);

-- kb.graph_object_tags: many-to-many link between graph object versions and tags.
CREATE TABLE IF NOT EXISTS kb.graph_object_tags (
    object_id   uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    tag_id      uuid        NOT NULL REFERENCES kb.tags (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_id, tag_id)
);

-- kb.merge_provenance: parent versions that a merged object version was built from.
CREATE TABLE IF NOT EXISTS kb.merge_provenance (
    child_version_id   uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    parent_version_id  uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE CASCADE,
    role               text        NOT NULL CHECK (role IN ('source', 'target', 'base')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child_version_id, parent_version_id, role),
    CHECK (child_version_id <> parent_version_id)
);

-- kb.product_versions: named, immutable snapshots of the graph (releases).
CREATE TABLE IF NOT EXISTS kb.product_versions (
    id                       uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id               uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    name                     text        NOT NULL CHECK (length(btrim(name)) > 0),
    description              text,
    base_product_version_id  uuid        REFERENCES kb.product_versions (id) ON DELETE SET NULL,
    created_by               uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    created_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- kb.product_version_members: which object version each canonical object had in a snapshot.
CREATE TABLE IF NOT EXISTS kb.product_version_members (
    product_version_id   uuid        NOT NULL REFERENCES kb.product_versions (id) ON DELETE CASCADE,
    object_canonical_id  uuid        NOT NULL,
    object_version_id    uuid        NOT NULL REFERENCES kb.graph_objects (id) ON DELETE RESTRICT,
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_version_id, object_canonical_id)
);

-- kb.external_sources: items imported from an integration, for incremental re-sync.
CREATE TABLE IF NOT EXISTS kb.external_sources (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    integration_id  uuid        NOT NULL REFERENCES core.integrations (id) ON DELETE CASCADE,
    external_type   text        NOT NULL,                            -- e.g. task, page, issue
    external_id     text        NOT NULL,
    external_url    text,
    document_id     uuid        REFERENCES kb.documents (id) ON DELETE SET NULL,
    sync_status     text        NOT NULL DEFAULT 'pending'
                                CHECK (sync_status IN ('pending', 'synced', 'error', 'deleted')),
    last_synced_at  timestamptz,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (integration_id, external_type, external_id)
);

-- ---------------------------------------------------------------------------
-- kb: chat and user activity
-- ---------------------------------------------------------------------------

-- kb.chat_conversations: a chat thread over a project's knowledge base.
CREATE TABLE IF NOT EXISTS kb.chat_conversations (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id     uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    owner_user_id  uuid        REFERENCES core.user_profiles (id) ON DELETE SET NULL,
    title          text        NOT NULL DEFAULT 'New conversation',
    is_private     boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- kb.chat_messages: messages of a conversation, with retrieval citations.
CREATE TABLE IF NOT EXISTS kb.chat_messages (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id  uuid        NOT NULL REFERENCES kb.chat_conversations (id) ON DELETE CASCADE,
    role             text        NOT NULL CHECK (role IN ('user', 'assistant', 'system')),
    content          text        NOT NULL,
    citations        jsonb       NOT NULL DEFAULT '[]'::jsonb,      -- chunk/object references
    token_count      integer     CHECK (token_count IS NULL OR token_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- kb.saved_searches: named hybrid (full-text + vector) searches a user can rerun.
CREATE TABLE IF NOT EXISTS kb.saved_searches (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id  uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    user_id     uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    name        text        NOT NULL CHECK (length(btrim(name)) > 0),
    query       text        NOT NULL,
    filters     jsonb       NOT NULL DEFAULT '{}'::jsonb,          -- types, tags, date ranges
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, user_id, name)
);

-- kb.user_recent_items: recently opened documents/objects per user, for quick access.
CREATE TABLE IF NOT EXISTS kb.user_recent_items (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL REFERENCES core.user_profiles (id) ON DELETE CASCADE,
    project_id     uuid        NOT NULL REFERENCES core.projects (id) ON DELETE CASCADE,
    resource_type  text        NOT NULL CHECK (resource_type IN ('document', 'object', 'conversation')),
    resource_id    uuid        NOT NULL,
    accessed_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, resource_type, resource_id)
);

-- ---------------------------------------------------------------------------
-- Materialized view and its refresh function
-- ---------------------------------------------------------------------------

-- kb.graph_object_revision_counts: per canonical object, number of stored versions and
-- the time span they cover. Created empty; 0002 populates it.
CREATE MATERIALIZED VIEW IF NOT EXISTS kb.graph_object_revision_counts AS
SELECT
    canonical_id,
    project_id,
    count(*)::integer AS revision_count,
    max(version)      AS latest_version,
    min(created_at)   AS first_created_at,
    max(created_at)   AS last_created_at
FROM kb.graph_objects
GROUP BY canonical_id, project_id
WITH NO DATA;

-- Unique index required by REFRESH MATERIALIZED VIEW CONCURRENTLY.
CREATE UNIQUE INDEX IF NOT EXISTS graph_object_revision_counts_canonical_uidx
    ON kb.graph_object_revision_counts (canonical_id, project_id);

-- kb.refresh_revision_counts(): refreshes kb.graph_object_revision_counts without blocking
-- readers; falls back to a plain refresh while the view has never been populated
-- (CONCURRENTLY is rejected on an unpopulated materialized view).
CREATE OR REPLACE FUNCTION kb.refresh_revision_counts()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (
        SELECT 1
        FROM pg_catalog.pg_matviews
        WHERE schemaname = 'kb'
          AND matviewname = 'graph_object_revision_counts'
          AND ispopulated
    ) THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY kb.graph_object_revision_counts;
    ELSE
        REFRESH MATERIALIZED VIEW kb.graph_object_revision_counts;
    END IF;
END;
$$;

-- ---------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------

-- Full-text vector on chunks follows the text column.
CREATE OR REPLACE TRIGGER chunks_update_tsv
    BEFORE INSERT OR UPDATE OF text ON kb.chunks
    FOR EACH ROW EXECUTE FUNCTION kb.update_tsv();

-- updated_at maintenance.
CREATE OR REPLACE TRIGGER orgs_set_updated_at
    BEFORE UPDATE ON core.orgs
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER user_profiles_set_updated_at
    BEFORE UPDATE ON core.user_profiles
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER projects_set_updated_at
    BEFORE UPDATE ON core.projects
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER integrations_set_updated_at
    BEFORE UPDATE ON core.integrations
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER tags_set_updated_at
    BEFORE UPDATE ON kb.tags
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER object_extraction_jobs_set_updated_at
    BEFORE UPDATE ON kb.object_extraction_jobs
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER graph_embedding_jobs_set_updated_at
    BEFORE UPDATE ON kb.graph_embedding_jobs
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER chunk_embedding_jobs_set_updated_at
    BEFORE UPDATE ON kb.chunk_embedding_jobs
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER graph_objects_set_updated_at
    BEFORE UPDATE ON kb.graph_objects
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER chat_conversations_set_updated_at
    BEFORE UPDATE ON kb.chat_conversations
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

CREATE OR REPLACE TRIGGER saved_searches_set_updated_at
    BEFORE UPDATE ON kb.saved_searches
    FOR EACH ROW EXECUTE FUNCTION core.set_updated_at();

-- ---------------------------------------------------------------------------
-- Indexes
-- ---------------------------------------------------------------------------

-- core
CREATE UNIQUE INDEX IF NOT EXISTS user_emails_email_lower_uidx ON core.user_emails (lower(email));
CREATE UNIQUE INDEX IF NOT EXISTS user_emails_one_primary_uidx ON core.user_emails (user_id) WHERE is_primary;
CREATE INDEX IF NOT EXISTS org_memberships_user_idx       ON core.org_memberships (user_id);
CREATE INDEX IF NOT EXISTS project_memberships_user_idx   ON core.project_memberships (user_id);
CREATE INDEX IF NOT EXISTS invites_email_lower_idx        ON core.invites (lower(email)) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS api_tokens_user_idx            ON core.api_tokens (user_id) WHERE revoked_at IS NULL;
CREATE INDEX IF NOT EXISTS integration_sync_runs_integration_idx
    ON core.integration_sync_runs (integration_id, started_at DESC);
CREATE INDEX IF NOT EXISTS notifications_user_unread_idx
    ON core.notifications (user_id, created_at DESC) WHERE read_at IS NULL AND dismissed_at IS NULL;
CREATE INDEX IF NOT EXISTS email_jobs_pending_idx
    ON core.email_jobs (next_retry_at NULLS FIRST, created_at) WHERE status IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS audit_log_occurred_idx         ON core.audit_log (occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_actor_idx            ON core.audit_log (actor_user_id, occurred_at DESC);
CREATE INDEX IF NOT EXISTS audit_log_resource_idx         ON core.audit_log (resource_type, resource_id);
CREATE INDEX IF NOT EXISTS audit_log_details_gin          ON core.audit_log USING gin (details jsonb_path_ops);

-- kb: documents and chunks
CREATE INDEX IF NOT EXISTS documents_project_created_idx  ON kb.documents (project_id, created_at DESC);
CREATE INDEX IF NOT EXISTS documents_content_hash_idx     ON kb.documents (project_id, content_hash);
CREATE INDEX IF NOT EXISTS chunks_tsv_gin                 ON kb.chunks USING gin (tsv);
CREATE INDEX IF NOT EXISTS chunks_embedding_hnsw          ON kb.chunks USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS document_tags_tag_idx          ON kb.document_tags (tag_id);
CREATE INDEX IF NOT EXISTS chunk_embedding_jobs_queue_idx
    ON kb.chunk_embedding_jobs (priority DESC, scheduled_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS chunk_embedding_jobs_chunk_idx ON kb.chunk_embedding_jobs (chunk_id);

-- kb: type system
CREATE INDEX IF NOT EXISTS project_template_packs_pack_idx ON kb.project_template_packs (template_pack_id);

-- kb: branches and extraction
CREATE INDEX IF NOT EXISTS branch_lineage_ancestor_idx    ON kb.branch_lineage (ancestor_branch_id);
CREATE INDEX IF NOT EXISTS object_extraction_jobs_queue_idx
    ON kb.object_extraction_jobs (priority DESC, scheduled_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS object_extraction_jobs_project_status_idx
    ON kb.object_extraction_jobs (project_id, status, created_at DESC);
CREATE INDEX IF NOT EXISTS object_extraction_jobs_document_idx ON kb.object_extraction_jobs (document_id);
CREATE INDEX IF NOT EXISTS extraction_job_logs_job_idx    ON kb.extraction_job_logs (job_id, step_index);
CREATE INDEX IF NOT EXISTS llm_call_logs_job_idx          ON kb.llm_call_logs (job_id);
CREATE INDEX IF NOT EXISTS llm_call_logs_project_started_idx ON kb.llm_call_logs (project_id, started_at DESC);
CREATE INDEX IF NOT EXISTS discovery_jobs_project_idx     ON kb.discovery_jobs (project_id, created_at DESC);

-- kb: object graph
CREATE INDEX IF NOT EXISTS graph_objects_project_type_idx ON kb.graph_objects (project_id, type);
CREATE INDEX IF NOT EXISTS graph_objects_canonical_idx    ON kb.graph_objects (canonical_id, version DESC);
CREATE INDEX IF NOT EXISTS graph_objects_key_idx
    ON kb.graph_objects (project_id, type, key) WHERE key IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS graph_objects_properties_gin   ON kb.graph_objects USING gin (properties jsonb_path_ops);
CREATE INDEX IF NOT EXISTS graph_objects_labels_gin       ON kb.graph_objects USING gin (labels);
CREATE INDEX IF NOT EXISTS graph_objects_embedding_hnsw   ON kb.graph_objects USING hnsw (embedding vector_cosine_ops);
CREATE INDEX IF NOT EXISTS graph_objects_external_idx
    ON kb.graph_objects (external_source, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS graph_objects_review_idx
    ON kb.graph_objects (project_id, created_at DESC) WHERE needs_review;
CREATE INDEX IF NOT EXISTS graph_relationships_src_idx    ON kb.graph_relationships (src_id, type);
CREATE INDEX IF NOT EXISTS graph_relationships_dst_idx    ON kb.graph_relationships (dst_id, type);
CREATE INDEX IF NOT EXISTS graph_relationships_canonical_idx ON kb.graph_relationships (canonical_id, version DESC);
CREATE INDEX IF NOT EXISTS graph_relationships_project_type_idx ON kb.graph_relationships (project_id, type);
CREATE INDEX IF NOT EXISTS graph_embedding_jobs_queue_idx
    ON kb.graph_embedding_jobs (priority DESC, scheduled_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS graph_embedding_jobs_object_idx ON kb.graph_embedding_jobs (object_id);
CREATE INDEX IF NOT EXISTS object_chunks_chunk_idx        ON kb.object_chunks (chunk_id);
CREATE INDEX IF NOT EXISTS graph_object_tags_tag_idx      ON kb.graph_object_tags (tag_id);
CREATE INDEX IF NOT EXISTS merge_provenance_parent_idx    ON kb.merge_provenance (parent_version_id);
CREATE INDEX IF NOT EXISTS product_version_members_object_idx ON kb.product_version_members (object_version_id);
CREATE INDEX IF NOT EXISTS external_sources_document_idx  ON kb.external_sources (document_id);

-- kb: chat and activity
CREATE INDEX IF NOT EXISTS chat_conversations_project_idx ON kb.chat_conversations (project_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS chat_messages_conversation_idx ON kb.chat_messages (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS user_recent_items_user_idx     ON kb.user_recent_items (user_id, accessed_at DESC);
