"""Bluefinch Air, a fictional US airline: an app and check-in outage on top of a fee backlash.

Eight days of ordinary traffic (trip photos, app reviews, fare questions, a competitor,
aviation chatter) on Mastodon, Bluesky, Reddit, Hacker News, App Store reviews and news
feeds. The evening before, Bluefinch announces a $39 carry-on fee and people grumble. On
the labelled onset morning its app, website and airport kiosks fail; travellers complain
everywhere, a Hacker News thread and a tech journalist spread it, a copy-paste complaint
campaign (#BoycottBluefinch, near-identical texts) floods Mastodon, Bluesky and the App
Store, the airline acknowledges, restores service, waives change fees and pauses the fee,
and opinion recovers part of the way.

All texts, names and accounts are invented for this project.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crisiswatch.core.model import Author, Level
from crisiswatch.core.scenario import ExpectedAlert, Scenario
from scenarios.generator import AuthorPool, PostLabel, Timeline

NAME = "airline_outage_en"
EDT = timezone(timedelta(hours=-4))
START = datetime(2026, 10, 14, 0, 0, tzinfo=EDT)
FEE_ANNOUNCED = datetime(2026, 10, 21, 17, 30, tzinfo=EDT)
ONSET = datetime(2026, 10, 22, 6, 40, tzinfo=EDT)
ACKNOWLEDGED = ONSET + timedelta(hours=2, minutes=50)
RESPONSE = ONSET + timedelta(hours=6, minutes=15)
END = ONSET + timedelta(days=2)
APP_ID = "1598765432"

SLOTS = {
    "brand": ["Bluefinch", "Bluefinch Air", "@bluefinchair", "Bluefinch Airlines"],
    "city": ["Denver", "Austin", "Chicago", "Portland", "Boston", "Phoenix", "Raleigh", "Seattle", "Atlanta",
             "Salt Lake City", "San Diego", "Nashville"],
    "airport": ["DEN", "AUS", "ORD", "PDX", "BOS", "PHX", "RDU", "SEA", "ATL", "SLC", "SAN", "BNA"],
    "good": ["smooth", "on time", "painless", "really pleasant", "early, even"],
    "crew": ["crew", "flight attendants", "gate agents", "pilots"],
    "years": ["6", "8", "10", "12", "15", "twenty"],
    "emoji": ["", "", "✈️", "🙂", "👍", "🙏"],
    "angry": ["😡", "🤬", "", "", "🙄"],
    "hours": ["two", "three", "four", "five"],
    "rival": ["Kestrel Airlines", "Kestrel"],
    "fee": ["$39 carry-on fee", "new carry-on fee", "$39 bag fee"],
}

POSITIVE = [
    "Shoutout to the {brand} {crew} on my {city} flight today, {good} from start to finish {emoji}",
    "{brand} app boarding pass + free wifi messaging = easiest trip in a while {emoji}",
    "Landed in {city} {good}. {brand} keeps surprising me.",
    "Got upgraded on {brand} for my birthday. Best. Day. {emoji}",
    "The {brand} app's new seat map is actually great",
    "Window seat, sunset over the Rockies, {brand} snacks. Not bad. {emoji}",
    "Props to the {brand} gate agent at {airport} who rebooked me in 2 minutes flat",
]
NEUTRAL = [
    "Does {brand} let you pick seats on Basic fares or is that extra?",
    "Is {brand} or {rival} better for {city} to {city2}?",
    "Anyone know if the {brand} lounge at {airport} is open before 6am?",
    "{brand} just added a nonstop to {city}. Fares look ok.",
    "How strict is {brand} about the personal item size?",
    "Flying {brand} for the first time next week, any tips?",
]
MILD_NEGATIVE = [
    "{brand} delayed 40 minutes out of {airport} again. Not the end of the world but come on",
    "Why does the {brand} app log me out every single time",
    "{brand} legroom is getting tighter, or I'm getting taller",
]
RIVAL = [
    "{rival} has a fare sale to {city} this week",
    "Flew {rival} instead this time, honestly fine {emoji}",
    "{rival} app finally supports Apple Wallet passes",
]
NOISE = [
    "The {airport} security line at 5am is a social experiment",
    "Plane spotting at {airport} this evening, perfect light {emoji}",
    "Anyone else collect airline safety cards or is it just me",
    "Jet lag is a lifestyle",
]
APP_REVIEWS = [
    (5, "Love it", "Bluefinch check-in takes seconds and the boarding pass shows up in my wallet. Great app."),
    (5, "Best airline app", "Clean, fast, tracks my bags. Bluefinch did this right."),
    (4, "Pretty good", "The Bluefinch app works well most of the time, seat map could load faster."),
    (4, "Solid", "Easy rebooking when my flight was moved. Would like dark mode."),
    (3, "Okay", "Does the job. Bluefinch logs me out too often."),
    (2, "Buggy update", "Since the last update the app crashes when I add a trip."),
    (5, "Easy", "Booked, checked in and boarded on Bluefinch without talking to anyone. Perfect."),
]
FEE_GRUMBLE = [
    "A {fee} on Basic fares? {brand}, really? {angry}",
    "So {brand} is the airline that charges for carry-ons now. Noted.",
    "{brand} announcing a {fee} on a Tuesday night like we wouldn't notice",
    "The {fee} from {brand} is going to push me to {rival}",
    "Honest question: does the {fee} apply to loyalty members too?",
]

# ---- the outage ------------------------------------------------------------------------
FIRST_POST = ("Is the {brand} app down for anyone else? 'Something went wrong (BF-503)' on check-in, "
              "website too. Flight's at 8:15 out of DEN. #Bluefinch")
OUTAGE = [
    "{brand} app AND website down. Kiosks at {airport} dead too. The check-in line is out the door {angry}",
    "Been in line at {airport} for {hours} hours because {brand} check-in is down. Missed my flight.",
    "{brand} error BF-503 for the last hour. Can't check in, can't change my flight, can't reach anyone.",
    "Hold time for {brand} customer service: {hours} hours and counting #BluefinchDown",
    "Entire {brand} system seems down. Gate agents writing boarding passes by hand at {airport}",
    "Not a single update from {brand} while thousands of us are stuck. Communication is zero. #BluefinchDown",
    "So {brand} can't keep the app up but CAN charge a {fee}. Priorities. {angry}",
    "My mom is stranded at {airport} because the {brand} app ate her boarding pass. Unbelievable.",
    "Status page says all systems operational while the {brand} app is a brick. Lol.",
    "{brand} outage day. Rebooked on {rival}. Not coming back.",
    "Anyone know if {brand} will refund flights missed because of the outage?",
    "Missed a connection in {city} because {brand} kiosks were down. Nobody at the desk knows anything.",
]
CAMPAIGN_BASE = ("I've flown Bluefinch for {years} years. Today your app locked me out of check-in "
                 "and you're adding a $39 carry-on fee? Fix the app, drop the fee. #BoycottBluefinch #BluefinchDown")
CAMPAIGN_SWAPS = [
    ("Today your app", "This morning your app"), ("locked me out of", "kept me out of"),
    ("Fix the app, drop the fee.", "Fix the app and drop the fee."), ("I've flown", "I have flown"),
    ("#BoycottBluefinch #BluefinchDown", "#BoycottBluefinch"), ("adding", "now adding"),
]
HN_STORY = "Bluefinch Air's booking and check-in systems have been down for hours"
HN_COMMENTS = [
    "Their status page still says all green. Status pages that are updated by hand are worse than none.",
    "Classic failed database migration pattern: everything that writes to the reservation system is down, reads work.",
    "I'm at the airport right now, agents are writing paper boarding passes. Impressive improvisation honestly.",
    "Airline IT is a stack of mainframes with a mobile app glued on top. Surprised this doesn't happen weekly.",
    "Worth noting it's the same week they announced a carry-on fee. The PR timing could not be worse.",
    "The bigger failure is communication: hours without a single update from the company.",
    "Someone on their subreddit says a certificate expired. No idea if true.",
    "Kiosks, app and web all failing together suggests a shared auth backend went down.",
]
REDDIT_POSTS = [
    ("flying", "Bluefinch check-in down at {airport}? Line is insane"),
    ("travel", "Stuck at {airport}: Bluefinch app and kiosks not working. What are my rights?"),
    ("flying", "Bluefinch outage megathread"),
]
REDDIT_COMMENTS = [
    "Same at {airport}. Agents say the whole reservation system is down.",
    "If they cancel you're owed a refund, not a voucher. Don't let them push a voucher.",
    "Been on hold {hours} hours. Gave up and rebooked on {rival}.",
    "The carry-on fee plus this? Bluefinch is speedrunning losing customers.",
    "Update: app works again for me. Kiosks still down at {airport}.",
    "My flight left with half the plane empty because nobody could check in lol",
]
APP_OUTAGE_REVIEWS = [
    (1, "Down all morning", "Bluefinch app shows error BF-503 and won't let me check in. Missed my flight."),
    (1, "Useless today", "Can't check in, can't change flight, can't reach support. Deleting."),
    (1, "Broken", "Boarding pass disappeared from the Bluefinch app during the outage."),
    (2, "Outage + fees", "The app failed when I needed it most and now there's a bag fee. Bye."),
]
JOURNALIST = ("Bluefinch Air's app, website and airport kiosks have been failing since early this morning across "
              "its network. Passengers report hours-long lines and missed flights; the airline has not commented yet. "
              "Thread with what we know so far 🧵")
ACK_TEXT = ("Bluefinch Air service update: we're aware that our app, website and airport kiosks are experiencing an "
            "outage. Our teams are working "
            "to restore service as quickly as possible. If your flight is today, please see an agent; we'll waive "
            "change fees for affected travellers. We're sorry.")
RESPONSE_TEXT = ("Bluefinch Air update: our app, website and kiosks are back. Travellers affected today can "
                 "rebook or get a full "
                 "refund with no fees. We've also heard you on carry-on bags: the new carry-on fee is paused while we "
                 "review it. We're sorry for a very hard day.")
AFTER_POSITIVE = [
    "App works again and {brand} waived my change fee. Appreciate that.",
    "Pausing the carry-on fee is the right call, {brand}. Thank you for listening.",
    "Credit where due: {brand} rebooked me for free and the agent at {airport} was lovely.",
    "Rough day but {brand} handled the aftermath well. Refund came through already.",
]
AFTER_NEGATIVE = [
    "'Paused' the fee. Not cancelled. We see you {brand}.",
    "Apology is nice, but I still lost a day and a hotel night. {brand} owes more than an apology.",
    "{brand} came back online but my refund request is still stuck",
]
AFTER_NEUTRAL = [
    "{brand} says systems are restored, change fees waived for today's flights",
    "Is the {brand} carry-on fee paused or cancelled? Reading mixed things",
]
NEWS_BACKGROUND = [
    ("Bluefinch Air adds nonstop service to three new cities", "The low-cost carrier expands its network from Denver."),
    ("Airline app rankings: Bluefinch and Kestrel lead customer satisfaction",
     "A survey of 4,000 travellers rates airline apps."),
    ("Bluefinch Air to charge $39 for carry-on bags on Basic fares",
     "From December, Basic fare passengers will pay $39 to bring a full-size carry-on bag on Bluefinch Air flights."),
]
NEWS_CRISIS = [
    (1.9, "Bluefinch Air outage leaves passengers stuck at check-in",
     "A failure of Bluefinch Air's app, website and airport kiosks caused long lines and missed flights on Thursday."),
    (3.4, "Bluefinch Air acknowledges IT outage, waives change fees",
     "The airline said its teams were working to restore service and that affected travellers could rebook for free."),
    (6.6, "Bluefinch Air restores systems after six-hour outage, pauses carry-on fee",
     "Service returned Thursday afternoon; the airline also paused a planned $39 carry-on fee after "
     "customer backlash."),
    (26.0, "What went wrong at Bluefinch Air? Experts point to a failed system upgrade",
     "Analysts say the outage shows how fragile airline reservation systems remain."),
]


def build(seed: int = 0) -> Scenario:
    tl = Timeline(NAME, seed, EDT)
    slots = dict(SLOTS, city2=SLOTS["city"])
    pools = {
        "mastodon": tl.authors("mastodon", 300, _handle, _display, followers=(5.0, 1.4)),
        "bluesky": tl.authors("bluesky", 400, lambda r, i: _handle(r, i) + ".bsky.social", _display,
                              followers=(5.3, 1.5)),
        "reddit": tl.authors("reddit", 300, _handle, followers=None),
        "hackernews": tl.authors("hackernews", 200, _handle, followers=None),
        "appstore": tl.authors("appstore", 500, _handle, followers=None),
    }
    for index, handle in enumerate(pools["bluesky"].handles):  # Bluesky accounts are DIDs
        pools["bluesky"].ids[index] = "did:plc:" + "".join(tl.rng.choice("abcdefghijklmnopqrstuvwxyz234567")
                                                          for _ in range(24))
    start, onset, end = (d.astimezone(timezone.utc) for d in (START, ONSET, END))
    response = RESPONSE.astimezone(timezone.utc)

    def phase(t: datetime) -> str:
        return "background" if t < onset else "crisis" if t < response else "response"

    def social(t: datetime, text: str, label: PostLabel, platform: str | None = None, virality: float = 1.0):
        platform = platform or tl.choice(("mastodon", "bluesky", "bluesky"))
        return tl.add(platform, t, text, label, author=pools[platform].pick(tl.rng), language="en",
                      virality=virality)

    # ---- background ------------------------------------------------------------------------
    for t in tl.times(start, end, tl.daily_cycle(70)):
        if t >= onset and tl.rng.random() < 0.5:
            continue
        roll = tl.rng.random()
        pool, sentiment = ((POSITIVE, "positive") if roll < 0.5 else
                           (NEUTRAL, "neutral") if roll < 0.85 else (MILD_NEGATIVE, "negative"))
        social(t, tl.fill(tl.choice(pool), slots), PostLabel(phase(t), sentiment))
    for t in tl.times(start, end, tl.daily_cycle(12)):
        social(t, tl.fill(tl.choice(RIVAL), slots), PostLabel(phase(t), "neutral", "other_brand"))
    for t in tl.times(start, end, tl.daily_cycle(8)):
        social(t, tl.fill(tl.choice(NOISE), slots), PostLabel(phase(t), "neutral", "noise"))
    for t in tl.times(start, end, tl.daily_cycle(14)):
        rating, title, text = tl.choice(APP_REVIEWS)
        _review(tl, pools, t, rating, title, text, PostLabel(phase(t), _rating_sentiment(rating)))
    for t in tl.times(start, onset, tl.daily_cycle(6)):
        sub, title = tl.choice(REDDIT_POSTS[:2])
        text = tl.fill(tl.choice(NEUTRAL + POSITIVE), slots)
        tl.add("reddit", t, text, PostLabel("background", "neutral"), title=tl.fill(tl.choice(NEUTRAL), slots),
               author=pools["reddit"].pick(tl.rng), raw={"subreddit": sub})
    for day, (title, summary) in enumerate(NEWS_BACKGROUND[:2]):
        t = start + timedelta(days=1 + day * 3, hours=14)
        _news(tl, t, title, summary, PostLabel("background", "neutral", "news"))

    # ---- the evening before: the fee announcement and grumbling --------------------------------
    fee_at = FEE_ANNOUNCED.astimezone(timezone.utc)
    _news(tl, fee_at, *NEWS_BACKGROUND[2], PostLabel("precursor", "neutral", "news"))
    for t in tl.times(fee_at + timedelta(minutes=10), onset, lambda t: 8 * 0.6 ** ((t - fee_at) / timedelta(hours=3))):
        social(t, tl.fill(tl.choice(FEE_GRUMBLE), slots), PostLabel("precursor", "negative"))

    # ---- the outage ---------------------------------------------------------------------------
    first_author = Author(id="did:plc:k3nq7xw2mfy4cl5tbh6rzd2a", handle="jess-travels.bsky.social",
                          name="Jess ✈️", followers=870)
    tl.add("bluesky", onset, FIRST_POST.format(brand="@bluefinchair"), PostLabel("crisis", "negative", "first"),
           author=first_author, language="en", virality=15)

    def outage_rate(t: datetime) -> float:
        hours = (t - onset) / timedelta(hours=1)
        if t < response:
            return 20 + 80 * min(1.0, hours / 2)
        return 5 + 75 * 0.5 ** ((t - response) / timedelta(hours=3))

    for t in tl.times(onset + timedelta(minutes=3), end, outage_rate):
        if t < response:
            text, sentiment = tl.fill(tl.choice(OUTAGE), slots), "negative"
        else:
            roll, fade = tl.rng.random(), min(1.0, (t - response) / timedelta(hours=20))
            if roll < 0.4 - 0.15 * fade:
                text, sentiment = tl.fill(tl.choice(AFTER_NEGATIVE + OUTAGE[:3]), slots), "negative"
            elif roll < 0.75:
                text, sentiment = tl.fill(tl.choice(AFTER_POSITIVE), slots), "positive"
            else:
                text, sentiment = tl.fill(tl.choice(AFTER_NEUTRAL), slots), "neutral"
        social(t, text, PostLabel(phase(t), sentiment), virality=2)

    # ---- a tech journalist amplifies it ----------------------------------------------------------
    journalist = Author(id="109334455667788", handle="dana_okafor", name="Dana Okafor (tech reporter)",
                        followers=482_000, verified=True)
    tl.add("mastodon", onset + timedelta(hours=1, minutes=35), JOURNALIST,
           PostLabel("crisis", "negative", "influencer"),
           author=journalist, language="en", virality=10)

    # ---- Hacker News and Reddit threads ----------------------------------------------------------
    story = tl.add("hackernews", onset + timedelta(hours=1, minutes=10), "", PostLabel("crisis", "negative", "news"),
                   title=HN_STORY, author=pools["hackernews"].pick(tl.rng),
                   url="https://news.example.com/bluefinch-outage",
                   virality=30, raw={"type": "story"})
    for t in tl.times(story.created_at + timedelta(minutes=4), onset + timedelta(hours=12),
                      lambda t: 30 * 0.6 ** ((t - story.created_at) / timedelta(hours=2))):
        tl.add("hackernews", t, tl.choice(HN_COMMENTS), PostLabel(phase(t), "negative"),
               author=pools["hackernews"].pick(tl.rng), parent_id=story.id, thread_id=story.id,
               raw={"type": "comment"})
    for offset, (sub, title) in zip((0.6, 1.4, 2.2), REDDIT_POSTS):
        root = tl.add("reddit", onset + timedelta(hours=offset), tl.fill(tl.choice(OUTAGE), slots),
                      PostLabel("crisis", "negative"), title=tl.fill(title, slots),
                      author=pools["reddit"].pick(tl.rng), virality=12, raw={"subreddit": sub})
        for t in tl.times(root.created_at + timedelta(minutes=2), onset + timedelta(hours=14),
                          lambda t: 25 * 0.6 ** ((t - root.created_at) / timedelta(hours=2))):
            tl.add("reddit", t, tl.fill(tl.choice(REDDIT_COMMENTS), slots), PostLabel(phase(t), "negative"),
                   author=pools["reddit"].pick(tl.rng), parent_id=root.id, thread_id=root.id,
                   raw={"subreddit": sub})

    # ---- the copy-paste campaign -------------------------------------------------------------------
    campaign_start = onset + timedelta(hours=3)
    for t in tl.times(campaign_start, onset + timedelta(hours=10),
                      lambda t: 60 * 0.7 ** ((t - campaign_start) / timedelta(hours=1))):
        text = CAMPAIGN_BASE.format(years=tl.choice(SLOTS["years"]))
        for old, new in CAMPAIGN_SWAPS:
            if tl.rng.random() < 0.25:
                text = text.replace(old, new)
        label = PostLabel(phase(t), "negative", "campaign")
        if tl.rng.random() < 0.25:
            title = tl.choice(["Fix the app, drop the fee", "#BoycottBluefinch", "Done with Bluefinch"])
            _review(tl, pools, t, 1, title, text, label)
        else:
            social(t, text, label)

    for t in tl.times(onset + timedelta(minutes=30), end,
                      lambda t: 8 if t < response else 3 * 0.7 ** ((t - response) / timedelta(hours=6))):
        rating, title, text = tl.choice(APP_OUTAGE_REVIEWS)
        _review(tl, pools, t, rating, title, text, PostLabel(phase(t), "negative"))

    # ---- the airline answers, news follows --------------------------------------------------------
    official = Author(id="did:plc:bluefinchairofficial00000", handle="bluefinchair.com", name="Bluefinch Air",
                      followers=215_000, verified=True)
    for at, text in ((ACKNOWLEDGED, ACK_TEXT), (RESPONSE, RESPONSE_TEXT)):
        tl.add("bluesky", at.astimezone(timezone.utc), text, PostLabel(phase(at), "neutral", "official"),
               author=official, language="en", virality=6)
    for hours, title, summary in NEWS_CRISIS:
        t = onset + timedelta(hours=hours)
        _news(tl, t, title, summary, PostLabel(phase(t), "negative" if t < response else "neutral", "news"))

    posts, labels = tl.finish()
    return Scenario(
        name=NAME,
        title="Bluefinch Air — app outage and carry-on fee backlash (Mastodon, Bluesky, HN, Reddit, App Store, news)",
        description=" ".join(__doc__.strip().split("\n\n")[1].split()),
        start=start, onset=onset, end=end, posts=posts,
        expected_alerts=[
            ExpectedAlert(watchlist="bluefinch", min_level=Level.yellow, latest_at=onset + timedelta(hours=1),
                          description="outage complaints rise far above the airline's normal volume"),
            ExpectedAlert(watchlist="bluefinch", min_level=Level.orange, latest_at=onset + timedelta(hours=3),
                          description="the outage spreads to Hacker News, Reddit, the App Store and the news"),
        ],
        config=scenario_config(),
        post_labels=labels,
    )


def scenario_config() -> dict:
    """Watchlists, lexicon and rules that suit an airline's customer-relations team."""
    return {
        "watchlists": [
            {"name": "bluefinch", "kind": "brand", "owner": "Customer relations",
             "terms": ["Bluefinch", "Bluefinch Air", "bluefinchair", "#BluefinchDown", "#BoycottBluefinch",
                       "蓝雀航空"], "exclude": ["bluefinch warbler"]},
            {"name": "kestrel", "kind": "brand", "terms": ["Kestrel Airlines", "Kestrel Air"]},
            {"name": "carry_on_fee", "kind": "topic", "terms": ["carry-on fee", "bag fee", "行李费"]},
        ],
        "crisis_lexicon": ["outage", "down", "stranded", "refund", "boycott", "#BoycottBluefinch", "lawsuit",
                           "missed my flight", "BF-503", "delete", "故障", "退款", "抵制"],
        "rules": [  # thresholds: the detectors' defaults (robust z-scores, multiples of reach)
            {"name": "volume_spike", "detector": "volume_spike", "bucket": "15m", "baseline": "7d", "min_count": 8},
            {"name": "sustained_rise", "detector": "sustained_shift", "bucket": "15m", "baseline": "7d"},
            {"name": "negative_share", "detector": "negative_share", "bucket": "1h", "baseline": "7d",
             "min_count": 10},
            {"name": "crisis_keywords", "detector": "keyword_burst", "bucket": "15m", "window": "1h", "baseline": "7d",
             "min_count": 5},
            {"name": "influencer", "detector": "influencer", "window": "2h", "min_count": 1,
             "params": {"min_followers": 100000}},
            {"name": "cross_platform", "detector": "cross_platform", "window": "3h", "min_count": 3,
             "params": {"min_sources": 3}},
        ],
    }


def _review(tl: Timeline, pools: dict[str, AuthorPool], t: datetime, rating: int, title: str, text: str,
            label: PostLabel) -> None:
    tl.add("appstore", t, text, label, title=title, author=pools["appstore"].pick(tl.rng),
           raw={"rating": rating, "version": "7.4.1" if t.day < 22 else "7.4.2", "app_id": APP_ID, "country": "us"})


def _news(tl: Timeline, t: datetime, title: str, summary: str, label: PostLabel) -> None:
    slug = "-".join(title.lower().replace(",", "").replace("'", "").replace(":", "").split()[:8])
    tl.add("rss", t, summary, label, title=title, url=f"https://travelwire.example.com/2026/10/{slug}",
           raw={"feed": "TravelWire", "feed_url": "https://travelwire.example.com/feed.xml"})


def _rating_sentiment(rating: int) -> str:
    return "positive" if rating >= 4 else "neutral" if rating == 3 else "negative"


_FIRST = ["alex", "sam", "jordan", "riley", "casey", "morgan", "taylor", "jamie", "drew", "quinn", "avery", "kai",
          "noor", "mateo", "priya", "lena", "omar", "mei", "hana", "theo"]
_LAST = ["flies", "travels", "codes", "bakes", "runs", "writes", "dev", "pdx", "atl", "den", "nyc", "outdoors"]


def _handle(rng, index: int) -> str:
    return f"{rng.choice(_FIRST)}_{rng.choice(_LAST)}{rng.randrange(10, 999)}"


def _display(rng, index: int) -> str:
    return f"{rng.choice(_FIRST).title()} {rng.choice('ABCDEFGHJKLMNPRSTW')}."
