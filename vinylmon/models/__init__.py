"""Models: torch and torchaudio live here (never Qt, never sounddevice)."""
