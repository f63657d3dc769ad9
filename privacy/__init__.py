"""Data protection over the node's database and recordings: the retention purge and erasing
one caller (``deletion``, one journaled deletion path for both), and the Art. 15 export of one
caller (``export``).

Layer: domain logic beside ``agents``; it imports ``models`` (and ``config``) only, so the admin's
Datenschutz page, the ``voicegate privacy`` commands and the node's hourly job
(``voicegate.privacy_job``) all use it without reaching up. The tables it works on (audit log,
pending file deletions, caller matching) are in ``models.privacy``."""
