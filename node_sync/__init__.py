"""The node's side of the master link: enrolment, the periodic sync (health up, desired
configuration down), what it keeps on disk in ``<data>/master/``, the master's managed settings
applied at node start (``apply.managed_settings``) and the ``voicegate master enroll|sync|status``
commands (``cli``).

Layer: beside ``master`` (the server), never importing it: both speak ``sync_contract``. It reads
and writes the node's database through ``models``; ``voicegate`` (the composition root) schedules
it and hands its status to the admin."""
