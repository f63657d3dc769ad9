"""The master server, and only the server: its own Flask app and database (nodes, routed numbers,
desired config, health, operators), its CA, the node API and the operator's UI/API.

Layer: beside ``node_sync``, ``admin`` and ``esl_controller``, importing none of them; it builds on
``sync_contract`` (the wire contract and key/CSR primitives it shares with the nodes) and never
touches a node's database. Only configuration and health travel between master and node, never
conversation data.
"""
