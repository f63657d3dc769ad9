"""Text-to-speech backends: espeak-ng (``espeak``), Piper (``piper``), Coqui TTS (``coqui``).

Each speaks one sentence and returns audio at the voice's native rate; the call path resamples to
the channel rate. Text is normalised for speech first (numbers, times, currency: ``textnorm``).
"""
