"""Audio, turn-taking and the speech/language engines. Knows nothing about calls."""
