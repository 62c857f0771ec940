"""Word-shaped PII: email addresses, dates of birth, street addresses, UK National Insurance
numbers and IBANs, found on a ``View`` (spoken numbers already written as digits).

- EMAIL: written ("john.smith@example.com"), spoken ("john dot smith at example dot com",
  "j o h n underscore s at gmail dot com") and half-way as recognisers write it
  ("john.smith at example.com"). Spoken "at" needs a domain ending in a common TLD.
- DATE_OF_BIRTH: a date (month names, ordinals, numeric, or a year right after "born in") whose
  nearest keyword before it is a birth keyword ("born", "birth", "birthday", "DOB"). Dates after
  other words ("appointment", "delivered") are not birth dates and stay.
- ADDRESS: a house number, up to four street-name words and a street suffix ("Street", "Ave",
  ...), with an optional unit, city, state and ZIP; "P.O. Box N"; a ZIP after "zip code".
- NATIONAL_ID: UK National Insurance numbers (AB 12 34 56 C; any two letters, so HMRC's sample
  prefix QQ counts too).
- BANK_ACCOUNT: IBANs that pass their checksum.
"""
from __future__ import annotations

import re

from stdnum import iban

from voicebot.privacy.numbers import Found, nearest_keyword
from voicebot.privacy.spoken import View

TLDS = (r"com|net|org|edu|gov|mil|int|io|co|us|uk|ca|au|nz|ie|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|pt|"
        r"in|jp|cn|br|mx|za|info|biz|me|ai|app|dev|email|online|xyz|tech|name|mobi|tv")
_LOCAL_JOIN = r"(?:\s*[._+-]\s*|\s+(?:dot|period|point|underscore|under score|dash|hyphen|minus|plus)\s+|\s(?=\d))"
_DOMAIN_JOIN = r"(?:\s*\.\s*|\s+(?:dot|period|point)\s+)"
_NOT_AFTER = r"(?<![a-z0-9'’])"
# one reading per string (spelled letters "j o h n", an initial "j smith", a word or number),
# repetitions bounded: the pattern stays linear on long inputs (tests/test_fuzz_redaction.py)
_PART = rf"(?:{_NOT_AFTER}[a-z](?:\s[a-z]\b){{1,30}}|{_NOT_AFTER}(?![ai]\s)[a-z]\s[a-z0-9]{{2,}}|{_NOT_AFTER}[a-z0-9]+)"
_EMAIL_WRITTEN = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}", re.I)
_EMAIL_SPOKEN = re.compile(
    rf"{_PART}(?:{_LOCAL_JOIN}{_PART}){{0,8}}(?:\s*@\s*|\s+at\s+)[a-z0-9-]+(?:{_DOMAIN_JOIN}[a-z0-9-]+){{0,6}}"
    rf"{_DOMAIN_JOIN}(?:{TLDS})\b", re.I)

_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december|"
          r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?")
_DAY = r"(?:[0-3]?\d(?:st|nd|rd|th)?)"
_YEAR = r"(?:(?:19|20)\d\d|'?\d\d)"
_DATE = re.compile("|".join([
    rf"\b{_MONTH}\s+(?:the\s+)?{_DAY}(?:\s*,\s*|\s+)(?:of\s+)?{_YEAR}\b",
    rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH}(?:\s*,\s*|\s+)(?:of\s+)?{_YEAR}\b",
    r"\b(?:19|20)\d\d\s?[-/.]\s?[01]?\d\s?[-/.]\s?[0-3]?\d\b",
    r"\b[0-3]?\d\s?[-/.,]\s?[0-3]?\d\s?[-/.,]\s?(?:(?:19|20)\d\d|\d\d)\b",
    r"(?<![\d-])\d(?:[ /.,-]{0,2}\d){3,7}(?![\d-])",  # "03 05 85", "0 3 0 5 1 9 8 5", "030585"
    rf"\b{_MONTH}\s+(?:of\s+)?(?:19|20)\d\d\b",
    rf"\b{_MONTH}\s+(?:the\s+)?{_DAY}\b(?!:)",
    rf"\b(?:the\s+)?{_DAY}\s+of\s+{_MONTH}",
    r"(?<=born in )(?:19|20)\d\d\b",
]), re.I)

_SUFFIX = (r"street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|ter|"
           r"circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|crescent|close|row|loop|alley|plaza|"
           r"pike|route|rte|run|path|walk|crossing|xing")
_STOP = (r"(?!(?:the|a|an|my|your|our|on|in|at|of|to|for|and|or|is|are|was|be|it|this|that|by|with|"
         r"from|items?|boxes|orders?|times|pieces|people|dollars|minutes|hours|days|weeks|years)\b)")
_STATE = (r"(?:al|ak|az|ar|ca|co|ct|de|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|nh|nj|nm|ny|"
          r"nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy|dc|alabama|alaska|arizona|arkansas|"
          r"california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|illinois|indiana|iowa|"
          r"kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|minnesota|mississippi|missouri|"
          r"montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|north carolina|north dakota|"
          r"ohio|oklahoma|oregon|pennsylvania|rhode island|south carolina|south dakota|tennessee|texas|utah|"
          r"vermont|virginia|washington|west virginia|wisconsin|wyoming)")
_ADDRESS = re.compile(
    rf"\b\d{{1,6}}(?:[- ]\d{{1,5}})?[a-z]?\s+(?:{_STOP}[a-z0-9][\w'.-]*\s+){{1,4}}(?:{_SUFFIX})\b\.?(?:\s+(?:n|s|e|w|ne|nw|se|sw)\b\.?)?"
    rf"(?:,?\s+(?:apartment|apt|suite|ste|unit|number|no|floor|fl|room|rm|#)\.?\s*#?\s*[a-z0-9-]{{1,6}}\b(?:\s[a-z]\b)?)?"
    rf"(?:,?\s+(?:{_STOP}[a-z][a-z.'-]*\s+){{0,2}}?{_STOP}[a-z][a-z.'-]*,?\s+{_STATE}\b)?"
    rf"(?:,?\s+\d{{5}}(?:[- ]\d{{4}})?\b)?"
    r"|\bp\.?\s?o\.?\s+box\s+\d{1,6}\b"
    r"|(?<=zip code )(?:is\s+)?\d{5}(?:-\d{4})?\b|(?<=zip )(?:is\s+)?\d{5}(?:-\d{4})?\b", re.I)

_NINO = re.compile(r"\b[a-z]\s?[a-z](?:\s?\d){6}\s?[a-d]\b", re.I)  # HMRC's sample QQ 12 34 56 C included
_IBAN = re.compile(r"\b[a-z]{2}\s?\d{2}(?:\s?[a-z0-9]){11,30}\b", re.I)


def find_text_entities(view: View) -> list[Found]:
    """Every email, date of birth, address, NI number and IBAN in ``view``."""
    text = view.text
    found = [Found("EMAIL", m.start(), m.end()) for m in _EMAIL_WRITTEN.finditer(text)]
    found += [Found("EMAIL", m.start(), m.end()) for m in _EMAIL_SPOKEN.finditer(text)]
    found += [Found("DATE_OF_BIRTH", m.start(), m.end()) for m in _DATE.finditer(text)
              if nearest_keyword(text, m.start(), m.end()) == "dob"]
    found += [Found("ADDRESS", m.start(), m.end()) for m in _ADDRESS.finditer(text)]
    found += [Found("NATIONAL_ID", m.start(), m.end()) for m in _NINO.finditer(text)]
    found += [Found("BANK_ACCOUNT", m.start(), m.end()) for m in _IBAN.finditer(text)
              if iban.is_valid(re.sub(r"\s", "", m.group()).upper())]
    return found
