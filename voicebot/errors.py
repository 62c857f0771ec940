"""The one error hierarchy of voicebot.

Every error the package raises on purpose is a ``VoicebotError``. Errors from third-party
engines (Vosk, CTranslate2, pocketsphinx, espeak-ng, SQLAlchemy) are translated into these at
the boundary, so callers handle one tree. ``str(error)`` is a one-line sentence a person can act
on: it names the thing that failed and, where there is one, the fix.
"""


class VoicebotError(Exception):
    """Base class of every deliberate voicebot error."""


class ConfigError(VoicebotError):
    """A setting is missing or invalid."""


class AudioError(VoicebotError):
    """Audio could not be read, decoded or converted (bad file, unsupported format)."""


class ModelNotFoundError(VoicebotError):
    """A model is not installed; the message says how to get it."""


class ASRError(VoicebotError):
    """A speech recogniser failed."""


class RecogniserSaturatedError(ASRError):
    """Every recogniser worker is busy and the queue is full (or waited too long): the decode
    was refused at once. The caller should hear a short holding phrase, not silence."""


class RecognitionTimeoutError(ASRError):
    """A decode ran past its deadline; the worker running it was killed and is being replaced."""


class TTSError(VoicebotError):
    """Speech synthesis failed."""


class NLUError(VoicebotError):
    """Understanding (intent, entities, emotion) failed or was given bad training data."""


class FlowError(VoicebotError):
    """A call flow is invalid; ``problems`` lists every problem found, with file and line."""

    def __init__(self, message: str, problems: "list | None" = None):
        super().__init__(message)
        self.problems = list(problems or [])


class TelephonyError(VoicebotError):
    """A telephony protocol error (bad webhook, bad Media Streams message, REST failure)."""


class ReplayedRequestError(TelephonyError):
    """A correctly signed request that was already handled, or is too old to be a real one."""


class LookupFailedError(VoicebotError):
    """A flow data source failed or timed out at run time."""


class StorageError(VoicebotError):
    """The database could not be reached or rejected an operation."""


class EncryptionKeyError(ConfigError):
    """The encryption key is missing, malformed, or does not open data already stored."""


class DecryptionError(StorageError):
    """A stored value could not be decrypted: corrupted, or sealed with a key that is not configured.

    ``row`` names the value (e.g. ``"turns.text id=42"``) when the caller knows it."""

    def __init__(self, message: str, row: str = ""):
        super().__init__(message)
        self.row = row


class LoginThrottledError(VoicebotError):
    """Too many login attempts or failures; ``retry_after_s`` says when trying again makes sense."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AdminError(VoicebotError):
    """A console request that cannot be carried out: an unknown user or role, a name taken, a
    retrain without data; the message says which."""
class CustomerDataError(VoicebotError):
    """Customer records that cannot be imported (bad CSV, bad CRM answer); names the row."""


class CrmUnavailableError(LookupFailedError):
    """The CRM endpoint is down, slow or answered nonsense: the call goes on without a profile."""
