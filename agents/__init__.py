"""Agent templates, the runtime that runs one agent turn by turn over a Conversation, and tools.

Knows nothing about ESL; uses only the engine interfaces of `media` and the rows of `models`."""
