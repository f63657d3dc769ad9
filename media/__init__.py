"""Audio, VAD and endpointing, and the speech/language engines. Knows nothing about calls;
imports only ``config`` of ours (turn-taking defaults)."""
