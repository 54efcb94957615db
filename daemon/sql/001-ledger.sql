-- SPDX-License-Identifier: LGPL-2.1-or-later
-- The office's retry ledger (docs/office.md): per token serial the count of failed SO PIN/PUK
-- attempts and of those whose answer was lost since the last right one (NULL failed: no record
-- yet), and every attempt with the station that made it. Applied by tokend --migrate as the
-- database's owner; tokend itself logs in as a member of tokend_station, which may add attempts
-- and change counts, and never change or remove an attempt.

CREATE TABLE ledger_counts (
    serial text PRIMARY KEY CHECK (length(serial) BETWEEN 1 AND 256),
    failed integer CHECK (failed BETWEEN 0 AND 1000000),
    unknown integer NOT NULL DEFAULT 0 CHECK (unknown BETWEEN 0 AND 1000000),
    station text,
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    serial text NOT NULL REFERENCES ledger_counts (serial),
    station text NOT NULL CHECK (length(station) BETWEEN 1 AND 64),
    outcome text NOT NULL CHECK (outcome IN ('success', 'failed', 'unknown')),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX ledger_attempts_serial ON ledger_attempts (serial, id);

-- Without the grants tokend_station cannot change an attempt; the trigger stops the owner too,
-- short of dropping it, which the server's log then shows.
CREATE FUNCTION ledger_attempts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_attempts is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER ledger_attempts_no_change BEFORE UPDATE OR DELETE ON ledger_attempts
    FOR EACH ROW EXECUTE FUNCTION ledger_attempts_append_only();
CREATE TRIGGER ledger_attempts_no_truncate BEFORE TRUNCATE ON ledger_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_attempts_append_only();

REVOKE ALL ON ledger_counts, ledger_attempts, schema_version FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON ledger_counts TO tokend_station;
GRANT SELECT, INSERT ON ledger_attempts TO tokend_station;
GRANT SELECT ON schema_version TO tokend_station;
