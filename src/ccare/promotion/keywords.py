"""搜索宝 search-ad keywords: normalisation, Chinese segmentation, exact / phrase / broad
match through an inverted token index, quality score and brand direct-zone reservations.

Pure Python (no DB, no HTTP). Segmentation uses `rjieba` (jieba-rs binding).

Text pipeline (the same for keywords and queries):

1. `normalise`: NFKC (full-width → half-width, ｉＰｈｏｎｅ → iPhone), lower case, every
   punctuation / symbol character → a space, whitespace collapsed and stripped.
2. `tokenize`: each whitespace-separated chunk is segmented with rjieba (HMM on); a
   letters+digits token is split at letter/digit boundaries ("iphone15" → iphone, 15) and a
   CJK compound of 3+ characters is split once more into dictionary words when both
   halves are dictionary words of 2+ characters (重庆火锅 → 重庆, 火锅) or the last
   character is a shop suffix (火锅店 → 火锅, 店). Keyword and query go through the same
   function, so the extra splitting never loses a match, it only lets 火锅 reach 重庆火锅.
3. `compact`: the normalised text without spaces ("iphone 15" → "iphone15").

Match types (a keyword matches a query under its own declared type):

- exact: compact(query) == compact(keyword);
- phrase: exact, or the keyword's tokens appear contiguous and in order in the query tokens;
- broad: phrase, or every required keyword token (synonym-canonical, stop words dropped
  unless nothing else is left) appears somewhere in the query's canonical tokens.

`KeywordIndex.lookup` keeps one match per ad group with precedence exact > phrase > broad
(then the higher bid, then the keyword text) and returns them ordered by precedence, bid
descending, ad group id, keyword.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import rjieba

from ccare.core.errors import Conflict, Forbidden, InvalidInput

MAX_KEYWORD_CHARS = 20
MAX_KEYWORD_TOKENS = 8
MAX_BID_FEN = 100_000  # 1,000 yuan per click is already absurd for a search word

# Single characters that close a shop / venue compound: 火锅店 → 火锅 + 店.
SHOP_SUFFIXES = frozenset("店馆铺厅吧屋坊")

# Dropped from the broad-match requirement (still used by exact and phrase).
STOP_WORDS = frozenset(
    {"的", "了", "和", "与", "在", "是", "有", "个", "吗", "呢", "啊", "我", "附近"}
)

# Default broad-match synonyms: token → canonical token (single segmenter tokens only).
DEFAULT_SYNONYMS: Mapping[str, str] = {
    "外送": "外卖",
    "餐馆": "餐厅",
    "饭馆": "餐厅",
    "自行车": "单车",
}

_ALNUM_SPLIT = re.compile(r"[a-z]+|[0-9]+|[^a-z0-9]+")


class MatchType(StrEnum):
    EXACT = "exact"
    PHRASE = "phrase"
    BROAD = "broad"


# Lower rank wins.
PRECEDENCE: Mapping[MatchType, int] = {MatchType.EXACT: 0, MatchType.PHRASE: 1, MatchType.BROAD: 2}


class KeywordInvalid(InvalidInput):
    code = "promotion.keyword_invalid"


class BidInvalid(InvalidInput):
    code = "promotion.bid_invalid"


class KeywordReserved(Forbidden):
    code = "promotion.keyword_reserved"


class ReservedTermTaken(Conflict):
    code = "promotion.reserved_term_taken"


# ---------------------------------------------------------------------------------------
# Text


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation and symbols to spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    chars = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in text]
    return " ".join("".join(chars).split())


def compact(text: str) -> str:
    """Normalised text without any whitespace — the exact-match key."""
    return normalise(text).replace(" ", "")


def _is_cjk(token: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in token)


def _split_compound(token: str) -> list[str]:
    if len(token) < 3 or not _is_cjk(token):
        return [token]
    for i in range(2, len(token) - 1):
        head, tail = token[:i], token[i:]
        if rjieba.has_word(head) and rjieba.has_word(tail):
            return _split_compound(head) + _split_compound(tail)
    head = token[:-1]
    if token[-1] in SHOP_SUFFIXES and rjieba.has_word(head):
        return _split_compound(head) + [token[-1]]
    return [token]


@lru_cache(maxsize=65_536)
def _tokenize_chunk(chunk: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in rjieba.cut(chunk):
        raw = raw.strip()
        if not raw:
            continue
        for piece in _ALNUM_SPLIT.findall(raw):
            out.extend(_split_compound(piece))
    return tuple(out)


def tokenize(text: str) -> tuple[str, ...]:
    """Tokens of the normalised text (see the module docstring)."""
    tokens: list[str] = []
    for chunk in normalise(text).split():
        tokens.extend(_tokenize_chunk(chunk))
    return tuple(tokens)


def _contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    first = needle[0]
    return any(
        haystack[i] == first and haystack[i : i + n] == needle for i in range(len(haystack) - n + 1)
    )


# ---------------------------------------------------------------------------------------
# Keywords and queries


@dataclass(frozen=True, slots=True)
class AnalysedText:
    text: str
    compact: str
    tokens: tuple[str, ...]
    canonical: frozenset[str]


def analyse(text: str, synonyms: Mapping[str, str] = DEFAULT_SYNONYMS) -> AnalysedText:
    tokens = tokenize(text)
    return AnalysedText(
        text=normalise(text),
        compact=compact(text),
        tokens=tokens,
        canonical=frozenset(synonyms.get(t, t) for t in tokens),
    )


@dataclass(frozen=True, slots=True)
class Keyword:
    """A validated keyword: the advertiser's text plus its analysis."""

    text: str
    normalised: str
    compact: str
    tokens: tuple[str, ...]
    required: frozenset[str]  # broad match: canonical tokens that must all be present


def validate_keyword(text: str, synonyms: Mapping[str, str] = DEFAULT_SYNONYMS) -> Keyword:
    """Normalise and check a keyword; raises KeywordInvalid with `details["reason"]`."""
    normalised = normalise(text)
    if not normalised:
        raise KeywordInvalid("Keyword is empty after normalisation", reason="empty", keyword=text)
    length = len(normalised.replace(" ", ""))
    if length > MAX_KEYWORD_CHARS:
        raise KeywordInvalid(
            f"Keyword is longer than {MAX_KEYWORD_CHARS} characters (spaces not counted)",
            reason="too_long",
            keyword=text,
            length=length,
        )
    tokens = tokenize(normalised)
    if len(tokens) > MAX_KEYWORD_TOKENS:
        raise KeywordInvalid(
            f"Keyword has more than {MAX_KEYWORD_TOKENS} words",
            reason="too_many_tokens",
            keyword=text,
            tokens=len(tokens),
        )
    canonical = [synonyms.get(t, t) for t in tokens]
    required = frozenset(t for t in canonical if t not in STOP_WORDS) or frozenset(canonical)
    return Keyword(
        text=text,
        normalised=normalised,
        compact=normalised.replace(" ", ""),
        tokens=tokens,
        required=required,
    )


def split_word(item: str | Mapping[str, str] | tuple[str, str]) -> tuple[str, MatchType]:
    """A targeting search word as stored: a plain word (broad match), {"word", "match"},
    or a (word, match) pair."""
    if isinstance(item, str):
        return item, MatchType.BROAD
    if isinstance(item, tuple):
        return item[0], parse_match_type(item[1])
    return item["word"], parse_match_type(item.get("match", MatchType.BROAD))


def parse_match_type(value: str | MatchType) -> MatchType:
    try:
        return MatchType(value)
    except ValueError:
        raise KeywordInvalid(
            "Unknown keyword match type", reason="match_type", match_type=str(value)
        ) from None


def validate_bid(bid_fen: int) -> int:
    if isinstance(bid_fen, bool) or not isinstance(bid_fen, int):
        raise BidInvalid("Bid must be an integer amount in fen", bid_fen=repr(bid_fen))
    if bid_fen <= 0 or bid_fen > MAX_BID_FEN:
        raise BidInvalid(f"Bid must be between 1 and {MAX_BID_FEN} fen", bid_fen=bid_fen)
    return bid_fen


def match_kind(keyword: Keyword, query: AnalysedText) -> MatchType | None:
    """The strongest way the query matches the keyword's text, ignoring its declared type."""
    if keyword.compact == query.compact:
        return MatchType.EXACT
    if _contains_run(query.tokens, keyword.tokens):
        return MatchType.PHRASE
    if keyword.required <= query.canonical:
        return MatchType.BROAD
    return None


def keyword_matches(keyword: Keyword, match_type: MatchType, query: AnalysedText) -> bool:
    """Does the query trigger a keyword bought with `match_type`?"""
    kind = match_kind(keyword, query)
    return kind is not None and PRECEDENCE[kind] <= PRECEDENCE[match_type]


# ---------------------------------------------------------------------------------------
# Index


@dataclass(frozen=True, slots=True)
class KeywordEntry:
    ad_group_id: int
    keyword: str
    match_type: MatchType | str
    bid_fen: int


@dataclass(frozen=True, slots=True)
class Match:
    ad_group_id: int
    keyword: str
    match_type: MatchType
    bid_fen: int


@dataclass(frozen=True, slots=True)
class LookupResult:
    matches: list[Match]
    candidates_examined: int


@dataclass(frozen=True, slots=True)
class _Indexed:
    ad_group_id: int
    keyword: Keyword
    match_type: MatchType
    bid_fen: int


def _sort_key(m: Match) -> tuple[int, int, int, str]:
    return (PRECEDENCE[m.match_type], -m.bid_fen, m.ad_group_id, m.keyword)


class KeywordIndex:
    """Inverted index over keyword tokens.

    Every keyword is posted once under its anchor: the required (broad) token with the
    fewest keywords, chosen at build time, plus its compact text in an exact-match table.
    Any exact, phrase or broad match implies the anchor is among the query's canonical
    tokens (or the compact text equals the query's), so a lookup only examines the
    postings of the query's own tokens and never a keyword that shares none of them.
    """

    def __init__(
        self,
        entries: Iterable[KeywordEntry | tuple[int, str, str | MatchType, int]],
        *,
        synonyms: Mapping[str, str] = DEFAULT_SYNONYMS,
    ) -> None:
        self._synonyms = dict(synonyms)
        items: list[_Indexed] = []
        for entry in entries:
            if not isinstance(entry, KeywordEntry):
                entry = KeywordEntry(*entry)
            items.append(
                _Indexed(
                    ad_group_id=entry.ad_group_id,
                    keyword=validate_keyword(entry.keyword, self._synonyms),
                    match_type=parse_match_type(entry.match_type),
                    bid_fen=validate_bid(entry.bid_fen),
                )
            )
        frequency: dict[str, int] = defaultdict(int)
        for item in items:
            for token in item.keyword.required:
                frequency[token] += 1
        self._items = items
        self._by_compact: dict[str, list[int]] = defaultdict(list)
        self._postings: dict[str, list[int]] = defaultdict(list)
        for pos, item in enumerate(items):
            self._by_compact[item.keyword.compact].append(pos)
            if item.match_type is not MatchType.EXACT:
                anchor = min(item.keyword.required, key=lambda t: (frequency[t], t))
                self._postings[anchor].append(pos)

    def __len__(self) -> int:
        return len(self._items)

    def analyse_query(self, query: str) -> AnalysedText:
        return analyse(query, self._synonyms)

    def explain(self, query: str) -> LookupResult:
        """`lookup` plus the number of keyword entries examined to answer it."""
        q = self.analyse_query(query)
        if not q.compact:
            return LookupResult([], 0)
        candidates: set[int] = set(self._by_compact.get(q.compact, ()))
        for token in q.canonical:
            candidates.update(self._postings.get(token, ()))
        best: dict[int, Match] = {}
        for pos in candidates:
            item = self._items[pos]
            if not keyword_matches(item.keyword, item.match_type, q):
                continue
            match = Match(item.ad_group_id, item.keyword.text, item.match_type, item.bid_fen)
            current = best.get(item.ad_group_id)
            if current is None or _sort_key(match) < _sort_key(current):
                best[item.ad_group_id] = match
        return LookupResult(sorted(best.values(), key=_sort_key), len(candidates))

    def lookup(self, query: str) -> list[Match]:
        """One match per ad group: exact > phrase > broad, then higher bid, then keyword."""
        return self.explain(query).matches


# ---------------------------------------------------------------------------------------
# Quality score


def ad_relevance(keyword: str, title: str, synonyms: Mapping[str, str] = DEFAULT_SYNONYMS) -> float:
    """Share of the keyword's required tokens that appear in the creative title (0..1)."""
    kw = validate_keyword(keyword, synonyms)
    title_tokens = analyse(title, synonyms).canonical
    return len(kw.required & title_tokens) / len(kw.required)


def quality_score(
    *,
    expected_ctr: float,
    keyword: str,
    title: str,
    landing_relevance: float | bool,
    benchmark_ctr: float = 0.02,
    synonyms: Mapping[str, str] = DEFAULT_SYNONYMS,
) -> int:
    """Quality score 1..10 of one (ad group, keyword).

    ctr = clamp(expected_ctr / (2 × benchmark_ctr), 0, 1)    (benchmark CTR scores 0.5)
    ad  = ad_relevance(keyword, title)                          (0..1 token overlap)
    lp  = clamp(landing_relevance, 0, 1)                        (True → 1, False → 0)
    raw = 0.5·ctr + 0.25·ad + 0.25·lp
    QS  = 1 + floor(9·raw + 0.5)                                (round half up, 1..10)
    """
    if benchmark_ctr <= 0:
        raise InvalidInput("benchmark_ctr must be positive", code="promotion.quality_invalid")
    if expected_ctr < 0 or expected_ctr > 1:
        raise InvalidInput(
            "expected_ctr must be between 0 and 1",
            code="promotion.quality_invalid",
            expected_ctr=expected_ctr,
        )
    ctr = min(1.0, expected_ctr / (2 * benchmark_ctr))
    ad = ad_relevance(keyword, title, synonyms)
    lp = min(1.0, max(0.0, float(landing_relevance)))
    raw = 0.5 * ctr + 0.25 * ad + 0.25 * lp
    return 1 + int(9 * raw + 0.5 + 1e-9)


def rank_score(bid_fen: int, quality: int) -> int:
    """Auction rank of a keyword ad: bid (fen) × quality score."""
    return validate_bid(bid_fen) * quality


# ---------------------------------------------------------------------------------------
# Brand direct-zone terms


class ReservedTerms:
    """Brand direct-zone terms, each reserved for one certified brand merchant.

    A keyword is covered by a reserved term when its compact text equals the term's or the
    term's tokens appear contiguous in the keyword's tokens (肯德基 covers 肯德基 早餐).
    """

    def __init__(self, terms: Mapping[str, int] | None = None) -> None:
        self._terms: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._by_token: dict[str, list[str]] = defaultdict(list)
        for term, merchant_id in (terms or {}).items():
            self.reserve(term, merchant_id)

    def reserve(self, term: str, merchant_id: int) -> None:
        kw = validate_keyword(term)
        owner = self._terms.get(kw.compact)
        if owner is not None:
            if owner[0] != merchant_id:
                raise ReservedTermTaken(
                    "Term is already reserved for another brand",
                    term=kw.normalised,
                    merchant_id=owner[0],
                )
            return
        self._terms[kw.compact] = (merchant_id, kw.tokens)
        self._by_token[kw.tokens[0]].append(kw.compact)

    def __len__(self) -> int:
        return len(self._terms)

    def owner_of(self, keyword: str) -> tuple[str, int] | None:
        """(reserved term, merchant id) covering the keyword, or None."""
        q = analyse(keyword)
        if q.compact in self._terms:
            return q.compact, self._terms[q.compact][0]
        for token in dict.fromkeys(q.tokens):
            for term in self._by_token.get(token, ()):
                merchant_id, tokens = self._terms[term]
                if _contains_run(q.tokens, tokens):
                    return term, merchant_id
        return None

    def check_reserved(self, term: str, merchant_id: int) -> None:
        """Refuse a keyword covered by a term reserved for a different merchant."""
        found = self.owner_of(term)
        if found is not None and found[1] != merchant_id:
            raise KeywordReserved(
                "This term is reserved for its certified brand",
                term=found[0],
                keyword=normalise(term),
            )
