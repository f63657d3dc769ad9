"""The master server (its own Flask app and database: nodes, routed numbers, desired config,
health). The node-side sync client is the ``node_sync`` package beside it.

Only configuration and health travel between them, never conversation data.
"""
