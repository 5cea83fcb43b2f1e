"""vinylmon: a real-time monitor and grader for vinyl records."""

from vinylmon.errors import VinylmonError

__all__ = ["VinylmonError", "__version__"]
__version__ = "0.1.0"
