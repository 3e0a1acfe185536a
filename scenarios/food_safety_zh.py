"""沁禾 (Qinhe), a fictional Chinese dairy brand, and a yogurt food-safety scare.

Eight days of ordinary traffic (fans, shoppers, a competitor, unrelated chatter, trade
news) on Weibo, Bilibili and news feeds, then a mother's Weibo post about swollen yogurt
packs and a sick child (the labelled onset). Others report the same, a Bilibili food
reviewer tests the yogurt, a food-safety account with millions of followers amplifies it,
Hong Kong and Taiwan readers join in Traditional Chinese, news feeds pick it up, the brand
recalls the batch and apologises, and sentiment recovers part of the way.

All texts, names and accounts are invented for this project.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crisiswatch.core.model import Author, Level
from crisiswatch.core.scenario import ExpectedAlert, Scenario
from scenarios.generator import PostLabel, Timeline

NAME = "food_safety_zh"
CST = timezone(timedelta(hours=8))
START = datetime(2026, 10, 5, 0, 0, tzinfo=CST)
ONSET = datetime(2026, 10, 13, 10, 20, tzinfo=CST)
RESPONSE = ONSET + timedelta(hours=5, minutes=10)
END = ONSET + timedelta(days=2)
BATCH = "20261009"

SLOTS = {
    "brand": ["沁禾", "沁禾", "沁禾乳业", "Qinhe"],
    "product": ["沁禾原味酸奶", "沁禾益生菌酸奶", "沁禾鲜牛奶", "沁禾乳酸菌饮品", "沁禾希腊酸奶"],
    "flavor": ["草莓", "黄桃", "蓝莓", "燕麦", "芒果", "原味", "无糖"],
    "feel": ["绝了", "很满足", "口感很细腻", "不会太甜", "清爽", "一天好心情"],
    "emoji": ["😋", "👍", "🥰", "[赞]", "[哈哈]", "✨", ""],
    "city": ["上海", "杭州", "南京", "成都", "武汉", "苏州", "合肥", "长沙", "郑州", "广州"],
    "price": ["49", "59", "65", "72", "88"],
    "days": ["三", "两", "五", "好几"],
    "rival": ["蓝泉", "蓝泉乳业"],
}

BRAND_POSITIVE = [
    "早餐标配：{product}+全麦面包，{feel}{emoji}",
    "{product}新出的{flavor}味好好喝！{emoji}",
    "超市{product}在打折，一口气囤了一箱{emoji}",
    "孩子每天一瓶{product}，喝了快两年了，挺放心的",
    "健身后来一杯{product}，{feel}💪",
    "{brand}的新包装挺好看的，拍照很出片{emoji}",
    "下午茶和同事分享{product}，大家都说{feel}",
    "一直喝{brand}，{flavor}味是我的心头好{emoji}",
    "今天{brand}直播间抽奖中了一箱{product}，开心{emoji}",
    "{brand}的酸奶比奶茶健康多了，而且{feel}",
]
BRAND_NEUTRAL = [
    "有人比较过{brand}和{rival}的酸奶吗？哪个更适合减脂",
    "{product}的保质期多久啊，一次买多了怕喝不完",
    "{brand}在{city}开了新的体验店，周末去看看",
    "看到{brand}在招品控岗位，有没有人了解待遇",
    "{brand}直播间{product}{price}元一箱，算便宜吗",
    "请问{product}要冷藏吗？快递路上{days}天会不会坏",
    "{brand}和{rival}的配料表对比了一下，差不多",
    "{city}哪里能买到{brand}的{flavor}味？",
]
BRAND_MILD_NEGATIVE = [
    "{product}是不是涨价了，{price}一箱有点贵",
    "{brand}的{flavor}味太甜了，不太喜欢",
    "快递送来的{product}压扁了一盒，客服给补发了",
    "{brand}的客服电话好难打通",
]
RIVAL_POSTS = [
    "{rival}新出的{flavor}味酸奶试了一下，{feel}{emoji}",
    "{rival}的鲜奶在{city}又涨价了",
    "喝惯了{rival}，偶尔换换口味",
    "{rival}的广告又来了，代言人好帅{emoji}",
]
NOISE = [
    "{city}今天降温了，出门记得加衣服",
    "下班路上堵了一个小时，心累",
    "周末去爬山，风景太好了{emoji}",
    "自己在家用酸奶机做酸奶，第一次就成功了{emoji}",
    "考研倒计时，今天也要加油",
    "新剧终于更新了，追起来",
    "楼下新开的面馆味道不错{emoji}",
]

# ---- the crisis ------------------------------------------------------------------------
FIRST_POST = ("@沁禾乳业 请给个说法！前天在{city}超市买的沁禾益生菌酸奶，批号" + BATCH
              + "，打开就是胀袋的，一股酸臭味。孩子喝了两口，晚上就上吐下泻，现在还在医院挂水。"
              "#沁禾酸奶胀袋#")
EARLY_REPLIES = [
    "天哪，我家冰箱里的沁禾也是这个批次，赶紧拿出来看了，也有点胀",
    "同款！上周喝完沁禾益生菌酸奶拉了{days}天肚子，原来不是我一个人",
    "转发让更多人看到，孩子的东西不能马虎 #沁禾酸奶胀袋#",
    "@沁禾乳业 出来回应一下？",
    "我也是{city}的，昨天买的沁禾酸奶打开有气，直接扔了",
    "抱抱宝宝，希望早日康复。沁禾必须给个交代 #沁禾酸奶胀袋#",
    "刚去超市看了，沁禾益生菌酸奶还在货架上",
]
CRISIS_NEGATIVE = [
    "看到#沁禾酸奶胀袋#，赶紧翻了家里的，也是{batch}批次，不敢喝了",
    "{brand}到现在都不回应？孩子都住院了！",
    "再也不买沁禾了，食品安全是底线",
    "求{brand}公布检测报告，是不是菌落总数超标",
    "已经向12315投诉了，大家保留好包装去维权",
    "建议监管部门立刻抽检沁禾所有批次",
    "{city}的超市里沁禾还在卖，店员说没接到下架通知",
    "给孩子喝的东西都能出问题，太让人心寒了",
    "#沁禾酸奶胀袋# 上热搜了，{brand}还在装死",
    "胀袋还能流到货架上，品控是摆设吗",
    "沁禾的酸奶变质，喝了会不会食物中毒啊，好害怕",
    "昨天刚给老人买了一箱沁禾，现在要不要去退？好担心",
    "{brand}这次要是瞒报就太可怕了",
    "我们公司茶水间的沁禾酸奶全撤了",
    "冷链都管不好还做什么乳制品，{brand}给个交代",
    "沁禾酸奶到底能不能喝？有没有懂的说一下",
    "心疼那个孩子，{brand}必须负责到底",
]
TRADITIONAL = [
    "香港超市都有賣沁禾優酪乳，家裡小朋友天天喝，現在好擔心",
    "沁禾這次脹袋事件處理太慢了，食品安全不能兒戲",
    "台灣的代理商有沒有回應？我剛買了兩箱沁禾益生菌優酪乳",
    "看到新聞說沁禾的優酪乳脹袋，還有小孩喝了上吐下瀉，太可怕了",
    "沁禾到底什麼時候下架？超市還在賣",
    "在{city}出差買過沁禾，看到新聞嚇一跳，還好沒喝",
    "沁禾必須公開檢驗報告，消費者有權知道",
]
INFLUENCER = ("【多地消费者反映沁禾酸奶胀袋、饮用后腹泻】近日，上海、杭州、南京等地多名消费者在社交平台反映，"
              "购买的沁禾益生菌酸奶（批号" + BATCH + "）出现胀袋、异味，部分儿童饮用后出现呕吐、腹泻。"
              "截至发稿沁禾乳业尚未公开回应。提醒：发现胀袋的乳制品请勿食用，保留包装和购物凭证。#沁禾酸奶胀袋#")
REPOSTS = ["转发微博", "扩散！", "家里有的赶紧看看批号", "太吓人了", "等一个官方回应", "已转给家人群"]
RESPONSE_TEXT = ("【沁禾乳业关于部分批次益生菌酸奶的情况说明】我们已关注到消费者反映的问题，高度重视。"
                 "经初步排查，批号" + BATCH + "的产品在运输环节出现冷链中断，可能导致胀袋变质。"
                 "我们已封存并主动召回该批次全部产品，消费者可凭包装或购物凭证在购买渠道全额退款，"
                 "相关就医费用由我们承担。对给大家带来的伤害和困扰，我们深表歉意。客服热线400-820-0000。")
FOLLOW_UP = ("【召回进展通报】截至今日18时，批号" + BATCH + "的益生菌酸奶已召回4.2万盒，"
             "第三方检测报告将在三个工作日内公布。感谢大家的监督，我们会全面升级冷链监控。")
AFTER_POSITIVE = [
    "回应还算及时，主动召回点赞，希望说到做到",
    "已经退款了，{brand}客服态度挺好的",
    "知错能改，给{brand}一次机会",
    "召回加承担医药费，这个处理可以",
    "希望{brand}以后把冷链管好，我还是愿意买的",
]
AFTER_NEGATIVE = [
    "冷链中断？这不是甩锅给物流吗",
    "道歉有什么用，孩子受的罪谁来赔",
    "说得好听，以后还是不敢买{brand}了",
    "召回了多少？其他批次就没问题吗",
]
AFTER_NEUTRAL = [
    "召回批次是" + BATCH + "，大家对照一下包装",
    "{brand}的召回公告出来了，退款找购买渠道",
    "等检测报告出来再说吧",
]
BILIBILI_VIDEO_TITLE = "实测！网传胀袋的沁禾酸奶到底怎么了？"
BILIBILI_BACKGROUND = [
    "这个测评很客观，{product}确实好喝",
    "沁禾的广告拍得好可爱{emoji}",
    "up主推荐的{product}买了，{feel}",
    "{brand}和{rival}对比能不能出一期",
    "早餐就喝{product}，已经一年了",
]
BILIBILI_CRISIS = [
    "up主辛苦了，检测结果太吓人了",
    "前排，{brand}给个解释",
    "已三连，让更多人看到",
    "所以到底能不能喝啊",
    "我家孩子也喝这个，看完后背发凉",
    "菌落数超标这么多？{brand}还敢卖",
    "台灣也買得到沁禾嗎？嚇死人",
    "弹幕都在说退货，我也去退了",
]
NEWS_BACKGROUND = [
    ("沁禾乳业发布三季度业绩 营收同比增长8%", "沁禾乳业三季度营收同比增长8%，低温酸奶品类贡献主要增量。"),
    ("低温酸奶市场竞争加剧 蓝泉、沁禾纷纷推新品", "多家乳企在低温酸奶赛道推出新口味，价格战初现。"),
    ("乳制品冷链物流标准征求意见", "行业协会发布乳制品冷链物流标准征求意见稿，拟加强运输温度监控。"),
]
NEWS_CRISIS = [
    ("多地消费者投诉沁禾酸奶胀袋 市场监管部门介入抽检",
     "多地消费者反映沁禾益生菌酸奶出现胀袋、异味，部分儿童饮用后腹泻，当地市场监管部门已介入抽检。"),
    ("沁禾酸奶胀袋事件发酵 涉事批次仍在部分超市销售",
     "记者走访发现，部分超市货架上仍有批号" + BATCH + "的沁禾益生菌酸奶在售。"),
    ("沁禾乳业回应酸奶胀袋：召回涉事批次并承担就医费用",
     "沁禾乳业发布情况说明，称涉事批次因冷链中断可能变质，已启动召回并全额退款。"),
    ("从沁禾事件看乳企冷链管理短板", "专家表示，低温乳制品对冷链要求极高，企业需建立全程温度追溯。"),
    ("沁禾酸奶召回进展：已召回4.2万盒", "沁禾乳业通报召回进展，第三方检测报告将于三个工作日内公布。"),
]


def build(seed: int = 0) -> Scenario:
    tl = Timeline(NAME, seed, CST)
    slots = dict(SLOTS, batch=[BATCH])
    weibo = tl.authors("weibo", 900, lambda r, i: _weibo_nick(r, i), followers=(5.5, 1.7))
    bili = tl.authors("bilibili", 400, lambda r, i: f"bili_{r.randrange(10**6, 10**7)}", followers=None)
    start, onset, end = START.astimezone(timezone.utc), ONSET.astimezone(timezone.utc), END.astimezone(timezone.utc)

    # ---- background: brand fans and shoppers, a competitor, chatter, trade news --------
    brand_rate = tl.daily_cycle(90)
    for t in tl.times(start, end, brand_rate):
        if t >= onset and tl.rng.random() < 0.5:
            continue  # during the crisis ordinary posts thin out
        roll = tl.rng.random()
        pool, sentiment = ((BRAND_POSITIVE, "positive") if roll < 0.55 else
                           (BRAND_NEUTRAL, "neutral") if roll < 0.88 else (BRAND_MILD_NEGATIVE, "negative"))
        author = weibo.pick(tl.rng)
        tl.add("weibo", t, tl.fill(tl.choice(pool), slots), PostLabel(_phase(t, onset), sentiment), author=author)
    for t in tl.times(start, end, tl.daily_cycle(16)):
        tl.add("weibo", t, tl.fill(tl.choice(RIVAL_POSTS), slots),
               PostLabel(_phase(t, onset), "positive", "other_brand"), author=weibo.pick(tl.rng))
    for t in tl.times(start, end, tl.daily_cycle(12)):
        tl.add("weibo", t, tl.fill(tl.choice(NOISE), slots), PostLabel(_phase(t, onset), "neutral", "noise"),
               author=weibo.pick(tl.rng))
    review_video = "bilibili:BV1qH4y1Qin8"
    for t in tl.times(start, end, tl.daily_cycle(12)):
        tl.add("bilibili", t, tl.fill(tl.choice(BILIBILI_BACKGROUND), slots),
               PostLabel(_phase(t, onset), "positive"), author=bili.pick(tl.rng), thread_id=review_video,
               raw={"bvid": "BV1qH4y1Qin8", "oid": 1133557799, "video_title": "沁禾 vs 蓝泉 酸奶盲测"})
    for day, (title, summary) in enumerate(NEWS_BACKGROUND):
        t = start + timedelta(days=1 + day * 2, hours=1, minutes=tl.rng.randrange(50))
        tl.add("rss", t, summary, PostLabel("background", "neutral", "news"), title=title,
               url=f"https://news.example.cn/food/2026/{tl.rng.randrange(10000, 99999)}.html",
               raw={"feed": "食品产业观察", "feed_url": "https://news.example.cn/food/rss.xml"})

    # ---- precursors: a few odd complaints the evening before ------------------------------
    for hours, text in ((-15, "沁禾益生菌酸奶今天喝着有点发酸，是不是放久了"),
                        (-9, "买的沁禾酸奶盖子鼓鼓的，退了")):
        tl.add("weibo", onset + timedelta(hours=hours), text, PostLabel("precursor", "negative"),
               author=weibo.pick(tl.rng))

    # ---- the onset and the first hour ----------------------------------------------------
    mother = Author(id="7712093344", handle="小满妈妈在杭州", name="小满妈妈在杭州", followers=2380)
    first = tl.add("weibo", onset, FIRST_POST.format(city="杭州"), PostLabel("crisis", "negative", "first"),
                   author=mother, engagement=None, virality=40)
    for t in tl.times(onset + timedelta(minutes=4), onset + timedelta(hours=1, minutes=20), lambda _: 28):
        tl.add("weibo", t, tl.fill(tl.choice(EARLY_REPLIES), slots), PostLabel("crisis", "negative"),
               author=weibo.pick(tl.rng), parent_id=first.id, thread_id=first.id, virality=2)

    # ---- amplification ----------------------------------------------------------------------
    influencer_at = onset + timedelta(hours=1, minutes=25)
    watchdog = Author(id="2093847561", handle="食品安全观察", name="食品安全观察", followers=3_260_000, verified=True)
    big = tl.add("weibo", influencer_at, INFLUENCER, PostLabel("crisis", "negative", "influencer"),
                 author=watchdog, virality=12)

    def crisis_rate(t: datetime) -> float:
        """Posts per hour: builds after the amplification, peaks, fades after the response."""
        if t < influencer_at:
            return 22
        if t < RESPONSE:
            ramp = min(1.0, (t - influencer_at) / timedelta(hours=1.2))
            return 22 + 100 * ramp
        hours_after = (t - RESPONSE) / timedelta(hours=1)
        return 6 + 100 * 0.5 ** (hours_after / 3.5)

    for t in tl.times(onset + timedelta(hours=1), end, crisis_rate):
        after = t >= RESPONSE
        author = weibo.pick(tl.rng)
        if not after and t > influencer_at and tl.rng.random() < 0.25:
            text = tl.choice(REPOSTS) + " //@食品安全观察:" + INFLUENCER[:60]
            tl.add("weibo", t, text, PostLabel("crisis", "negative", "repost"), author=author,
                   parent_id=big.id, thread_id=big.id)
            continue
        if tl.rng.random() < 0.12:
            text, sentiment = tl.fill(tl.choice(TRADITIONAL), slots), "negative"
        elif not after:
            text, sentiment = tl.fill(tl.choice(CRISIS_NEGATIVE), slots), "negative"
        else:
            roll = tl.rng.random()
            fade = min(1.0, (t - RESPONSE) / timedelta(hours=20))  # opinion softens over the day
            if roll < 0.45 - 0.2 * fade:
                text, sentiment = tl.fill(tl.choice(AFTER_NEGATIVE + CRISIS_NEGATIVE[:4]), slots), "negative"
            elif roll < 0.75:
                text, sentiment = tl.fill(tl.choice(AFTER_POSITIVE), slots), "positive"
            else:
                text, sentiment = tl.fill(tl.choice(AFTER_NEUTRAL), slots), "neutral"
        if "沁禾" not in text and tl.rng.random() < 0.5:
            text += " #沁禾酸奶胀袋#"  # Weibo users join the trending hashtag
        tl.add("weibo", t, text, PostLabel("response" if after else "crisis", sentiment), author=author, virality=3)

    # ---- Bilibili: a food reviewer tests the yogurt ------------------------------------------
    video_at = onset + timedelta(minutes=50)
    video = "bilibili:BV1sK4y1Zh7x"
    reviewer = Author(id="3546777", handle="老饕测评君", name="老饕测评君", followers=1_180_000, verified=True)
    tl.add("bilibili", video_at + timedelta(minutes=2),
           "视频里送检结果已经贴出来了，菌落总数超标几十倍。大家家里有" + BATCH + "批次的千万别喝。置顶。",
           PostLabel("crisis", "negative", "influencer"), author=reviewer, thread_id=video, virality=25,
           raw={"bvid": "BV1sK4y1Zh7x", "oid": 1144668800, "video_title": BILIBILI_VIDEO_TITLE, "pinned": True})

    def bili_rate(t: datetime) -> float:
        hours = (t - video_at) / timedelta(hours=1)
        return 45 * min(1.0, hours / 1.5) * (0.5 ** (max(0.0, hours - 4) / 4))

    for t in tl.times(video_at + timedelta(minutes=5), end, bili_rate):
        after = t >= RESPONSE + timedelta(hours=1)
        if after and tl.rng.random() < 0.45:
            text, sentiment = tl.fill(tl.choice(AFTER_POSITIVE + AFTER_NEUTRAL), slots), "positive"
        else:
            text, sentiment = tl.fill(tl.choice(BILIBILI_CRISIS), slots), "negative"
        tl.add("bilibili", t, text, PostLabel("response" if after else "crisis", sentiment),
               author=bili.pick(tl.rng), thread_id=video, virality=2,
               raw={"bvid": "BV1sK4y1Zh7x", "oid": 1144668800, "video_title": BILIBILI_VIDEO_TITLE})

    # ---- the brand answers ------------------------------------------------------------------
    official = Author(id="1650021888", handle="沁禾乳业", name="沁禾乳业官方微博", followers=862_000, verified=True)
    tl.add("weibo", RESPONSE, RESPONSE_TEXT, PostLabel("response", "neutral", "official"), author=official,
           virality=8)
    tl.add("weibo", RESPONSE + timedelta(hours=26), FOLLOW_UP, PostLabel("response", "neutral", "official"),
           author=official, virality=3)

    # ---- news feeds follow ------------------------------------------------------------------
    news_times = [onset + timedelta(hours=h) for h in (3.2, 4.4, 5.6, 9.0, 30.0)]
    for t, (title, summary) in zip(news_times, NEWS_CRISIS):
        phase = "response" if t >= RESPONSE else "crisis"
        tl.add("rss", t, summary, PostLabel(phase, "negative" if phase == "crisis" else "neutral", "news"),
               title=title, url=f"https://news.example.cn/food/2026/{tl.rng.randrange(10000, 99999)}.html",
               raw={"feed": "食品产业观察", "feed_url": "https://news.example.cn/food/rss.xml"})

    posts, labels = tl.finish()
    return Scenario(
        name=NAME, title="沁禾酸奶胀袋 — a dairy brand's food-safety scare (Weibo, Bilibili, news)",
        description=__doc__.strip().split("\n\n")[1].replace("\n", " "),
        start=start, onset=onset, end=end, posts=posts,
        expected_alerts=[
            ExpectedAlert(watchlist="qinhe", min_level=Level.yellow, latest_at=onset + timedelta(hours=1, minutes=30),
                          description="the first complaints and replies stand out against the brand's normal volume"),
            ExpectedAlert(watchlist="qinhe", min_level=Level.orange, latest_at=onset + timedelta(hours=3),
                          description="after the food-safety account amplifies it: a serious, spreading crisis"),
        ],
        config=scenario_config(),
        post_labels=labels,
    )


def scenario_config() -> dict:
    """Watchlists, lexicon and rules that suit a Chinese consumer brand."""
    return {
        "watchlists": [
            {"name": "qinhe", "kind": "brand", "owner": "品牌公关部",
             "terms": ["沁禾", "沁禾乳业", "Qinhe", "Qinhe Dairy", "#沁禾酸奶胀袋#"], "exclude": ["沁禾村"]},
            {"name": "lanquan", "kind": "brand", "terms": ["蓝泉", "蓝泉乳业", "Lanquan"]},
            {"name": "food_safety", "kind": "lexicon",
             "terms": ["胀袋", "变质", "食物中毒", "腹泻", "召回", "food poisoning", "recall"]},
        ],
        "crisis_lexicon": ["召回", "中毒", "食物中毒", "腹泻", "呕吐", "胀袋", "变质", "超标", "维权", "投诉",
                           "曝光", "起诉", "下架", "12315", "recall", "poisoning", "contamination", "lawsuit"],
        "rules": [  # thresholds: the detectors' defaults (robust z-scores, multiples of reach)
            {"name": "volume_spike", "detector": "volume_spike", "bucket": "15m", "baseline": "7d", "min_count": 8},
            {"name": "negative_share", "detector": "negative_share", "bucket": "1h", "baseline": "7d",
             "min_count": 10},
            {"name": "crisis_keywords", "detector": "keyword_burst", "bucket": "15m", "window": "1h", "baseline": "7d",
             "min_count": 5},
            {"name": "influencer", "detector": "influencer", "window": "2h", "min_count": 1,
             "params": {"min_followers": 500000}},
            {"name": "cross_platform", "detector": "cross_platform", "window": "3h", "min_count": 3,
             "params": {"min_sources": 2}},
        ],
    }


def _phase(t: datetime, onset: datetime) -> str:
    return "background" if t < onset else "crisis" if t < RESPONSE.astimezone(timezone.utc) else "response"


_NICK_HEADS = ["爱吃", "快乐的", "今天也要", "早睡的", "一只", "努力的", "城南", "北方的", "小", "阿"]
_NICK_TAILS = ["小王", "橘子", "猫猫", "打工人", "阿喵", "酸奶控", "跑者", "宝妈", "学生党", "吃货", "Lily", "Kevin"]


def _weibo_nick(rng, index: int) -> str:
    return f"{rng.choice(_NICK_HEADS)}{rng.choice(_NICK_TAILS)}{rng.randrange(100, 9999)}"
