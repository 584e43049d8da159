-- A second, fast verifier of a station's password beside its scrypt hash:
-- HMAC-SHA256(password key, identity, password, scrypt hash), where the key is a server secret
-- kept outside the database (csms.security.password_key, docs/security.md). Worth nothing
-- without that key. Written once scrypt has accepted the password, so that the logins of a
-- whole fleet after a restart cost an HMAC each instead of a scrypt.
ALTER TABLE stations ADD COLUMN IF NOT EXISTS password_verifier text;

-- A new password hash makes the old verifier useless (it is bound to the hash); drop it at
-- once, so that no verifier of a retired password stays in the table whatever changed the hash.
CREATE OR REPLACE FUNCTION csms_password_verifier_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.password_hash IS DISTINCT FROM OLD.password_hash
       AND NEW.password_verifier IS NOT DISTINCT FROM OLD.password_verifier THEN
        NEW.password_verifier := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER stations_password_verifier_reset
    BEFORE UPDATE OF password_hash ON stations
    FOR EACH ROW EXECUTE FUNCTION csms_password_verifier_reset();
