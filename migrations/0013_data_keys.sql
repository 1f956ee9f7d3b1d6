-- Issue 16: pushed parameters encrypted at rest under a data key per partition day.
--
-- Each day's data key is stored only wrapped by a key-encryption key that never enters the database
-- (PARSTORE_DATA_KEY_FILE); `kek_id` names which one. `parstore erase` destroys the wrapped key of past days
-- (crypto-shredding): their parameters are gone, every other column of their events stays, and so do the log's
-- leaves, which hash the stored ciphertext. The row stays, saying when its key was destroyed.
CREATE TABLE parstore_data_keys (
    day        date PRIMARY KEY,
    kek_id     text NOT NULL,
    wrapped    bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    erased_at  timestamptz,
    CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
);
