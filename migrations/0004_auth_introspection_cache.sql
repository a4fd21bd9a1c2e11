-- 0004_auth_introspection_cache: cache of OAuth token introspection results.
--
-- kb.auth_introspection_cache (4 columns): one row per introspected access token, so the
-- server need not call the identity provider on every request. Only a hash of the token is
-- stored, never the token itself. Expired rows are ignored by readers and purged by the app.
--   token_hash          hash of the bearer token (primary key)
--   introspection_data  the provider's introspection response
--   expires_at          when the cached entry stops being valid
--   created_at          when the entry was cached
CREATE TABLE IF NOT EXISTS kb.auth_introspection_cache (
    token_hash          text        PRIMARY KEY,
    introspection_data  jsonb       NOT NULL,
    expires_at          timestamptz NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- Supports purging expired entries.
CREATE INDEX IF NOT EXISTS auth_introspection_cache_expires_at_idx
    ON kb.auth_introspection_cache (expires_at);
