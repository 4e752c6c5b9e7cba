"""orgforge's own targets, text engines and LLM providers, registered like any plugin's."""
