"""Language identification for articles and paragraphs without a declared language.

Contract of :func:`detect_language`: an ISO 639-1 lower-case code from :data:`LANGUAGES`, or
``None`` when the text is too short (fewer than :data:`MIN_LETTERS` letters) or no language is
clearly ahead (top confidence below :data:`MIN_CONFIDENCE`). Deterministic; thread-safe.

Speed decisions (lingua-language-detector):
- A fixed set of languages, not all 75: fewer models to load and score, and fewer confusions.
- Low-accuracy mode (trigram models only): ~10x less memory and several times faster; for
  article-length text its accuracy matches high-accuracy mode. Its weakness, short text, is
  covered by the letter minimum and the confidence threshold, which turn guesses into ``None``.
- Only the first :data:`MAX_CHARS` characters are looked at: language does not change
  mid-article, and detection cost grows with length.
- Models are not preloaded: the detector is built lazily on first use (double-checked lock) and
  lingua loads each model once, on demand; processes that never detect pay nothing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from indexer.languages import DETECTED_LANGUAGES

if TYPE_CHECKING:
    from lingua import LanguageDetector

#: Languages the detector chooses from (ISO 639-1): those of :data:`indexer.languages.TABLE`
#: marked ``detected``.
LANGUAGES = DETECTED_LANGUAGES
#: Fewer letters than this: too short to tell, ``None``.
MIN_LETTERS = 12
#: Characters of the text examined.
MAX_CHARS = 1000
#: Minimum confidence (0..1) of the best language; below it the answer is ``None``.
MIN_CONFIDENCE = 0.5

_detector: LanguageDetector | None = None
_lock = threading.Lock()


def _get_detector() -> LanguageDetector:
    global _detector
    if _detector is None:
        with _lock:
            if _detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                languages = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
                    for code in LANGUAGES
                ]
                _detector = (
                    LanguageDetectorBuilder.from_languages(*languages)
                    .with_low_accuracy_mode()
                    .build()
                )
    return _detector


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language ``text`` is written in, or ``None`` when unclear."""
    sample = text[:MAX_CHARS]
    if sum(1 for char in sample if char.isalpha()) < MIN_LETTERS:
        return None
    values = _get_detector().compute_language_confidence_values(sample)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    return str(values[0].language.iso_code_639_1.name.lower())
