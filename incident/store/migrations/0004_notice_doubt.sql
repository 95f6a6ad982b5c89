-- Delivery ledger additions.
-- uncertain_count: how often a notice was found in doubt (the sender stopped,
-- or the connection broke, after the message was handed to the server and
-- before the server's answer was recorded). A notice sent after being in
-- doubt may have reached its recipient twice, with the same Message-ID.
ALTER TABLE breachctl.notices ADD COLUMN uncertain_count integer NOT NULL DEFAULT 0;

-- The sender walks the notices still to send in user-id order.
CREATE INDEX notices_due ON breachctl.notices (case_id, run, user_id)
    WHERE state IN ('pending', 'uncertain');
