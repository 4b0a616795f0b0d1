"""The made-up discussion the sample site serves.

A local news story with a busy reader discussion shaped like a real one: 12 numbered top-level comments,
most with replies, some nested two levels deep, replies that address an earlier commenter as "@Name",
lengths from a few words to one long comment, a couple with links, emphasis, a quote or emoji. A second,
smaller and older post lets multi-page mirroring be shown.

Times are minutes before the sample site starts. Texts are stored raw, the way WordPress keeps a comment
(paragraphs separated by blank lines, a little inline HTML); the site renders them like WordPress does.

`LIVE` is the pool of follow-ups the running site posts one by one: mostly replies to the comments here
(by `key`), sometimes to any comment of the post (`"*"`), sometimes new top-level comments (`None`).
A `{name}` in their text becomes the author name of the comment they answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "LIVE",
    "POSTS",
    "SITE_NAME",
    "SITE_TAGLINE",
    "STAFF_NAME",
    "LiveComment",
    "SeedComment",
    "SeedPost",
    "email_for",
    "walk",
]

SITE_NAME = "Port Alder Gazette"
SITE_TAGLINE = "News from the harbour and around town"
STAFF_NAME = "Gazette Staff"  # display name of user 1, who wrote the posts


@dataclass(frozen=True)
class SeedComment:
    author: str
    minutes_ago: float
    text: str
    replies: tuple[SeedComment, ...] = ()
    key: str = ""  # a label live follow-ups can reply to
    user_id: int = 0  # 1 = the site's staff account


@dataclass(frozen=True)
class SeedPost:
    key: str
    id: int
    slug: str
    title: str
    paragraphs: tuple[str, ...]
    minutes_ago: float
    comments: tuple[SeedComment, ...]


@dataclass(frozen=True)
class LiveComment:
    author: str
    text: str
    reply_to: str | None  # a SeedComment.key, "*" for any approved comment of the post, None for top level
    post: str = "ferry"  # SeedPost.key


def c(
    author: str, minutes_ago: float, text: str, *replies: SeedComment, key: str = "", user_id: int = 0
) -> SeedComment:
    return SeedComment(author, minutes_ago, text, tuple(replies), key, user_id)


def email_for(name: str) -> str:
    """A stable made-up address for a commenter: `Gus O’Malley` → `gus.omalley@example.test`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    local = re.sub(r"[^a-z0-9]+", ".", re.sub(r"['’]", "", ascii_name)).strip(".") or "reader"
    return f"{local}@example.test"


def walk(
    comments: tuple[SeedComment, ...], parent: SeedComment | None = None
) -> list[tuple[SeedComment, SeedComment | None]]:
    """Every comment of a tree with its parent, depth first."""
    out: list[tuple[SeedComment, SeedComment | None]] = []
    for comment in comments:
        out.append((comment, parent))
        out.extend(walk(comment.replies, comment))
    return out


_OSKAR_LONG = "\n\n".join(
    (
        "I spent thirty-one years maintaining ferries and harbour tugs before I retired, the last eight of "
        "them on vessels with some degree of automation, so let me try to add some context, because a lot of "
        "the comments here (and frankly the article) mix up two different problems.",
        "The first problem is what the boat does when it loses its link to the shore. On every autonomous or "
        "remotely supervised vessel I know of, the answer is deliberately boring: it stops, holds position "
        "against the current as best it can, and waits. That is what the Heron II did, and it is "
        "<em>exactly</em> what you want. A boat that decides to carry on by itself after losing supervision "
        "is the scary version.",
        "The second problem is what the humans do next, and this is where Tuesday went wrong. Holding "
        "position is meant to be a short state: minutes, not hours. There should be a written recovery "
        "procedure with a target time, a crewed boat on standby during operating hours, and someone at the "
        "shore station whose only job is watching that link. From what I’ve read, the standby boat was "
        "across"
        " the harbour doing buoy maintenance, and the recovery plan amounted to “call the patrol”.",
        "None of that is a software problem, and none of it gets fixed by putting a person back in the "
        "wheelhouse, although I understand why the city did it. It gets fixed by treating the shore station "
        "like an air traffic desk rather than an IT cupboard.",
        "Happy to answer questions if anyone has them.",
    )
)


FERRY = SeedPost(
    key="ferry",
    id=12,
    slug="driverless-ferry-stalls-mid-river",
    title="Driverless ferry stalls mid-river, leaving 38 commuters stranded for two hours",
    paragraphs=(
        "Port Alder’s new autonomous ferry, the Heron II, came to a halt in the middle of the Calder River "
        "on Tuesday morning after its navigation system lost contact with the shore station, leaving 38 "
        "commuters waiting on board for almost two hours.",
        "A harbour patrol boat eventually towed the vessel back to the Eastgate pier, where passengers were "
        "offered free coffee and a refund of their fare.",
        "The city’s transport office says the pilot programme will continue, but a crew member will ride "
        "along on every crossing until an independent review is finished.",
    ),
    minutes_ago=300,
    comments=(
        c(
            "Hollis Brandt",
            290,
            "Two hours with no way off and they call it a “pilot programme.” I take that ferry every day "
            "and honestly I’m just glad the water was calm. Imagine that happening in November.",
            c(
                "tidewatcher_88",
                281,
                "It wasn’t that calm. You could see the chop from the bridge at 8. The crew on the patrol "
                "boat earned their pay.",
                c(
                    "Hollis Brandt",
                    272,
                    "@tidewatcher_88 fair, I was going off the photos. Still, two hours with no toilet on "
                    "board is not the “minor delay” the press release called it.",
                ),
            ),
            c(
                "Marisol Ventura",
                251,
                "@Hollis Brandt November is exactly when they planned to take the crew off for good. Now "
                "that’s on hold, which is the only good news here.",
            ),
            key="hollis-first",
        ),
        c(
            "Renata Lisk",
            286,
            "So the whole system falls over when it loses one radio link? Any first-year networking student "
            "could tell you that you need a fallback. Who signed off on this?",
            c(
                "Kwame Asante-Reyes",
                263,
                "It has a fallback, it’s called “stop and wait.” Which is exactly what it did. That’s the "
                "safe failure mode, not the bug.",
                key="kwame-fallback",
            ),
            c(
                "Renata Lisk",
                241,
                "@Kwame Asante-Reyes stopping is safe for the boat, sure. It’s not great for 38 people with "
                "jobs to get to. A safe failure that lasts two hours is still a failure.",
                c(
                    "Kwame Asante-Reyes",
                    236,
                    "@Renata Lisk no argument there. The tow should have been alongside in 20 minutes, not "
                    "110. That’s an operations problem, not a software one.",
                ),
            ),
            key="renata-fallback",
        ),
        c(
            "Gus O’Malley",
            277,
            "Free coffee and a refund on a $3 ticket. Truly they spared no expense 😂☕",
            c("Ada Fenwick", 259, "The coffee at the Eastgate kiosk is actually decent, to be fair to them."),
            c(
                "Theo Vanterpool",
                231,
                "@Gus O’Malley my sister was on board and she said the tow crew handed out blankets too. "
                "Not everything about it was a clown show.",
            ),
            key="gus-coffee",
        ),
        c(
            "Theo Vanterpool",
            268,
            "Does anyone know if the Heron I (the one with a crew) is still in service? I’d rather wait ten "
            "minutes longer than sit in the middle of the river.",
            c(
                "Bea Lindqvist",
                255,
                "It runs the early crossings until 7:30, then goes back to the yard. The timetable is on the "
                '<a href="https://example.org/port-alder/ferry-timetable" rel="nofollow ugc">harbour '
                "website</a>.",
            ),
            key="theo-heron1",
        ),
        c(
            "Oskar Pell",
            262,
            _OSKAR_LONG,
            c(
                "Juniper Haskett",
                248,
                "This is the most useful thing anyone has written about this, the article included. Thank "
                "you.",
            ),
            c(
                "Felix Marchetti",
                222,
                "@Oskar Pell so in your view holding position was the right call, and the failure was that "
                "nobody had a plan to recover the boat quickly?",
                c(
                    "Oskar Pell",
                    210,
                    "@Felix Marchetti exactly. Holding position was right. What worries me more is that, "
                    "according to the passengers, it took 40 minutes before anyone ashore even noticed the "
                    "link was down.",
                ),
            ),
            key="oskar-long",
        ),
        c(
            "Nadia Quist",
            245,
            "I was on it. Honestly the worst part wasn’t the wait, it was that the announcement kept "
            "repeating “we will be underway shortly” for an hour and a half.\n\n<strong>Just tell people "
            "the truth.</strong>",
            c("Sunny Okafor", 238, "That sounds awful. Hope you made it to work in the end."),
            c(
                "Marisol Ventura",
                226,
                "@Nadia Quist a looping announcement is almost worse than silence. Did anyone from the "
                "operator actually talk to you?",
                c(
                    "Nadia Quist",
                    218,
                    "@Marisol Ventura a guy from the patrol boat came aboard when they hooked up the tow. "
                    "Very nice, very apologetic, clearly knew nothing more than we did.",
                ),
            ),
            key="nadia-onboard",
        ),
        c(
            "Wren Caldwell",
            233,
            "Every new technology has teething problems. The first buses broke down too. Give it a year "
            "before we decide it’s a disaster.",
            c("Ibrahim Saleh", 221, "The first buses didn’t get stuck in the middle of a river though."),
            c(
                "Hollis Brandt",
                212,
                "<blockquote>Give it a year before we decide it’s a disaster.</blockquote>\n@Wren Caldwell "
                "happy to, as long as someone with a steering wheel is on board for that year.",
            ),
            c("Wren Caldwell", 205, "@Ibrahim Saleh ha, fair point."),
            key="wren-teething",
        ),
        c(
            "Colette Duvall",
            215,
            "Great reporting, by the way. This is the first piece I’ve seen that actually says how many "
            "people were on board. The council’s statement just said “a number of passengers.”",
            c(
                STAFF_NAME,
                196,
                "Thank you, Colette. We’ll keep following the review and will publish an update when its "
                "report is out.",
                user_id=1,
            ),
            key="colette-reporting",
        ),
        c(
            "Marcus Threlkeld",
            198,
            "Question nobody is asking: who pays for the patrol boat call-out? Because I bet it isn’t the "
            "company that built the thing.",
            c(
                "Renata Lisk",
                190,
                "@Marcus Threlkeld according to the council minutes from last spring, the vendor contract "
                "has a service-level clause. Whether they’ll actually enforce it is another story.",
            ),
            c("Ada Fenwick", 176, "Taxpayers. It’s always taxpayers."),
            key="marcus-whopays",
        ),
        c(
            "Juniper Haskett",
            170,
            "My kid thinks the robot boat is the coolest thing in town and is now furious that it’s “in "
            "trouble” 🤖⛴️ Explaining software updates to a six-year-old tonight, wish me luck.",
            c("Sunny Okafor", 161, "Tell them the boat just needed a nap 😴"),
            key="juniper-kid",
        ),
        c(
            "Ibrahim Saleh",
            140,
            "For anyone who wants the actual numbers: the pilot has run 1,140 crossings since March and "
            "this is the second time it has stopped mid-river. The first was in June and lasted 12 "
            "minutes.\n\nSource, the city’s open data page: "
            "https://example.org/port-alder/open-data/ferry-pilot",
            c(
                "Theo Vanterpool",
                131,
                "@Ibrahim Saleh thanks, I didn’t know about the June one. Two in 1,140 doesn’t sound "
                "terrible until you’re on one of the two.",
            ),
            c(
                "Oskar Pell",
                118,
                "@Ibrahim Saleh that’s a better record than I expected, honestly. The problem is the "
                "recovery time, not the frequency.",
            ),
            key="ibrahim-numbers",
        ),
        c(
            "Bea Lindqvist",
            64,
            "Update for anyone who commutes: the operator just posted that tomorrow’s crossings run as "
            "normal, with a crew member on board. Eastgate pier opens at 6:40.",
            c("Gus O’Malley", 40, "Thanks Bea 👍"),
            c("Nadia Quist", 22, "@Bea Lindqvist good to know, thank you. I’ll give it one more chance."),
            key="bea-update",
        ),
    ),
)


LIBRARY = SeedPost(
    key="library",
    id=9,
    slug="library-telescopes-this-winter",
    title="Port Alder library will lend out telescopes this winter",
    paragraphs=(
        "Starting next month, anyone with a Port Alder library card will be able to borrow one of six "
        "tabletop telescopes for up to two weeks.",
        "The scheme is funded by the local astronomy club, which will also run free ‘first light’ evenings "
        "on the library roof on the first Friday of each month.",
        "Staff say the waiting list already has more than forty names on it.",
    ),
    minutes_ago=1620,
    comments=(
        c(
            "Maren Holloway",
            1580,
            "What a lovely idea. We tried a telescope years ago and gave up because we had no idea what we "
            "were looking at, so the ‘first light’ evenings are the real win here.",
            c(
                "Cyril Abernethy",
                1541,
                "@Maren Holloway same! The club folks are really patient with beginners, I went to one of "
                "their open nights last year.",
            ),
            key="lib-first",
        ),
        c(
            "Hamish Treloar",
            1402,
            "Forty names already? I’d better get on that list.",
            c(
                "Elodie Marsh",
                1380,
                "Six telescopes, forty people, two weeks each… you’ll get yours around March 😅",
                c("Hamish Treloar", 1371, "@Elodie Marsh March is still a good month for Orion. I can wait."),
            ),
        ),
        c(
            "Zainab Fairley",
            1203,
            "Good to see the library trying new things. The seed library they started last spring has been "
            "a big hit on our street.",
        ),
        c(
            "Quentin Ashdown",
            951,
            "Are they the <em>Dobsonian</em> kind? Those are pretty robust, which is what you want for a "
            "lending scheme.",
        ),
    ),
)

POSTS: tuple[SeedPost, ...] = (LIBRARY, FERRY)


LIVE: tuple[LiveComment, ...] = (
    LiveComment(
        "Lena Marchbank",
        "@{name} same thing happened to my neighbour on the 8:15. She said the looping announcement was the "
        "worst part too.",
        "nadia-onboard",
    ),
    LiveComment(
        "Tobias Wrenfield",
        "Just walked past Eastgate pier: the Heron II is back in the water and there’s someone standing in "
        "the wheelhouse. Progress, I suppose.",
        None,
    ),
    LiveComment(
        "Ines Kallström",
        "@{name} saving this. I’d love to know how many people actually staff that shore station on a normal "
        "morning.",
        "oskar-long",
    ),
    LiveComment(
        "Rafe Dunmore",
        "Stop-and-wait is fine for a lift. A river has current, wind and other boats.",
        "kwame-fallback",
    ),
    LiveComment("Odile Brandvold", "@{name} agreed, well put.", "*"),
    LiveComment(
        "Hamish Treloar",
        "Getting the refund took me three emails the last time there was a delay. Good luck, everyone.",
        "gus-coffee",
    ),
    LiveComment(
        "Yusra Belhaj",
        "Has anyone asked the vendor for comment? Every article quotes the city, never the company that "
        "actually built it.",
        None,
    ),
    LiveComment(
        "Bea Lindqvist",
        "@{name} the Heron I is running the 7:10 and the 7:40 all this week, according to the board at the "
        "pier.",
        "theo-heron1",
    ),
    LiveComment("Niall Pemberton", "This thread is better than the article, honestly.", "*"),
    LiveComment(
        "Zainab Fairley",
        "@{name} the council meets on Thursday and it’s on the agenda as item 7. The public can attend.",
        "marcus-whopays",
    ),
    LiveComment(
        "Elodie Marsh",
        "Mine asked if the boat was “sad” 😅 Kids are the best PR this project has.",
        "juniper-kid",
    ),
    LiveComment(
        "Cyril Abernethy",
        "Serious question: what happens if this occurs at night in winter? Is there heating on board? "
        "Lights?",
        None,
    ),
    LiveComment(
        "Quentin Ashdown",
        "@{name} thanks for digging that up. I didn’t see the June stop reported anywhere.",
        "ibrahim-numbers",
    ),
    LiveComment(
        "Maren Holloway", "@{name} I don’t think that’s quite fair, but I see where you’re coming from.", "*"
    ),
    LiveComment(
        "Lena Marchbank",
        "@{name} buses also didn’t launch with a press release calling them “the future of the harbour.”",
        "wren-teething",
    ),
    LiveComment(
        "Tobias Wrenfield",
        "Confirmed, I just crossed on the 15:20 with a crew member aboard. Smooth as anything :)",
        "bea-update",
    ),
    LiveComment(
        "Ines Kallström",
        "The council’s statement, for anyone who wants it: "
        "https://example.org/port-alder/news/ferry-statement",
        None,
    ),
    LiveComment(
        "Rafe Dunmore",
        "@{name} there <strong>is</strong> a second radio link apparently, it just goes through the same "
        "mast. Which is… a choice.",
        "renata-fallback",
    ),
    LiveComment("Odile Brandvold", "Couldn’t agree more.", "*"),
    LiveComment(
        "Sunny Okafor",
        "@{name} glad you’re OK. Did they at least let people up on the top deck?",
        "nadia-onboard",
    ),
    LiveComment(
        "Yusra Belhaj",
        "The real story is that the patrol boat took 110 minutes. What if someone on board had needed a "
        "doctor?",
        None,
    ),
    LiveComment(
        "Niall Pemberton",
        "@{name} “an air traffic desk rather than an IT cupboard” is going straight into my next team "
        "meeting.",
        "oskar-long",
    ),
    LiveComment(
        "Felix Marchetti",
        "Agreed. Nice to read actual numbers instead of a rewritten press release.",
        "colette-reporting",
    ),
    LiveComment("Marcus Threlkeld", "@{name} do you have a source for that?", "*"),
    LiveComment(
        "Ada Fenwick",
        "I’ll say it: I liked the robot ferry. It was on time more often than the old one.\n\nOne bad "
        "morning doesn’t change that for me.",
        None,
    ),
    LiveComment(
        "Zainab Fairley",
        "@{name} you can reserve them online now, the page went up this afternoon.",
        "lib-first",
        post="library",
    ),
    LiveComment(
        "Niall Pemberton",
        "Do they come with a star chart? Asking for a complete beginner.",
        None,
        post="library",
    ),
    LiveComment(
        "Hamish Treloar", "@{name} great idea, I’ll suggest it at the front desk.", "*", post="library"
    ),
    LiveComment(
        "Marisol Ventura",
        "@{name} the November timetable is out and it still lists an “autonomous service” at 6:40. So much "
        "for the pause.",
        "hollis-first",
    ),
    LiveComment("Theo Vanterpool", "Thanks for the update 👍", "bea-update"),
)
