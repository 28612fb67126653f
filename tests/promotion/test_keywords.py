"""搜索宝 keyword matching: segmentation, match types, precedence, index, quality, brands."""

import random

import pytest

from ccare.core.errors import DomainError
from ccare.promotion.keywords import (
    PRECEDENCE,
    BidInvalid,
    Keyword,
    KeywordEntry,
    KeywordIndex,
    KeywordInvalid,
    KeywordReserved,
    Match,
    MatchType,
    ReservedTerms,
    ReservedTermTaken,
    ad_relevance,
    analyse,
    compact,
    keyword_matches,
    normalise,
    quality_score,
    rank_score,
    tokenize,
    validate_keyword,
)

E, P, B = MatchType.EXACT, MatchType.PHRASE, MatchType.BROAD


# --- text -------------------------------------------------------------------------------


def test_normalise_full_width_case_punctuation_whitespace() -> None:
    assert normalise("  ｉＰｈｏｎｅ　１５！！ ") == "iphone 15"
    assert normalise("火锅，外卖。") == "火锅 外卖"
    assert normalise("「重庆」\t火锅\n") == "重庆 火锅"
    assert normalise("!!!  ") == ""
    assert compact("iPhone 15") == "iphone15"


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("火锅", ("火锅",)),
        ("重庆火锅", ("重庆", "火锅")),
        ("火锅 外卖", ("火锅", "外卖")),
        ("附近的重庆老火锅店", ("附近", "的", "重庆", "老", "火锅", "店")),
        ("iphone15 手机壳", ("iphone", "15", "手机", "壳")),
        ("ｉＰｈｏｎｅ　１５", ("iphone", "15")),
        ("北京烤鸭店", ("北京", "烤鸭", "店")),
        ("星巴克", ("星巴克",)),
        ("肯德基", ("肯德基",)),
    ],
)
def test_tokenize(text: str, tokens: tuple[str, ...]) -> None:
    assert tokenize(text) == tokens


# --- match types ------------------------------------------------------------------------

HOTPOT_CASES = [
    # query, exact, phrase, broad
    ("火锅", True, True, True),
    ("重庆火锅", False, True, True),
    ("火锅 外卖", False, True, True),
    ("附近的重庆老火锅店", False, True, True),
    ("火 锅", True, True, True),  # exact implies phrase and broad
    ("烧烤", False, False, False),
]


@pytest.mark.parametrize(("query", "exact", "phrase", "broad"), HOTPOT_CASES)
def test_hotpot_keyword_per_match_type(query: str, exact: bool, phrase: bool, broad: bool) -> None:
    kw = validate_keyword("火锅")
    q = analyse(query)
    assert keyword_matches(kw, E, q) is exact
    assert keyword_matches(kw, P, q) is phrase
    assert keyword_matches(kw, B, q) is broad


@pytest.mark.parametrize(
    ("keyword", "query", "exact", "phrase", "broad"),
    [
        ("iPhone 15", "iphone15 手机壳", False, True, True),
        ("iPhone 15", "iphone15", True, True, True),
        ("iPhone 15", "ＩＰＨＯＮＥ １５", True, True, True),
        ("iPhone 15", "15 iphone 二手", False, False, True),
        ("iPhone 15", "iphone 14", False, False, False),
        ("重庆火锅", "附近的重庆老火锅店", False, False, True),
        ("重庆火锅", "火锅 重庆", False, False, True),
        ("老火锅店", "附近的重庆老火锅店", False, True, True),
        ("火锅外卖", "火锅 外送", False, False, True),  # synonym 外送 → 外卖
        ("自行车 维修", "单车维修", False, False, True),  # synonym 自行车 → 单车
        ("附近的火锅", "火锅", False, False, True),  # stop words not required by broad
    ],
)
def test_mixed_queries(keyword: str, query: str, exact: bool, phrase: bool, broad: bool) -> None:
    kw = validate_keyword(keyword)
    q = analyse(query)
    assert (keyword_matches(kw, E, q), keyword_matches(kw, P, q), keyword_matches(kw, B, q)) == (
        exact,
        phrase,
        broad,
    )


def test_index_hotpot_and_iphone() -> None:
    index = KeywordIndex(
        [
            (1, "火锅", "exact", 100),
            (2, "火锅", "phrase", 90),
            (3, "火锅", "broad", 80),
            (4, "iPhone 15", "exact", 50),
            (5, "iPhone 15", "phrase", 60),
            (6, "iPhone 15", "broad", 70),
            (7, "重庆火锅", "phrase", 95),
            (8, "重庆火锅", "broad", 85),
        ]
    )
    assert index.lookup("火锅") == [
        Match(1, "火锅", E, 100),
        Match(2, "火锅", P, 90),
        Match(3, "火锅", B, 80),
    ]
    assert index.lookup("重庆火锅") == [
        Match(7, "重庆火锅", P, 95),
        Match(2, "火锅", P, 90),
        Match(8, "重庆火锅", B, 85),
        Match(3, "火锅", B, 80),
    ]
    assert index.lookup("火锅 外卖") == [Match(2, "火锅", P, 90), Match(3, "火锅", B, 80)]
    assert index.lookup("附近的重庆老火锅店") == [
        Match(2, "火锅", P, 90),
        Match(8, "重庆火锅", B, 85),
        Match(3, "火锅", B, 80),
    ]
    assert index.lookup("iphone15 手机壳") == [
        Match(5, "iPhone 15", P, 60),
        Match(6, "iPhone 15", B, 70),
    ]
    assert index.lookup("IPHONE15") == [
        Match(4, "iPhone 15", E, 50),
        Match(5, "iPhone 15", P, 60),
        Match(6, "iPhone 15", B, 70),
    ]
    assert index.lookup("烧烤") == []
    assert index.lookup("  ！！ ") == []


def test_precedence_per_ad_group() -> None:
    index = KeywordIndex(
        [
            KeywordEntry(1, "火锅", B, 300),
            KeywordEntry(1, "重庆火锅", P, 200),
            KeywordEntry(1, "重庆火锅", E, 100),
            KeywordEntry(2, "火锅", B, 300),
            KeywordEntry(2, "火锅", P, 120),
            KeywordEntry(2, "重庆 火锅", P, 150),
            KeywordEntry(3, "火锅", B, 40),
            KeywordEntry(3, "重庆", B, 50),
        ]
    )
    assert index.lookup("重庆火锅") == [
        Match(1, "重庆火锅", E, 100),  # exact wins over the higher phrase and broad bids
        Match(2, "重庆 火锅", P, 150),  # among phrases the higher bid wins
        Match(3, "重庆", B, 50),
    ]
    assert index.lookup("火锅") == [
        Match(2, "火锅", P, 120),
        Match(1, "火锅", B, 300),
        Match(3, "火锅", B, 40),
    ]


# --- index equals brute force -----------------------------------------------------------

VOCAB = [
    "火锅", "重庆", "外卖", "奶茶", "咖啡", "手机", "iphone", "15", "华为", "北京", "烤鸭",
    "洗车", "美甲", "蛋糕", "鲜花", "电影", "酒店", "民宿", "宠物", "医院", "健身", "早餐",
    "附近", "便宜", "优惠", "套餐", "外送", "自行车", "单车", "维修", "老", "的", "店",
]  # fmt: skip


def _brute_force(entries: list[tuple[KeywordEntry, Keyword]], query: str) -> list[Match]:
    """Scan every keyword; one match per ad group by precedence, bid, keyword."""
    q = analyse(query)
    best: dict[int, Match] = {}
    for e, kw in entries:
        mt = MatchType(e.match_type)
        if not keyword_matches(kw, mt, q):
            continue
        m = Match(e.ad_group_id, e.keyword, mt, e.bid_fen)
        cur = best.get(e.ad_group_id)
        key = (PRECEDENCE[m.match_type], -m.bid_fen, m.keyword)
        if cur is None or key < (PRECEDENCE[cur.match_type], -cur.bid_fen, cur.keyword):
            best[e.ad_group_id] = m
    return sorted(
        best.values(),
        key=lambda m: (PRECEDENCE[m.match_type], -m.bid_fen, m.ad_group_id, m.keyword),
    )


def _random_text(rng: random.Random, lo: int, hi: int) -> str:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(lo, hi))]
    sep = rng.choice(["", " "])
    return sep.join(words)


def test_index_lookup_equals_brute_force_on_2000_seeded_keywords() -> None:
    rng = random.Random(20261124)
    entries = [
        KeywordEntry(
            rng.randint(1, 300),
            _random_text(rng, 1, 3),
            rng.choice(list(MatchType)),
            rng.randint(1, 500),
        )
        for _ in range(2000)
    ]
    index = KeywordIndex(entries)
    assert len(index) == 2000
    scanned = [(e, validate_keyword(e.keyword)) for e in entries]
    queries = [_random_text(rng, 1, 5) for _ in range(300)] + [e.keyword for e in entries[:100]]
    total = 0
    for query in queries:
        expected = _brute_force(scanned, query)
        assert index.lookup(query) == expected, query
        total += len(expected)
    assert total > 1000  # the property is exercised on non-trivial results


# --- lookup cost --------------------------------------------------------------------------


def test_candidates_examined_do_not_grow_with_unrelated_keywords() -> None:
    relevant = [
        KeywordEntry(1, "火锅", E, 100),
        KeywordEntry(2, "重庆火锅", P, 100),
        KeywordEntry(3, "火锅 外卖", B, 100),
        KeywordEntry(4, "奶茶", B, 100),
    ]
    small = KeywordIndex(relevant)
    rng = random.Random(7)
    unrelated_words = [
        "洗车",
        "美甲",
        "蛋糕",
        "鲜花",
        "电影",
        "酒店",
        "民宿",
        "宠物",
        "医院",
        "健身",
    ]
    unrelated = [
        KeywordEntry(
            100 + i,
            rng.choice(unrelated_words) + rng.choice(unrelated_words),
            rng.choice(list(MatchType)),
            10,
        )
        for i in range(5000)
    ]
    big = KeywordIndex(relevant + unrelated)
    for query in ["重庆火锅", "火锅 外卖", "附近的重庆老火锅店"]:
        a, b = small.explain(query), big.explain(query)
        assert a.matches == b.matches
        assert b.candidates_examined == a.candidates_examined
    # exact-only keywords sit in the exact table, the others under their rarest token:
    # 重庆火锅 under 重庆, 火锅 外卖 under 外卖.
    assert big.explain("重庆火锅").candidates_examined == 1
    assert big.explain("火锅 外卖").candidates_examined == 1
    assert big.explain("附近的重庆老火锅店").candidates_examined == 1
    assert big.explain("火锅").candidates_examined == 1
    assert big.explain("奶茶").candidates_examined == 1


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("  ，。！ ", "empty"),
        ("火锅" * 11, "too_long"),
        ("abcdefghij klmnopqrstu", "too_long"),
        ("重庆 老火锅 外卖 套餐 优惠 便宜 附近 店", "too_many_tokens"),
    ],
)
def test_invalid_keywords(text: str, reason: str) -> None:
    with pytest.raises(KeywordInvalid) as exc:
        validate_keyword(text)
    assert exc.value.code == "promotion.keyword_invalid"
    assert exc.value.status_code == 422
    assert exc.value.details["reason"] == reason


def test_twenty_chars_is_allowed() -> None:
    assert validate_keyword("ABCDEFGHIJ klmnopqrs").compact == "abcdefghijklmnopqrs"
    assert (
        validate_keyword("abcde fghij klmno pqrst").compact == "abcdefghijklmnopqrst"
    )  # spaces do not count
    assert validate_keyword("重庆 老火锅 外卖 套餐 优惠 便宜 附近").tokens == (
        "重庆", "老", "火锅", "外卖", "套餐", "优惠", "便宜", "附近",
    )  # fmt: skip


def test_index_refuses_bad_entries() -> None:
    with pytest.raises(KeywordInvalid) as exc:
        KeywordIndex([(1, "火锅", "fuzzy", 10)])
    assert exc.value.details["reason"] == "match_type"
    with pytest.raises(KeywordInvalid):
        KeywordIndex([(1, "？？", "exact", 10)])
    for bid in (0, -5, 100_001):
        with pytest.raises(BidInvalid) as bid_exc:
            KeywordIndex([(1, "火锅", "exact", bid)])
        assert bid_exc.value.code == "promotion.bid_invalid"


# --- quality score ------------------------------------------------------------------------


def test_ad_relevance() -> None:
    assert ad_relevance("重庆火锅", "正宗重庆火锅 8折") == 1.0
    assert ad_relevance("重庆火锅", "老北京火锅") == 0.5
    assert ad_relevance("重庆火锅", "奶茶第二杯半价") == 0.0


@pytest.mark.parametrize(
    ("ctr", "title", "landing", "score"),
    [
        (0.04, "正宗重庆火锅", True, 10),  # 0.5 + 0.25 + 0.25 = 1.0
        (0.02, "正宗重庆火锅", True, 8),  # 0.25 + 0.25 + 0.25 = 0.75 → 1 + 6.75 → 8
        (0.02, "老北京火锅", 0.5, 6),  # 0.25 + 0.125 + 0.125 = 0.5 → 1 + 4.5 → 6
        (0.0, "奶茶", False, 1),
        (0.5, "奶茶", False, 6),  # ctr capped at 1 → 0.5 → 6
    ],
)
def test_quality_score(ctr: float, title: str, landing: float | bool, score: int) -> None:
    assert (
        quality_score(expected_ctr=ctr, keyword="重庆火锅", title=title, landing_relevance=landing)
        == score
    )


def test_quality_score_bad_input_and_rank() -> None:
    with pytest.raises(DomainError) as exc:
        quality_score(expected_ctr=1.5, keyword="火锅", title="火锅", landing_relevance=1)
    assert exc.value.code == "promotion.quality_invalid"
    assert rank_score(120, 7) == 840
    with pytest.raises(BidInvalid):
        rank_score(-1, 7)


# --- brand direct-zone terms --------------------------------------------------------------


def test_reserved_terms() -> None:
    terms = ReservedTerms({"肯德基": 11, "iPhone": 22})
    terms.check_reserved("肯德基", 11)
    terms.check_reserved("肯德基 早餐", 11)
    terms.check_reserved("麦当劳", 99)
    terms.check_reserved("火锅", 11)
    for kw, owner_term in [
        ("肯德基", "肯德基"),
        ("ＫＦＣ 肯德基！", "肯德基"),
        ("iphone15 手机壳", "iphone"),
    ]:
        with pytest.raises(KeywordReserved) as exc:
            terms.check_reserved(kw, 99)
        assert exc.value.code == "promotion.keyword_reserved"
        assert exc.value.status_code == 403
        assert exc.value.details["term"] == owner_term
    assert terms.owner_of("肯德基早餐") == ("肯德基", 11)
    assert terms.owner_of("星巴克") is None


def test_reserving_a_taken_term_conflicts() -> None:
    terms = ReservedTerms({"肯德基": 11})
    terms.reserve("肯德基", 11)  # idempotent for the same brand
    with pytest.raises(ReservedTermTaken) as exc:
        terms.reserve(" 肯德基 ", 12)
    assert exc.value.code == "promotion.reserved_term_taken"
    assert exc.value.status_code == 409
