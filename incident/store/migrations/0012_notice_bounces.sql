-- notify bounces (issue 20, item 4): delivery status notifications (RFC
-- 3464) read from an mbox or a directory of .eml files, each failed or
-- delayed recipient matched to the notice it is about by the original
-- Message-ID only (an unmatched one is reported, never recorded or guessed).
-- The ledger (breachctl.notices) is not changed: a bounce is a fact about a
-- notice, recorded beside it. run, user_id and kind are the notice's (the
-- earliest run whose ledger holds the Message-ID). No address is stored:
-- the diagnostic has its e-mail addresses replaced and its control
-- characters removed. source is the file as named on the command line,
-- position the message's number in it (1-based; 1 for an .eml file) and
-- recipient the per-recipient group's number in the DSN; reading the same
-- file again records nothing new.
CREATE TABLE breachctl.notice_bounces (
    case_id        text NOT NULL,
    run            integer NOT NULL,
    user_id        text NOT NULL,
    kind           text NOT NULL,
    message_id     text NOT NULL,
    status         text NOT NULL,
    action         text NOT NULL CHECK (action IN ('failed', 'delayed')),
    diagnostic     text NOT NULL DEFAULT '',
    permanent      boolean NOT NULL,
    source         text NOT NULL,
    position       integer NOT NULL,
    recipient      integer NOT NULL,
    source_sha256  text NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (case_id, message_id, status, source_sha256, position, recipient),
    FOREIGN KEY (case_id, run) REFERENCES breachctl.runs(case_id, run) ON DELETE CASCADE
);
CREATE INDEX notice_bounces_message ON breachctl.notice_bounces (case_id, message_id);
