-- The client registry. Secrets are stored only as SHA-256 (they are 256-bit random values, so a fast hash
-- is enough); public clients (auth_method none) have none.
CREATE TABLE parstore_clients (
    client_id     text PRIMARY KEY,
    auth_method   text NOT NULL CHECK (auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    secret_hash   bytea CHECK (secret_hash IS NULL OR octet_length(secret_hash) = 32),
    redirect_uris text[] NOT NULL,
    scopes        text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((auth_method = 'none') = (secret_hash IS NULL))
);

-- Bumped by every change to the registry, so nodes reload only when something changed.
CREATE TABLE parstore_registry_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO parstore_registry_version VALUES (1, 0);

CREATE FUNCTION parstore_bump_registry_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE parstore_registry_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$;

CREATE TRIGGER parstore_clients_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON parstore_clients
FOR EACH STATEMENT EXECUTE FUNCTION parstore_bump_registry_version();
