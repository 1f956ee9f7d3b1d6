-- Issue 3: the full PAR endpoint. Clients gain key- and certificate-based authentication, a policy profile and
-- the settings that RFC 9126, RFC 9101, RFC 9396 and FAPI 2.0 need.

-- Authentication methods: the shared-secret ones keep a SHA-256 of the secret; the others have none.
ALTER TABLE parstore_clients DROP CONSTRAINT parstore_clients_auth_method_check;
ALTER TABLE parstore_clients DROP CONSTRAINT parstore_clients_check;
ALTER TABLE parstore_clients ADD CONSTRAINT parstore_clients_auth_method_check CHECK (auth_method IN (
    'client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'));
ALTER TABLE parstore_clients ADD CONSTRAINT parstore_clients_secret_check
    CHECK ((auth_method IN ('client_secret_basic', 'client_secret_post')) = (secret_hash IS NOT NULL));

-- The client's public keys (RFC 7517 JWKS): private_key_jwt assertions and signed request objects.
ALTER TABLE parstore_clients ADD COLUMN jwks jsonb;
ALTER TABLE parstore_clients ADD CONSTRAINT parstore_clients_jwks_check
    CHECK (auth_method <> 'private_key_jwt' OR jwks IS NOT NULL);

-- standard or fapi2 (FAPI 2.0 Security Profile).
ALTER TABLE parstore_clients ADD COLUMN profile text NOT NULL DEFAULT 'standard' CHECK (profile IN ('standard', 'fapi2'));

-- Everything else, by RFC 7591-style names: certificate binding, authorization_details types, signed request
-- objects, unregistered redirect URIs and their prefixes, rate limit.
ALTER TABLE parstore_clients ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
