-- Password rotation (A01, TC_A_09/TC_A_10): while a new Basic auth password is on its way to a
-- station, its hash waits here. The station may log in with either password until it accepts
-- the new one (then the new hash replaces the old) or refuses it (then this is cleared).
ALTER TABLE stations ADD COLUMN IF NOT EXISTS pending_password_hash text;
