"""Language-model backends: Ollama (``ollama``), plus the context-window budget they share."""
