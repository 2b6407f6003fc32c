-- Partners find a lead by its phone however they write it: with or without
-- +55 or 55, a trunk 0, a carrier code (0 21 48 ...), a mobile's ninth digit
-- left out. leads.phone_key is the one form they share (domain.Phone's
-- MatchKey), and the lookup compares it alone, on the index below.
--
-- The service writes phone_key with every lead (PutLead). It alone knows a
-- foreign number typed with '+' (key '+' and its digits), which phone, digits
-- only, no longer tells. lead_phone_key computes the key from the digits
-- alone, as MatchKey does for a phone given without '+'; a test holds the two
-- equal. It fills in the rows written before this column, and the trigger
-- fills in any row written without a key or whose phone changed under an
-- unchanged key: a release that predates this column may still be writing
-- leads while the replicas are replaced.
--
-- Each statement runs on its own (NO TRANSACTION), so that the backfill
-- commits a batch at a time, never holding many leads locked while the CRM
-- keeps writing them, and the index is built CONCURRENTLY. Every statement
-- can run again after a failure half-way; the backfill resumes where it
-- stopped. On a large leads table this can outlast serve's start-up limit:
-- run `callconnect migrate` first (see the README, Scaling).

-- +goose NO TRANSACTION

-- +goose Up
ALTER TABLE leads ADD COLUMN IF NOT EXISTS phone_key text;

-- The area code and number of a number dialled within Brazil (0 + area code,
-- or 0 + carrier + area code), NULL for anything else.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION lead_phone_without_trunk(digits text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN digits ~ '^0[1-9]{2}[0-9]{8,9}$' THEN substr(digits, 2)
        WHEN digits ~ '^0[1-9][0-9][1-9]{2}[0-9]{8,9}$' THEN substr(digits, 4)
    END
$$;
-- +goose StatementEnd

-- Read in order, the first rule that applies:
--   0 + area code + number (11-12 digits), or 0 + carrier + area code +
--   number (13-14 digits): that area code and number; an area code is two
--   digits, neither 0 (so 0800 numbers are none of these);
--   10-11 digits: the area code and number;
--   55 + 10 or more digits: what follows the 55, less a trunk or carrier
--   prefix as above;
--   12 or more other digits: a foreign number, '+' and its digits;
--   anything else (8-9 digits, other forms starting with 0): the digits.
-- An area code and an 8-digit number starting with 6 to 9 is a mobile written
-- without its ninth digit: the 9 is put back.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION lead_phone_key(digits text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN national IS NULL AND digits !~ '^0' AND length(digits) >= 12 THEN '+' || digits
        WHEN national IS NULL THEN digits
        WHEN national ~ '^[0-9]{2}[6-9][0-9]{7}$' THEN left(national, 2) || '9' || substr(national, 3)
        ELSE national
    END
    FROM (SELECT CASE
        WHEN digits ~ '^0' THEN lead_phone_without_trunk(digits)
        WHEN length(digits) IN (10, 11) THEN digits
        WHEN length(digits) >= 12 AND digits ~ '^55' THEN coalesce(lead_phone_without_trunk(substr(digits, 3)), substr(digits, 3))
    END AS national) AS n
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION leads_fill_phone_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone IS NULL THEN
        NEW.phone_key := NULL;
    ELSIF NEW.phone_key IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.phone IS DISTINCT FROM OLD.phone AND NEW.phone_key IS NOT DISTINCT FROM OLD.phone_key) THEN
        NEW.phone_key := lead_phone_key(NEW.phone);
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS leads_phone_key ON leads;
CREATE TRIGGER leads_phone_key BEFORE INSERT OR UPDATE OF phone, phone_key ON leads
    FOR EACH ROW EXECUTE FUNCTION leads_fill_phone_key();

-- The rows written before: 5000 at a time in primary-key order, each batch
-- committed. Rows the trigger has filled meanwhile are left alone.
-- +goose StatementBegin
DO $$
DECLARE
    last_env text := '';
    last_id  text := '';
BEGIN
    LOOP
        WITH batch AS (
            SELECT env_id, id FROM leads
            WHERE (env_id, id) > (last_env, last_id)
            ORDER BY env_id, id
            LIMIT 5000
        ), filled AS (
            UPDATE leads l SET phone_key = lead_phone_key(l.phone)
            FROM batch b
            WHERE l.env_id = b.env_id AND l.id = b.id AND l.phone IS NOT NULL AND l.phone_key IS NULL
        )
        SELECT env_id, id INTO last_env, last_id FROM batch ORDER BY env_id DESC, id DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        COMMIT;
    END LOOP;
END
$$;
-- +goose StatementEnd

DROP INDEX CONCURRENTLY IF EXISTS leads_env_phone_key;
CREATE INDEX CONCURRENTLY leads_env_phone_key ON leads (env_id, phone_key) WHERE phone_key IS NOT NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS leads_env_phone_key;
DROP TRIGGER IF EXISTS leads_phone_key ON leads;
DROP FUNCTION IF EXISTS leads_fill_phone_key();
DROP FUNCTION IF EXISTS lead_phone_key(text);
DROP FUNCTION IF EXISTS lead_phone_without_trunk(text);
ALTER TABLE leads DROP COLUMN IF EXISTS phone_key;
