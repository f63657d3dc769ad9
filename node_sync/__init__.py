"""The node's side of the master link: enrolment, the periodic sync (health up, desired
configuration down) and what it keeps on disk. The master server itself is ``master``; both
speak the wire contract in ``master.config_schema`` / ``master.health_schema``."""
