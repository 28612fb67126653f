"""Who lives in the demo world. Plain data; `world.py` turns it into records.

Every record has a natural key (merchant slug, staff email, consumer phone, store and
item names within their merchant), so seeding twice finds what the first run made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASSWORD = "ccare-demo"
OPERATOR_EMAIL = "operator@ccare.demo"
OPERATOR_NAME = "平台运营 Platform Ops"


@dataclass(frozen=True)
class ItemSpec:
    name: str
    price_fen: int
    kind: str = "goods"
    description: str = ""
    stock: int | None = None


@dataclass(frozen=True)
class StoreSpec:
    name: str
    city: str
    address: str


@dataclass(frozen=True)
class MerchantSpec:
    slug: str
    name: str
    industry: str
    city: str
    owner_name: str
    mini_program: str
    category: str
    story: str
    stores: tuple[StoreSpec, ...]
    items: tuple[ItemSpec, ...]
    staff: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (role, name)

    @property
    def owner_email(self) -> str:
        return f"owner@{self.slug}.demo"

    def staff_email(self, role: str) -> str:
        return f"{role}@{self.slug}.demo"


@dataclass(frozen=True)
class IsvSpec:
    name: str
    email: str
    staff_name: str
    operates: tuple[str, ...]  # merchant slugs that grant it
    scopes: tuple[str, ...]


SUPERMARKET_CITIES = (
    ("杭州", "Hangzhou", "西湖区文三路 199 号"),
    ("上海", "Shanghai", "徐汇区漕溪北路 88 号"),
    ("南京", "Nanjing", "鼓楼区中山北路 30 号"),
    ("苏州", "Suzhou", "姑苏区人民路 1200 号"),
    ("宁波", "Ningbo", "海曙区中山西路 66 号"),
    ("武汉", "Wuhan", "江汉区解放大道 690 号"),
    ("成都", "Chengdu", "锦江区春熙路 8 号"),
    ("广州", "Guangzhou", "天河区体育西路 101 号"),
    ("北京", "Beijing", "朝阳区建国路 93 号"),
)

MERCHANTS: tuple[MerchantSpec, ...] = (
    MerchantSpec(
        slug="laojie-breakfast",
        name="老街早餐铺 Old Lane Breakfast",
        industry="catering",
        city="Hangzhou",
        owner_name="王阿姨 Auntie Wang",
        mini_program="老街早餐 · 扫码点单",
        category="food",
        story=(
            "A breakfast shop in an old Hangzhou neighbourhood. Customers order in the "
            "mini-program; the ISV's ordering plugin prints each ticket in the kitchen."
        ),
        stores=(StoreSpec("小河直街店 Xiaohe Street", "Hangzhou", "拱墅区小河直街 12 号"),),
        items=(
            ItemSpec("现磨豆浆 Soy milk", 300, description="fresh-ground, sweet or salty"),
            ItemSpec("油条 Youtiao", 250, description="fried dough stick"),
            ItemSpec("鲜肉包 Pork baozi", 200),
            ItemSpec("青菜香菇包 Greens & mushroom baozi", 180),
            ItemSpec(
                "葱包桧儿 Cong bao hui'er",
                600,
                description="Hangzhou's own: youtiao "
                "rolled in a pancake with scallion, pressed crisp",
            ),
            ItemSpec("茶叶蛋 Tea egg", 150),
            ItemSpec("小馄饨 Small wontons", 1200),
            ItemSpec("粢饭团 Sticky-rice roll", 500),
        ),
        staff=(("clerk", "收银小李 Cashier Li"),),
    ),
    MerchantSpec(
        slug="qiju-home",
        name="栖居家居 Qiju Home",
        industry="home_furnishing",
        city="Shanghai",
        owner_name="陈总 Director Chen",
        mini_program="栖居家居旗舰店",
        category="home",
        story=(
            "A home-furnishing brand cold-starting on the platform with a brand zone and "
            "a passphrase coupon for its search keywords."
        ),
        stores=(StoreSpec("上海体验馆 Shanghai showroom", "Shanghai", "静安区南京西路 1601 号"),),
        items=(
            ItemSpec("云朵三人沙发 Cloud sofa", 599900, stock=40),
            ItemSpec("北欧落地灯 Floor lamp", 39900, stock=200),
            ItemSpec("纯棉四件套 Cotton bedding set", 29900),
            ItemSpec("实木餐桌 Oak dining table", 259900, stock=25),
            ItemSpec("上门测量 Home measuring visit", 9900, kind="service"),
        ),
    ),
    MerchantSpec(
        slug="jinlv-jewelry",
        name="金缕珠宝 Jinlv Jewelry",
        industry="jewelry",
        city="Shenzhen",
        owner_name="林女士 Ms Lin",
        mini_program="金缕珠宝会员店",
        category="jewelry",
        story=(
            "A jewelry brand running a 520 (Chinese Valentine's Day) event in its members' "
            "channel for high-value platform members."
        ),
        stores=(StoreSpec("深圳万象城店 MixC Shenzhen", "Shenzhen", "罗湖区宝安南路 1881 号"),),
        items=(
            ItemSpec("520 足金吊坠 520 gold pendant", 259900, stock=520),
            ItemSpec("淡水珍珠耳钉 Pearl earrings", 49900, stock=300),
            ItemSpec("银手链 Silver bracelet", 19900),
            ItemSpec("免费清洗保养 Cleaning & care", 100, kind="service"),
        ),
    ),
    MerchantSpec(
        slug="xiandaojia-market",
        name="鲜到家超市 Xiandaojia Market",
        industry="supermarket",
        city="Hangzhou",
        owner_name="赵经理 Manager Zhao",
        mini_program="鲜到家 · 到店到家",
        category="groceries",
        story=(
            "A supermarket chain of 9 stores in 9 cities using city coupons and incentive "
            "points to bring its own customers online."
        ),
        stores=tuple(
            StoreSpec(f"{zh}店 {en} store", en, address) for zh, en, address in SUPERMARKET_CITIES
        ),
        items=(
            ItemSpec("五常大米 5kg Wuchang rice", 6990),
            ItemSpec("散养鸡蛋 30 枚 Free-range eggs x30", 3290),
            ItemSpec("鲜牛奶 1L Fresh milk", 1590),
            ItemSpec("当季水果礼盒 Seasonal fruit box", 9900),
            ItemSpec("手工水饺 Hand-made dumplings", 2590),
            ItemSpec("洗衣液 3kg Laundry liquid", 4990),
        ),
        staff=(("manager", "店长孙 Store manager Sun"),),
    ),
    MerchantSpec(
        slug="ranli-fitness",
        name="燃力健身 Ranli Fitness",
        industry="fitness",
        city="Chengdu",
        owner_name="刘教练 Coach Liu",
        mini_program="燃力健身 · 约课",
        category="fitness",
        story="A gym selling staged-pay memberships: a monthly card, or pay per visit.",
        stores=(StoreSpec("春熙路馆 Chunxi Road club", "Chengdu", "锦江区春熙路 99 号 3 楼"),),
        items=(
            ItemSpec(
                "月卡 Monthly card", 29900, kind="service", description="30 days, unlimited visits"
            ),
            ItemSpec("单次入场 Per-visit pass", 3900, kind="service"),
            ItemSpec("私教课 Personal training session", 19900, kind="service"),
            ItemSpec("蛋白粉 Whey protein", 25900, stock=100),
        ),
    ),
    MerchantSpec(
        slug="daojia-services",
        name="到家帮 Daojia Home Services",
        industry="home_services",
        city="Beijing",
        owner_name="周师傅 Master Zhou",
        mini_program="到家帮 · 保洁维修",
        category="services",
        story=(
            "A home-services mini-program whose new-customer coupons scalpers raid until "
            "the anti-cheating filter is switched on."
        ),
        stores=(StoreSpec("朝阳服务站 Chaoyang service hub", "Beijing", "朝阳区望京街 10 号"),),
        items=(
            ItemSpec("日常保洁 2 小时 Cleaning, 2 hours", 9900, kind="service"),
            ItemSpec("深度保洁 Deep cleaning", 29900, kind="service"),
            ItemSpec("空调清洗 Air-conditioner cleaning", 12900, kind="service"),
            ItemSpec("家电维修上门 Appliance repair visit", 5000, kind="service"),
            ItemSpec("水管疏通 Pipe unblocking", 8000, kind="service"),
        ),
    ),
)

ISV = IsvSpec(
    name="云厨科技 Yunchu Tech (ISV)",
    email="admin@yunchu-isv.demo",
    staff_name="云厨实施 Yunchu implementer",
    operates=("laojie-breakfast", "ranli-fitness", "daojia-services"),
    scopes=("catalog", "orders"),
)
# The ISV's ordering plugin: an app each operated merchant has authorised.
ISV_APP_NAME = "云厨点单插件 Kitchen ticket plugin"

# Consumers: deterministic names, phones and cities, 60 in all.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = (
    "小明",
    "晓燕",
    "子涵",
    "浩然",
    "雨桐",
    "一诺",
    "俊杰",
    "欣怡",
    "宇航",
    "思远",
    "佳琪",
    "志强",
)
CONSUMER_CITIES = (
    "Hangzhou",
    "Hangzhou",
    "Hangzhou",
    "Shanghai",
    "Shanghai",
    "Beijing",
    "Beijing",
    "Chengdu",
    "Shenzhen",
    "Nanjing",
    "Suzhou",
    "Ningbo",
    "Wuhan",
    "Guangzhou",
)
CONSUMER_COUNT = 60
# 大众 / 黄金 / 铂金 / 钻石 by position: most are public, a few diamond.
LEVELS = ("public",) * 6 + ("gold",) * 3 + ("platinum",) * 2 + ("diamond",)
TOP_UP_FEN = {"public": 50_000, "gold": 100_000, "platinum": 300_000, "diamond": 1_000_000}
SHARED_DEVICE = "demo-device-shared-01"  # the scalpers' phone, shared by the last five


@dataclass(frozen=True)
class ConsumerSpec:
    index: int
    name: str
    phone: str
    city: str
    level: str
    credit_score: int
    device_id: str
    platform: str


def consumers() -> list[ConsumerSpec]:
    specs = []
    for i in range(CONSUMER_COUNT):
        surname = SURNAMES[i % len(SURNAMES)]
        given = GIVEN[(i * 7) % len(GIVEN)]
        scalper = i >= CONSUMER_COUNT - 5
        specs.append(
            ConsumerSpec(
                index=i,
                name=f"{surname}{given}",
                phone=f"1380571{i:04d}",
                city=CONSUMER_CITIES[i % len(CONSUMER_CITIES)],
                level=LEVELS[i % len(LEVELS)],
                credit_score=550 + (i * 37) % 400,
                device_id=SHARED_DEVICE if scalper else f"demo-device-{i:03d}",
                platform=("ios", "android")[i % 2],
            )
        )
    return specs


ORDERS_PER_CONSUMER = 2
REFUNDED_ORDERS = {"demo-0007-1": None, "demo-0019-0": 100}  # None = in full; else fen
UNPAID_ORDERS = {"demo-0030-1", "demo-0041-1"}  # left waiting for payment


@dataclass(frozen=True)
class CouponSpec:
    """A coupon activity a demo merchant runs, and how many demo consumers hold one."""

    merchant: str  # slug
    out_biz_no: str
    name: str
    body: dict[str, object]  # the rest of the ActivityCreate
    claims: int
    channel: str
    strictness: str = "standard"


COUPONS: tuple[CouponSpec, ...] = (
    CouponSpec(
        merchant="laojie-breakfast",
        out_biz_no="demo-breakfast-30-5",
        name="满30减5 早餐券",
        body={
            "kind": "fixed",
            "amount_fen": 500,
            "floor_fen": 3000,
            "quantity": 500,
            "user_limits": {"lifetime": 2, "day": 1},
            "validity": {"days_after_claim": 14},
            "passphrase": "老街早餐",
        },
        claims=18,
        channel="payment_success",
    ),
    CouponSpec(
        merchant="xiandaojia-market",
        out_biz_no="demo-market-90",
        name="生鲜9折券",
        body={
            "kind": "discount",
            "pay_rate_bp": 9000,
            "ceiling_fen": 2000,
            "quantity": 2000,
            "daily_cap": 300,
            "user_limits": {"lifetime": 1},
            "validity": {"days_after_claim": 7, "weekdays": [5, 6]},
            "stacking": "joint",
        },
        claims=12,
        channel="coupon_venue",
    ),
    CouponSpec(
        merchant="daojia-services",
        out_biz_no="demo-cleaning-50",
        name="上门保洁立减50",
        body={
            "kind": "fixed",
            "amount_fen": 5000,
            "floor_fen": 15000,
            "quantity": 200,
            "budget_fen": 1_000_000,
            "device_limit": 1,
            "user_limits": {"lifetime": 1},
            "validity": {"days_after_claim": 30},
        },
        claims=6,
        channel="fan_group",
        strictness="strict",
    ),
)
COUPON_WINDOW = ("2026-01-01T00:00:00+08:00", "2027-12-31T23:59:59+08:00")


# --- customer assets (`assets.py`): the breakfast shop's favorites, events, messages ------

ASSETS_MERCHANT = "laojie-breakfast"

FAVORITE_GIFT = CouponSpec(
    merchant=ASSETS_MERCHANT,
    out_biz_no="demo-breakfast-fav-gift",
    name="收藏有礼 3元早餐券",
    body={
        "kind": "fixed",
        "amount_fen": 300,
        "floor_fen": 1500,
        "quantity": 300,
        "user_limits": {"lifetime": 1},
        "validity": {"days_after_claim": 7},
    },
    claims=0,
    channel="favorites_gift",
)
# The shop's earlier coupon becomes a benefit only its favoriters see.
FAVORITE_BENEFIT = "demo-breakfast-30-5"

FAVORITE_CHANNELS = ("storefront", "app_home", "search", "offline_qr", "fan_group", "live")
# Every other consumer favorites the shop. The first few did before it offered a gift;
# two changed their minds later.
FAVORITERS = tuple(range(0, CONSUMER_COUNT, 2))
EARLY_FAVORITERS = frozenset({0, 2, 4, 6, 8, 10})
UNFAVORITERS = frozenset({10, 36})
# Favoriters who took the exclusive benefit from the storefront.
BENEFIT_CLAIMERS = (20, 24, 28)


@dataclass(frozen=True)
class FavoriteSpec:
    consumer: int  # index into consumers()
    channel: str
    days_ago: int
    removed_days_ago: int | None


def favorites() -> list[FavoriteSpec]:
    specs = []
    for i in FAVORITERS:
        # The early ones favorited 3-4 weeks ago, the rest over the last two weeks.
        days_ago = 28 - i // 4 if i in EARLY_FAVORITERS else 1 + (i * 5) % 14
        specs.append(
            FavoriteSpec(
                consumer=i,
                channel=FAVORITE_CHANNELS[(i // 2) % len(FAVORITE_CHANNELS)],
                days_ago=days_ago,
                removed_days_ago=days_ago // 2 if i in UNFAVORITERS else None,
            )
        )
    return specs


@dataclass(frozen=True)
class VisitSpec:
    consumer: int
    merchant: str  # slug
    channel: str  # catalog VisitChannel
    hours_ago: int


VISIT_CHANNELS = ("mini_program", "app_home", "search", "favorites", "message", "offline_qr")


def visits() -> list[VisitSpec]:
    """Storefront opens over the last two weeks: three in four consumers visit the
    breakfast shop (once to three times), one in five the market."""
    specs = []
    for i in range(CONSUMER_COUNT):
        if i % 4 != 3:
            for n in range(1 + i % 3):
                specs.append(
                    VisitSpec(
                        i,
                        ASSETS_MERCHANT,
                        VISIT_CHANNELS[(i + n) % len(VISIT_CHANNELS)],
                        hours_ago=24 * (2 + (i + 4 * n) % 12) + 7 + n,
                    )
                )
        if i % 5 == 0:
            specs.append(VisitSpec(i, "xiandaojia-market", "app_home", hours_ago=30 + i))
    return specs


@dataclass(frozen=True)
class CustomerEventSpec:
    """An event the breakfast shop sends itself (its ordering plugin's own records)."""

    event_id: str  # the shop's own id; stable, so a second run is a duplicate
    consumer: int
    name: str
    channel: str  # profiles EventChannel
    hours_ago: int
    properties: dict[str, object] = field(default_factory=dict)


CUSTOMER_EVENTS: tuple[CustomerEventSpec, ...] = (
    CustomerEventSpec("lj-visit-0001", 1, "visit", "offline_qr", 150, {"store": "xiaohe"}),
    CustomerEventSpec("lj-visit-0002", 5, "visit", "offline_qr", 126, {"store": "xiaohe"}),
    CustomerEventSpec("lj-visit-0003", 13, "visit", "offline", 98, {"store": "xiaohe"}),
    CustomerEventSpec("lj-visit-0004", 22, "visit", "offline_qr", 75, {"store": "xiaohe"}),
    CustomerEventSpec("lj-visit-0005", 1, "visit", "offline_qr", 52, {"store": "xiaohe"}),
    CustomerEventSpec("lj-visit-0006", 30, "visit", "mini_program", 27, {"table": 4}),
    CustomerEventSpec("lj-share-0001", 1, "share", "life_account", 149, {"to": "friend"}),
    CustomerEventSpec("lj-share-0002", 8, "share", "mini_program", 101, {"to": "group"}),
    CustomerEventSpec("lj-share-0003", 22, "share", "live_room", 74, {"to": "friend"}),
    CustomerEventSpec("lj-share-0004", 40, "share", "fan_group", 20, {"to": "group"}),
)


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    category: str
    title: str
    body: str
    link: str


MARKETING_TEMPLATE = TemplateSpec(
    name="新品上市 New on the menu",
    category="marketing",
    title="{item}上新啦",
    body="老街早餐铺新品{item}今日上架，到店扫码点单立减{amount}元。",
    link="pages/menu/index",
)
SERVICE_TEMPLATE = TemplateSpec(
    name="出餐提醒 Order ready",
    category="service",
    title="您的早餐已出餐",
    body="订单{order_no}已出餐，请到{store}取餐。",
    link="pages/order/detail",
)


def consent_kind(index: int) -> str | None:
    """Two consumers in three subscribe to the marketing template, most for the long
    term, the rest once."""
    if index % 3 == 2:
        return None
    return "long_term" if index % 5 < 3 else "once"


# The broadcast goes to the shop's current favoriters; what each recipient did next.
BROADCAST_REQUEST_NO = "demo-new-menu-1"
BROADCAST_VARIABLES: dict[str, str | int | float] = {"item": "葱包桧儿", "amount": 3}
ENGAGEMENT = {0: "click", 2: "open", 4: "read"}  # by index % 8; the others never looked


@dataclass(frozen=True)
class SegmentSpec:
    out_request_no: str
    name: str
    rule: dict[str, object]


SEGMENTS: tuple[SegmentSpec, ...] = (
    SegmentSpec(
        out_request_no="demo-regulars-no-coupon",
        name="常客未用券 Regulars who never used a coupon",
        rule={
            "all": [
                {"event": {"type": "order.paid", "count": {"gte": 2}, "within_days": 90}},
                {"not": {"coupon": {"state": "used"}}},
            ]
        },
    ),
    SegmentSpec(
        out_request_no="demo-fans-no-order",
        name="收藏未下单 Favoriters without an order in 30 days",
        rule={
            "all": [
                {"favorited": {}},
                {"not": {"event": {"type": "order.paid", "within_days": 30}}},
            ]
        },
    ),
)


# A campaign on the second segment: the new-menu message, a fifth held out to measure it.
CAMPAIGN_REQUEST_NO = "demo-win-back-fans"
CAMPAIGN_NAME = "召回收藏用户 Win back favoriters"
CAMPAIGN_SEGMENT = "demo-fans-no-order"
CAMPAIGN_HOLDOUT_PERCENT = 20
