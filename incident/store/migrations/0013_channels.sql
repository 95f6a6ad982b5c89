-- Channels (issue 20): a person's notice goes out on one or more channels
-- chosen by the case file's notify.channels policy, one ledger row per
-- person, run and channel (the primary key always had the channel), each
-- with the e-mail ledger's exactly-once states.
--
-- bounced: an e-mail the server accepted that a delivery status
-- notification (notify bounces) later reported permanently undeliverable.
-- returned: a letter handed over that the post returned (notify
-- mark-returned). Neither reached the person: the policy's next channel
-- becomes due for them.
ALTER TABLE breachctl.notices DROP CONSTRAINT notices_state_check;
ALTER TABLE breachctl.notices ADD CONSTRAINT notices_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'bounced', 'returned'));
ALTER TABLE breachctl.notices ADD CONSTRAINT notices_channel_check
    CHECK (channel IN ('email', 'letter', 'webhook'));

-- letter_batch: the batch a letter was written into (notify letters).
ALTER TABLE breachctl.notices ADD COLUMN letter_batch integer;

-- The senders walk a channel's due notices in user-id order.
DROP INDEX breachctl.notices_due;
CREATE INDEX notices_due ON breachctl.notices (case_id, run, channel, user_id)
    WHERE state IN ('pending', 'uncertain');

-- A batch of letters for a mailing house: its PDFs, one PDF of them all
-- and a CSV, written into out_dir/<name>.partial and renamed to
-- out_dir/<name> once the ledger records its letters handed over (state
-- handed_over, in the same transaction). A batch left `writing` by a
-- process that died was never complete: its letters go back to pending
-- (abandoned). No address is stored here.
CREATE TABLE breachctl.letter_batches (
    case_id        text NOT NULL,
    batch          integer NOT NULL,
    run            integer NOT NULL,
    state          text NOT NULL DEFAULT 'writing' CHECK (state IN ('writing', 'handed_over', 'abandoned')),
    out_dir        text NOT NULL,
    name           text NOT NULL,
    letters        integer NOT NULL DEFAULT 0,
    pages          integer NOT NULL DEFAULT 0,
    batch_sha256   text,
    csv_sha256     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    handed_over_at timestamptz,
    PRIMARY KEY (case_id, batch),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);
