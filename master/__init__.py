"""The master server (its own Flask app and database: nodes, routed numbers, desired config,
health) and the node-side sync client (``master.node_client``).

Only configuration and health travel between them, never conversation data.
"""
