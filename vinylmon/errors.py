"""The one error hierarchy of vinylmon.

Every error a user can cause (a bad file, a missing device, a damaged weights file)
is a :class:`VinylmonError` with a message that names the file or device and says
what is wrong. The command line and the GUI catch :class:`VinylmonError` and show
its message; anything else is a bug and is logged with its traceback.
"""

from __future__ import annotations


class VinylmonError(Exception):
    """Root of every error vinylmon raises on purpose."""


class AudioFileError(VinylmonError):
    """A recording cannot be used: missing, unreadable, corrupt or empty.

    Attributes
    ----------
    path : str
        The file the error is about.
    """

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class AudioDataError(VinylmonError):
    """Audio that was read but cannot be analysed: NaN/inf samples, an absurd
    sample rate, a wrong shape or dtype."""


class DeviceError(VinylmonError):
    """An audio device cannot be found, opened or used."""


class DeviceLostError(DeviceError):
    """A device that was capturing went away (unplugged, server gone, stalled)."""


class WeightsError(VinylmonError):
    """A weights bundle is missing, damaged, tampered with or incompatible."""


class ReportError(VinylmonError):
    """A report does not follow vinylmon.report/1."""


class Cancelled(VinylmonError):
    """The user stopped a long operation (a fine-tuning, a recording) before it ended."""
