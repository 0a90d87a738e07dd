"""Slot coverage for E2E restaurant descriptions: which values of a meaning representation a text expresses.

A description generated from a record (``{"name": "The Eagle", "food": "French", ...}``) should mention every
slot value; this module checks each one with hand-written, readable rules, so a reader can tell why a slot
counted as realised or missing. The rules follow how the E2E references realise values (word classes such as
"cheap" for ``less than £20``, star counts for ``1 out of 5``) but fall back to a literal match for any value
they do not know, so the E2E test set's unseen names and values are still checked.

Text normalisation (applied to texts, values and phrases alike)
    accents are stripped ("Café" = "cafe"), case is folded, apostrophes vanish ("The Eagle's" -> "the eagles",
    "isn't" -> "isnt"), "+" reads as "plus", and the text is cut into words, numbers (letters and digits are split:
    "3star" -> "3 star"; "1/5" stays one token) and the punctuation marks ``. , ; : ! ? ( )``. Hyphens and every
    other symbol (£, -, /) separate words. Number words become digits ("one" -> 1, "twenty-five" -> 25).

Literal fallback (any field, any value the field's rules do not know, e.g. food ``Thai`` or field ``wifi``)
    the value's words appear in order, whitespace-insensitively ("Bibimbap House" matches "BibimbapHouse",
    "bibimbap-house"). An empty value is vacuously realised.

name, near
    the literal match, plus: a leading "The" may be missing ("Portland Arms" for "The Portland Arms") and the last
    word may carry an "s" (possessives: "The Eagle's"). ``near`` needs only the name, not a proximity word:
    references say "near", "by", "close to", "next to", "a short walk from", ... and a text that names the landmark
    has expressed the slot; a wrong relation is a fidelity error this coverage check does not judge.

Masking (``slot_coverage`` only)
    before the other fields are checked, the record's name and near values are blanked out of the text, so "Raja
    Indian Cuisine" does not realise food ``Indian`` and "Café Sicilia" does not realise ``coffee shop``.

eatType
    coffee shop: "coffee shop", "coffeeshop", "coffee house", "coffee bar", "cafe", or "coffee" alone (E2E
    references often realise the type as "serves coffee and Chinese food"; it also forgives "coffee chop"). pub:
    "pub", "public house", "gastropub", "bar", "inn", "tavern", "alehouse". restaurant: "restaurant", "eatery",
    "diner", "bistro", "brasserie". Every value also matches its plural. "restaurant" is generic in E2E texts
    (references call coffee shops restaurants too); we still count the word as realising the value: the check is
    whether the text says it, not whether it says it exclusively. It makes ``restaurant`` the least discriminating
    slot.

food
    the cuisine adjective, its country or a signature dish: Chinese/China/Cantonese/Sichuan/Szechuan,
    English/British/England/Britain, French/France, Indian/India/curry, Italian/Italy/pizza/pasta,
    Japanese/Japan/sushi, Fast food: "fast food"/"fast-food"/"fastfood"/"junk food". Others: literal.

Graded words (priceRange and customer rating)
    "high", "low", "average", "moderate" serve both fields ("high prices", "high customer rating"). Such a word
    counts for a field only if the nearest cue word within 4 words (not crossing punctuation or "and", "but",
    "with", "while", "although", "though", "whereas", "yet") is one of that field's cues; a tie counts for both.
    Price cues: price(s), priced, pricing, cost(s), costing, range, spend, pounds. Rating cues: rating(s), rated,
    rate(s), review(s), reviewed, star(s), customer(s), score(d), reputation, feedback, satisfaction, regarded,
    recommended, ranked, quality ("high quality" is how references often give a rating). Words that only make sense
    for one field ("cheap", "expensive") need no cue. A word directly negated ("not", "never", "isnt", ... within
    the two words before) does not count.

priceRange
    classes: low = cheap, inexpensive, affordable, budget, bargain, low (+cue); mid = moderately, mid-range,
    moderate/mid/medium/average/reasonable/fair (+cue); high = expensive, pricey, costly, overpriced, upscale,
    upmarket, luxury, "high end", high/highly/steep (+cue). ``cheap``/``moderate``/``high`` (and the synonyms above
    as values) are realised by their class's words, or by any amount of that kind: "under £15" (low), "£20-25"
    (mid), "over £30" (high); only amounts of two or more digits count here, so a star count is not read as a price.
    ``less than £N`` is realised by low-class words or "less than/under/below/up to/at most/no more than N", "N or
    less/under"; ``more than £N`` by high-class words or "more than/over/above/at least/upwards of/from N", "N
    plus/or more/and up/+"; ``£A-B`` by mid-class words or "A-B", "A to B", "between A and B". The £ sign and the
    word "pounds" are optional. This mirrors E2E, whose references say "cheap" for ``less than £20``.

customer rating
    ``N out of M`` (any N, M) is realised by "N out of M", "N of M", "N out M", "N/M", "N star(s)", "rated N",
    "rating of N", "scored N", "ranked N" (N not followed by a number or "of"); for M = 5 the E2E pairing also
    applies: 1 = low, 3 = average, 5 = high, so "1 out of 5" is realised by "low rating" and ``low`` by "one star".
    low = low, poor(ly), bad(ly), terrible, awful, negative, worst (+cue); average = average(ly), mediocre,
    middling, moderate(ly), medium, okay, decent, fair(ly), mixed, satisfactory, reasonable, good (+cue); high =
    high(ly), great, excellent, good, well, top, best, outstanding, superb, fantastic, positive, rave, stellar,
    amazing, brilliant, perfect (+cue). "good" counts for both average and high: the cleaned E2E references use
    "good rating" for 3 out of 5 more often than for 5 out of 5. Values read as classes: low/poor/bad,
    average/medium/moderate/mediocre, high/excellent/good/great. Other values: literal.

area
    riverside: river, riverside, riverfront, riverbank, waterfront, waterside, "river side". city centre: centre,
    center, city, downtown, central, centrally. Others: literal.

familyFriendly
    a family mention is one of family/families, kid(s)/kiddie(s), child/children/childrens, toddler(s), baby/
    babies. It is negative if a negator (not, no, non, never, without, nor, neither, isnt, arent, doesnt, dont,
    wont, cant, cannot, ... , unfriendly, unsuitable, unwelcome, prohibited, banned) stands within 5 words before or
    4 words after it (not crossing the clause stops above, "with" excepted: "not friendly with kids"; "not only" is
    no negator), or if "free" directly follows it ("child-free"); otherwise it is positive. "adult(s)" with no
    family word within 3 words is negative too ("adults only", "an adult venue"). ``yes`` is realised iff the text
    has a positive mention, ``no`` iff it has a negative mention; so "not kid friendly" does not realise ``yes``,
    and "kid friendly" does not realise ``no``. Values true/false, y/n are read as yes/no; others: literal.

``slot_coverage`` checks every pair of a record; ``share`` is realised/total (1.0 for an empty record).
``corpus_slot_coverage`` is the micro average (total realised over total slots, 1.0 for no slots).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["SlotReport", "slot_realised", "slot_coverage", "corpus_slot_coverage", "corpus_field_coverage"]

# --------------------------------------------------------------------------------------------- normalisation

_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16}
_TEENS |= {"seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80}
_TENS |= {"ninety": 90}
_PUNCT = frozenset(".,;:!?()")
_TOKEN = re.compile(r"\d+/\d+|\d+|[a-z]+|[.,;:!?()]")
_MASK = "maskedname"


def _tokens(text: str) -> list[str]:
    """Text -> normalised tokens (see the module docstring): one normaliser for texts, values and phrases, so a
    rule written in plain words matches however the text spells it."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    plain = re.sub(r"['’‘`´]", "", plain).replace("+", " plus ")
    out: list[str] = []
    after_tens_word = False
    for tok in _TOKEN.findall(plain):
        if tok in _UNITS and after_tens_word:
            out[-1] = str(int(out[-1]) + _UNITS[tok])  # "twenty five" -> 25 (but "£20 five stars" stays apart)
        elif tok in _UNITS or tok in _TEENS or tok in _TENS:
            out.append(str(_UNITS.get(tok) or _TEENS.get(tok) or _TENS[tok]))
        else:
            out.append(tok)
        after_tens_word = tok in _TENS
    return out


def _phrase_regex(value: str, *, optional_the: bool = False, plural: bool = False) -> str | None:
    """A regex over a normalised text (tokens joined by single spaces) for a value's words in order, the spaces
    between them optional. None when the value has no words."""
    words = [t for t in _tokens(value) if t not in _PUNCT]
    if not words:
        return None
    core = " ?".join(re.escape(w) for w in words) + ("s?" if plural else "")
    if optional_the and len(words) > 1 and words[0] == "the":
        core = "(?:the ?)?" + " ?".join(re.escape(w) for w in words[1:]) + ("s?" if plural else "")
    return r"(?<![a-z0-9/])" + core + r"(?![a-z0-9/])"


@lru_cache(maxsize=4096)
def _compiled(value: str, optional_the: bool, plural: bool) -> re.Pattern[str] | None:
    pattern = _phrase_regex(value, optional_the=optional_the, plural=plural)
    return None if pattern is None else re.compile(pattern)


@dataclass(frozen=True)
class _Text:
    """A normalised text: its tokens and the same tokens joined by single spaces (for phrase regexes)."""

    tokens: tuple[str, ...]
    joined: str

    @classmethod
    def parse(cls, text: str, mask: Iterable[str] = ()) -> _Text:
        joined = " ".join(_tokens(text))
        for name in mask:
            pattern = _compiled(name, True, True)
            if pattern is not None:
                joined = pattern.sub(_MASK, joined)
        return cls(tuple(joined.split()), joined)

    def has(self, pattern: str) -> bool:
        """Does the regex ``pattern`` (written against normalised text, words bounded here) occur?"""
        return re.search(r"(?<![a-z0-9/])(?:" + pattern + r")(?![a-z0-9/])", self.joined) is not None

    def has_any(self, phrases: Iterable[str]) -> bool:
        """Does any plain phrase occur (each normalised like the text, spaces between its words optional)?"""
        return any(self.literal(p) for p in phrases)

    def literal(self, value: str, *, optional_the: bool = False, plural: bool = False) -> bool:
        pattern = _compiled(value, optional_the, plural)
        return pattern is None or pattern.search(self.joined) is not None


def _norm_value(value: str) -> str:
    return " ".join(_tokens(value))


# --------------------------------------------------------------------------------------- names and plain words


def _name(value: str, text: _Text) -> bool | None:
    return text.literal(value, optional_the=True, plural=True)


def _word_table(table: Mapping[str, Sequence[str]]) -> Callable[[str, _Text], bool | None]:
    """A matcher for a field whose known values are each realised by any of a few phrases (plurals allowed)."""
    normalised = {_norm_value(k): v for k, v in table.items()}

    def match(value: str, text: _Text) -> bool | None:
        phrases = normalised.get(_norm_value(value))
        if phrases is None:
            return None
        return any(text.literal(p, plural=True) for p in phrases)

    return match


_EAT_TYPE = _word_table(
    {
        "coffee shop": ["coffee shop", "coffeeshop", "coffee house", "coffee bar", "cafe", "coffee"],
        "pub": ["pub", "public house", "gastropub", "bar", "inn", "tavern", "alehouse"],
        "restaurant": ["restaurant", "eatery", "diner", "bistro", "brasserie"],
    }
)
_FOOD = _word_table(
    {
        "Chinese": ["chinese", "china", "cantonese", "sichuan", "szechuan"],
        "English": ["english", "british", "england", "britain"],
        "French": ["french", "france"],
        "Indian": ["indian", "india", "curry", "curries"],
        "Italian": ["italian", "italy", "pizza", "pasta"],
        "Japanese": ["japanese", "japan", "sushi"],
        "Fast food": ["fast food", "fastfood", "junk food"],
    }
)
_AREA = _word_table(
    {
        "riverside": ["river", "riverside", "riverfront", "riverbank", "waterfront", "waterside", "river side"],
        "city centre": ["centre", "center", "city", "downtown", "central", "centrally"],
    }
)

# ----------------------------------------------------------------------------------------------- graded words

_STOPS = frozenset({"and", "but", "with", "while", "although", "though", "whereas", "yet"}) | _PUNCT
_NEGATORS = frozenset(
    {"not", "no", "non", "never", "without", "nor", "neither", "isnt", "arent", "wasnt", "werent", "doesnt"}
    | {"dont", "didnt", "wont", "cant", "cannot", "hasnt", "havent", "shouldnt", "wouldnt", "couldnt", "nt"}
)
_PRICE_CUES = frozenset({"price", "prices", "priced", "pricing", "cost", "costs", "costing", "range", "spend"})
_PRICE_CUES |= {"pounds", "ranged", "ranges"}
_RATING_CUES = frozenset(
    {"rating", "ratings", "rated", "rate", "rates", "review", "reviews", "reviewed", "star", "stars", "customer"}
    | {"customers", "score", "scored", "scores", "reputation", "feedback", "satisfaction", "regarded"}
    | {"recommended", "ranked", "quality"}
)
_CUES = {"price": _PRICE_CUES, "rating": _RATING_CUES}
_WINDOW = 4


@dataclass(frozen=True)
class _Class:
    """One level of a graded field: words that need no cue, and words that need the field's cue nearby."""

    plain: frozenset[str]
    graded: frozenset[str]
    phrases: tuple[str, ...] = ()


def _cls(plain: str = "", graded: str = "", phrases: tuple[str, ...] = ()) -> _Class:
    return _Class(frozenset(plain.split()), frozenset(graded.split()), phrases)


_PRICE_CLASSES = {
    "low": _cls(
        "cheap cheaper cheapest cheaply inexpensive inexpensively affordable affordably budget bargain",
        "low lower lowest",
    ),
    "mid": _cls("moderately midrange", "moderate mid medium average reasonable reasonably fair fairly middle"),
    "high": _cls(
        "expensive pricey pricy costly overpriced upscale upmarket luxury luxurious",
        "high higher highest highly steep",
        ("high end",),
    ),
}
_RATING_CLASSES = {
    "low": _cls("", "low lower lowest lowly poor poorly bad badly terrible awful negative worst"),
    "average": _cls(
        "",
        "average averagely mediocre middling moderate moderately medium okay ok decent fair fairly mixed satisfactory"
        " reasonable good",
    ),
    "high": _cls(
        "",
        "high higher highest highly great excellent good well top best outstanding superb fantastic positive rave"
        " stellar amazing brilliant perfect",
    ),
}


def _nearest_cue(tokens: Sequence[str], i: int) -> set[str]:
    """The domain(s) of the cue word(s) nearest to ``tokens[i]`` within the window, not crossing a clause stop."""
    open_sides = {-1, 1}
    for dist in range(1, _WINDOW + 1):
        found: set[str] = set()
        for side in sorted(open_sides):
            j = i + side * dist
            if not 0 <= j < len(tokens) or tokens[j] in _STOPS:
                open_sides.discard(side)
                continue
            found |= {domain for domain, cues in _CUES.items() if tokens[j] in cues}
        if found:
            return found
    return set()


def _graded(text: _Text, cls: _Class, domain: str) -> bool:
    """Is the class expressed: a plain word or phrase anywhere, or a graded word whose nearest cue is ``domain``'s."""
    if cls.phrases and text.has_any(cls.phrases):
        return True
    toks = text.tokens
    for i, tok in enumerate(toks):
        if tok not in cls.plain and tok not in cls.graded:
            continue
        if any(t in _NEGATORS for t in toks[max(0, i - 2) : i]):
            continue
        if tok in cls.plain or domain in _nearest_cue(toks, i):
            return True
    return False


# ------------------------------------------------------------------------------------------------ priceRange

_NUM = r"(\d+)"
_LT = r"less than|under|below|lower than|cheaper than|no more than|not more than|up to|at most|beneath|within|max"
_LT += r"|maximum|maximum of|no higher than|not over|sub"
_GT = r"more than|over|above|greater than|higher than|at least|upwards of|upward of|in excess of|excess of"
_GT += r"|exceeding|beyond|minimum|minimum of|min"
_GT_FROM = r"from|starting at|starting from|starts at|starting|start at|begin at|beginning at"
_RANGE_JOIN = r"(?:to |and |through |till |until |or )?"


def _lt_forms(n: str) -> str:
    return rf"(?:{_LT}) {n}|{n} (?:or|and) (?:less|under|below|lower|cheaper)|{n} max"


def _gt_forms(n: str) -> str:
    return (
        rf"(?:{_GT}) {n}|(?:{_GT_FROM}) {n}(?! (?:to|and|through|till|until|or|\d+)(?![a-z0-9]))"
        rf"|{n} (?:plus|or more|and up|and upwards|and upward|upwards|and above|or above|and over|or over"
        rf"|or higher|and higher)"
    )


def _range_forms(a: str, b: str) -> str:
    return rf"(?:between )?{a} {_RANGE_JOIN}{b}"


_PRICE_WORD_VALUES = {
    "low": "cheap low inexpensive affordable budget",
    "mid": "moderate medium average mid midrange reasonable",
    "high": "high expensive pricey costly",
}
_PRICE_WORD_CLASS = {w: c for c, words in _PRICE_WORD_VALUES.items() for w in words.split()}
_PRICE_WORD_CLASS.update({"mid range": "mid"})


def _any_range(text: _Text) -> bool:
    """Some amount range "A-B" (A < B, two or more digits each): mid-class evidence for a word value."""
    for m in re.finditer(r"(?<![a-z0-9/])(\d{2,}) " + _RANGE_JOIN + r"(\d{2,})(?![a-z0-9/])", text.joined):
        if int(m.group(1)) < int(m.group(2)):
            return True
    return False


def _price(value: str, text: _Text) -> bool | None:
    v = _norm_value(value)
    if v in _PRICE_WORD_CLASS:
        cls = _PRICE_WORD_CLASS[v]
        any_amount = {"low": _lt_forms(r"\d{2,}"), "high": _gt_forms(r"\d{2,}")}
        if _graded(text, _PRICE_CLASSES[cls], "price"):
            return True
        return _any_range(text) if cls == "mid" else text.has(any_amount[cls])
    if m := re.fullmatch(rf"(?:{_LT}) {_NUM}(?: pounds)?", v):
        return _graded(text, _PRICE_CLASSES["low"], "price") or text.has(_lt_forms(m.group(1)))
    if m := re.fullmatch(rf"(?:{_GT}) {_NUM}(?: pounds)?", v):
        return _graded(text, _PRICE_CLASSES["high"], "price") or text.has(_gt_forms(m.group(1)))
    if m := re.fullmatch(rf"{_NUM} {_RANGE_JOIN}{_NUM}(?: pounds)?", v):
        return _graded(text, _PRICE_CLASSES["mid"], "price") or text.has(_range_forms(m.group(1), m.group(2)))
    return None


# ------------------------------------------------------------------------------------------- customer rating

_RATING_WORD_CLASS = {
    "low": "low",
    "poor": "low",
    "bad": "low",
    "average": "average",
    "medium": "average",
    "moderate": "average",
    "mediocre": "average",
    "high": "high",
    "excellent": "high",
    "good": "high",
    "great": "high",
}
_E2E_STARS = {1: "low", 3: "average", 5: "high"}
_RATED = r"rated|rated at|rated as|rating of|rating is|rating|ratings of|score of|scored|scores|ranked|rates"


def _stars_forms(n: str, m: str) -> str:
    """Ways of writing "n out of m" ("our of" is a frequent E2E typo)."""
    return (
        rf"{n} (?:out |our )?of (?:a possible |a maximum of |the )?{m}|{n} out {m}|{n}/{m}|{n} stars?"
        rf"|(?:{_RATED}) (?:a |an |only |just |of |about )?{n}(?! ?(?:\d|/)| (?:out |our )?of )"
    )


def _rating(value: str, text: _Text) -> bool | None:
    v = _norm_value(value)
    if v in _RATING_WORD_CLASS:
        cls = _RATING_WORD_CLASS[v]
        stars = [str(n) for n, c in _E2E_STARS.items() if c == cls]
        return _graded(text, _RATING_CLASSES[cls], "rating") or any(text.has(_stars_forms(n, "5")) for n in stars)
    m = re.fullmatch(r"(\d+)(?: (?:out )?of |/)(\d+)(?: stars?)?", v) or re.fullmatch(r"(\d+)() stars?", v)
    if m is None:
        return None
    n, top = m.group(1), m.group(2) or "5"
    if top == "5" and int(n) in _E2E_STARS and _graded(text, _RATING_CLASSES[_E2E_STARS[int(n)]], "rating"):
        return True
    return text.has(_stars_forms(n, top))


# -------------------------------------------------------------------------------------------- familyFriendly

_FAMILY = frozenset(
    {"family", "families", "kid", "kids", "kiddie", "kiddies", "kiddy", "child", "children", "childrens", "childs"}
    | {"toddler", "toddlers", "baby", "babies"}
)
_ADULT = frozenset({"adult", "adults", "grownup", "grownups"})
_FAMILY_NEGATORS = _NEGATORS | {"unfriendly", "unsuitable", "unwelcome", "prohibited", "banned", "forbidden"}
_FAMILY_STOPS = _STOPS - {"with"}  # "not friendly with kids"
_BEFORE, _AFTER, _ADULT_WINDOW = 5, 4, 3


def _is_negator(tokens: Sequence[str], j: int) -> bool:
    """``tokens[j]`` negates, except "not only" ("not only is it kid friendly, ..." affirms)."""
    return tokens[j] in _FAMILY_NEGATORS and not (tokens[j] == "not" and tokens[j + 1 : j + 2] == ("only",))


def _negated_mention(tokens: Sequence[str], i: int) -> bool:
    """Is the family word ``tokens[i]`` negated: a negator within the window on either side (cut at clause
    stops), or "free" right after it ("child-free")?"""
    if tokens[i + 1 : i + 2] == ("free",):
        return True
    for side, reach in ((-1, _BEFORE), (1, _AFTER)):
        for j in range(i + side, i + side * (reach + 1), side):
            if not 0 <= j < len(tokens) or tokens[j] in _FAMILY_STOPS:
                break
            if _is_negator(tokens, j):
                return True
    return False


def _family_mentions(text: _Text) -> tuple[bool, bool]:
    """(has a positive family mention, has a negative one)."""
    toks, positive, negative = text.tokens, False, False
    for i, tok in enumerate(toks):
        if tok in _FAMILY:
            negated = _negated_mention(toks, i)
            negative, positive = negative or negated, positive or not negated
        elif tok in _ADULT:
            near = toks[max(0, i - _ADULT_WINDOW) : i + _ADULT_WINDOW + 1]
            negative = negative or not any(t in _FAMILY for t in near)
    return positive, negative


def _family(value: str, text: _Text) -> bool | None:
    v = _norm_value(value)
    if v in ("yes", "true", "y"):
        return _family_mentions(text)[0]
    if v in ("no", "false", "n"):
        return _family_mentions(text)[1]
    return None


# --------------------------------------------------------------------------------------------------- the API

_MATCHERS: dict[str, Callable[[str, _Text], bool | None]] = {
    "name": _name,
    "near": _name,
    "eatType": _EAT_TYPE,
    "food": _FOOD,
    "priceRange": _price,
    "customer rating": _rating,
    "area": _AREA,
    "familyFriendly": _family,
}
_NAME_FIELDS = ("name", "near")


def _realised(field: str, value: str, text: _Text) -> bool:
    if not _tokens(value):
        return True
    matcher = _MATCHERS.get(field)
    verdict = matcher(value, text) if matcher is not None else None
    return text.literal(value) if verdict is None else verdict


def slot_realised(field: str, value: str, text: str, *, mask: Iterable[str] = ()) -> bool:
    """Is ``field: value`` expressed in ``text`` (rules in the module docstring)?

    ``mask``: proper names blanked out of the text first, so that words inside them ("Indian" in
    "Raja Indian Cuisine") do not count; ``slot_coverage`` passes the record's name and near values.
    """
    return _realised(field, value, _Text.parse(text, mask))


@dataclass(frozen=True)
class SlotReport:
    """Which of a record's fields a text realises and which it misses, in the record's order."""

    realised: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def share(self) -> float:
        """Realised / total; 1.0 for an empty record (nothing to express, nothing missed)."""
        total = len(self.realised) + len(self.missing)
        return 1.0 if total == 0 else len(self.realised) / total


def slot_coverage(record: Mapping[str, str], text: str) -> SlotReport:
    """Check every slot of ``record`` against ``text``; name and near are matched on the raw text, the other
    fields on the text with those names masked (so a landmark's words cannot stand in for a value)."""
    raw = _Text.parse(text)
    names = [record[f] for f in _NAME_FIELDS if record.get(f)]
    masked = _Text.parse(text, names) if names else raw
    realised, missing = [], []
    for field, value in record.items():
        ok = _realised(field, value, raw if field in _NAME_FIELDS else masked)
        (realised if ok else missing).append(field)
    return SlotReport(tuple(realised), tuple(missing))


def _pairs(records: Iterable[Mapping[str, str]], texts: Iterable[str]) -> list[SlotReport]:
    records, texts = list(records), list(texts)
    if len(records) != len(texts):
        raise ValueError(f"{len(records)} records but {len(texts)} texts")
    return [slot_coverage(r, t) for r, t in zip(records, texts)]


def corpus_slot_coverage(records: Iterable[Mapping[str, str]], texts: Iterable[str]) -> float:
    """Micro average over a corpus: total realised slots / total slots (1.0 when there are no slots), so a record
    with eight slots weighs four times one with two. Records and texts pair up in order; lengths must match."""
    reports = _pairs(records, texts)
    realised = sum(len(r.realised) for r in reports)
    total = realised + sum(len(r.missing) for r in reports)
    return 1.0 if total == 0 else realised / total


def corpus_field_coverage(records: Iterable[Mapping[str, str]], texts: Iterable[str]) -> dict[str, float]:
    """Per-field share of realised slots over a corpus: where a generator (or the matcher) loses values."""
    counts: dict[str, list[int]] = {}
    for report in _pairs(records, texts):
        for field in report.realised:
            counts.setdefault(field, [0, 0])[0] += 1
        for field in report.missing:
            counts.setdefault(field, [0, 0])[1] += 1
    return {f: hit / (hit + miss) for f, (hit, miss) in counts.items()}
