-- A command whose station dropped its connection while the call was outstanding ends as
-- 'disconnected': it is neither a CALLERROR (nobody sent one) nor a timeout (the wait did not
-- run out), and whether the station carried it out is unknown.
ALTER TABLE commands DROP CONSTRAINT commands_status_check;
ALTER TABLE commands ADD CONSTRAINT commands_status_check
    CHECK (status IN ('pending', 'sent', 'answered', 'error', 'timeout', 'offline', 'expired',
                      'disconnected'));
