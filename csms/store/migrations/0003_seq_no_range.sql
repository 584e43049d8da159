-- TransactionEvents can never be rejected (E01): accept any integer seqNo the 2.0.1 schema
-- allows (it sets no minimum), and seqNos past 2^31 from long-lived stations.
ALTER TABLE transaction_events DROP CONSTRAINT IF EXISTS transaction_events_seq_no_check;
ALTER TABLE transaction_events ALTER COLUMN seq_no TYPE bigint;
ALTER TABLE transactions ALTER COLUMN last_seq_no TYPE bigint;
