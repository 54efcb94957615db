-- SPDX-License-Identifier: LGPL-2.1-or-later
-- The office's audit trail (docs/office.md): every line of every station's audit file, as its
-- bytes, numbered as in the file. Each station's lines are one hash chain, the one its file
-- holds, verified by tokenctl audit verify --database with the file's own verifier; the office
-- sees all stations' acts through tokenctl audit list --database. tokend_station may add lines
-- and read them, never change or remove one; tokend_auditor (the staff who verify) may read.

CREATE TABLE audit_lines (
    station text NOT NULL CHECK (length(station) BETWEEN 1 AND 64),
    line_no bigint NOT NULL CHECK (line_no >= 1),
    -- Bytes, not text: a line cut short by a crash may end inside a UTF-8 sequence.
    line bytea NOT NULL CHECK (octet_length(line) BETWEEN 1 AND 4096),
    -- The record's own time (its time_usec), NULL for a line that is no record.
    at timestamptz,
    -- Who added the line (set by the trigger below, whatever the insert says) and when.
    written_by name NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (station, line_no)
);

CREATE INDEX audit_lines_at ON audit_lines (at);

CREATE FUNCTION audit_lines_written_by() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.written_by := session_user;
    NEW.received_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_lines_who BEFORE INSERT ON audit_lines
    FOR EACH ROW EXECUTE FUNCTION audit_lines_written_by();

-- One refusal for every append-only table from here on, naming the table (001's
-- ledger_attempts keeps the function it was made with).
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER audit_lines_no_change BEFORE UPDATE OR DELETE ON audit_lines
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER audit_lines_no_truncate BEFORE TRUNCATE ON audit_lines
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

REVOKE ALL ON audit_lines FROM PUBLIC;
GRANT SELECT, INSERT ON audit_lines TO tokend_station;
GRANT SELECT ON audit_lines, ledger_counts, ledger_attempts, schema_version TO tokend_auditor;
