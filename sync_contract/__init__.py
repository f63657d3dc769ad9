"""What the master and its nodes agree on, and the only code both sides import: the desired
configuration a node receives (``config_schema``), the health report it sends
(``health_schema``) and the key/CSR/certificate primitives of their mutual TLS (``pki``).

Layer: just above ``config``; it imports no other project package, so the server (``master``)
and the node's client (``node_sync``) can both build on it without knowing each other."""
