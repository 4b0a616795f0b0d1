"""The offline summarizer on a thread shaped like the seed page (../shared/seed/), built here.

The seed page has 12 numbered top-level comments with indented replies; authors are known only through
the "@Name" that replies open with, so the others are made up. Texts are the seed's own.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest

from bot.models import Comment, Page
from bot.summarize import Thread, ThreadItem, build_digest, chat_item, render_digest, thread_from_comments
from bot.summarize.bench import synthetic_thread
from bot.summarize.render import time_span, units
from bot.summarize.text import content_terms, pushback_score, stop_words, words
from bot.summarize.thread import analyze_structure

ROOT = Path(__file__).resolve().parent.parent
SEED_TITLE = "Russian official calling on Putin to resign speaks to CNN"
SEED_URL = "https://news.example.test/2022/09/russian-official-calls-on-putin-to-resign/"
START = datetime(2022, 9, 27, 18, 0, tzinfo=UTC)

# (number, author, text, replies as (author, text)); the seed's texts, authors made up where unknown.
SEED: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Dana Whitfield",
        "Oof, this is how Russian citizens “fall out of windows.” Speaking out like that is dangerous when it "
        "comes to Putin. Hope this man stays safe.",
        [("Boris K.", "It takes more courage to go to war with just a rusty AK from the 80s, broken boots and an "
          "oversized uniform")],
    ),
    (
        "Peace4All",
        "Yup, more than a resignation from Russia’s President Vladimir Putin. (However, we don’t have great options "
        "for communications .within the Russian federation.) If we did, they could pressure him to step down. Well "
        "done ..interview this evening from CNN. Thank you. May peace come soon to celebrate… in Ukraine. Sometimes "
        "—it’s wishful thinking. May peace come. 💜..☮️..🇺🇸..🎏….🇺🇦….🙏And…give peace a chance!",
        [("Linda M", "Better days will come….we all just have to stay strong, united, and supportive….and do "
          "everything we can to restore peace and prosperity. ☮️")],
    ),
    (
        "CellGames2006",
        "I don’t see Putin ever resigning as that would be the ultimate defeat for him. It’s really sad what he is "
        "doing to the people of Russia and worse what he’s doing to the people of Ukraine. He’s a monster.",
        [
            ("Javih Vv", "@CellGames2006 150 thousand is not the whole army of Russia, but in such numbers they do a "
             "good job. And now another 300,000 will come to their aid."),
            ("RMW", "@Javih Vv No its’ not; if you have any actual evidence of whatever baseless conspiracy theory "
             "you are trying to promote . . . present it."),
            ("Javih Vv", "@RMW just see what she answered me to my serious post… don’t expect something "
             "constructively from her…"),
        ],
    ),
    (
        "Iain Herridge",
        "Training is the most important thing you can give a soldier. Also,even the poorest countries give their "
        "soldiers some pretty intense training",
        [("Olena Bondar", "@Iain Herridge I’m not thinking anything, just telling the facts! You should join me in "
          "Ukraine to hear real truth and see with your own eyes!")],
    ),
    (
        "Sam Porter",
        "I like how she cut him off after he said Russia might use or 70% chance for a tactical nuke and not to "
        "mention he was scared shitless and he left…",
        [],
    ),
    (
        "Grace Tan",
        "Dmtri, you are beyond a brave man for speaking up and sharing the truth. I wish the very best for you and "
        "yours. Bless you! Stay safe!",
        [
            ("Anastasiia Skurativska", "So he spoke out only, ONLY when he was under threat to be called to be "
             "mobilized, no one spoke out when since 24 February their army was killing Ukrainians."),
            ("Mark Ellison", "@Anastasiia Skurativska he had spoken out on September 6. Did you watch the video? "
             "Sure, more Russians should had taken to the streets when the war broke out, but let’s not pretend to "
             "know that is a totalitarian, police, isolated state stuffed with imperialist, propaganda. Speaking up "
             "is an act of bravery which puts you and your family at risk and it’s not very much a thing of Russians "
             "to expose themself to the public against their country and leadership. Bear all of this in mind, "
             "please."),
        ],
    ),
    (
        "Preußen",
        "As I repeatedly say, NATO has not moved east, it is the East that has moved west.\n\nQuestions for the "
        "Russian people and for all those who support Putin/Russia. (People from the Middle East and Africa).\n\n"
        "If Russia is a “good guy” and the West are bad guys (according to them), then why do the Eastern "
        "countries (former states/countries of the Soviet Union) want to be part of NATO?",
        [
            ("Alastair Brewster", "@Preußen well several reasons , 1. Russia is too far away from Latin America 2. "
             "Russia is freezing as a Latin American I’d hate that climate 3. Our second language is usually English "
             "I speak English , Russians only speak Russian\nIt’s not just about politics, the USA has raped Latin "
             "America of our resources , actively undermined our democracies and infect us with your rabid "
             "capitalism . Many of us despise this aspect of western ideology and yet there are also good things "
             "about the USA . Nothing is black and white no negro y blanco"),
            ("Rick Cummings", "@Alastair Brewster Very interesting and thoughtful response. I am old enough to "
             "validate some of your claims, but I hope you can differentiate between the bad behavior of the "
             "American government decades ago, and the ordinary American citizens of today. This is an exercise "
             "that I must practice frequently with regards to the atrocities of the Putin regime, and the ordinary "
             "Russian citizens. It isn’t fair to label everyone with the same attributes as the actual offenders. "
             "(I hope that I worded that effectively and it makes sense) In the end, people are people and we all "
             "have a lot more in common than we do differences. ☮️"),
            ("Alastair Brewster", "@Rick Cummings I completely agree and thank you for your thoughtful response . I "
             "am Peruvian and yes I wise person can see the difference between government and people , but "
             "unfortunately some societies are more prone to propaganda , Russia , Peru , USA and the U.K. for "
             "example. But in their heart I believe every one is born equal and good but are corrupted by whichever "
             "society or bad that befalls them. This hopefully makes sense my syntax is not always perfect ."),
        ],
    ),
    (
        "Tea Drinker",
        "He was brave to criticize Putins war ,and smart to leave Russia.Falling out a window could have happened, "
        "now he has to avoid drinking tea☕, just in case🤔..🤣",
        [],
    ),
    (
        "Nora Quinn",
        "This is so dangerous for this man. I hope he can keep himself. Speaking like this can cost him his "
        "freedom or his life.",
        [("Erik Sand", "Right now he’s ok. Being in Kasakstan, he is just one of many targets – too many targets "
          "to cope with for the FSB. In fact, speaking up like this is a campaign move for opposition politicians "
          "in competition with each other to take over after Putin.")],
    ),
    (
        "Veteran Dad",
        "These men are being asked to throw their lives away for nothing. They’re treated like a resource like "
        "artillery rounds or tanks. Very little respect for the dignity of human life",
        [],
    ),
    ("Oksana P", "Deep condolences to all mother, father, children and family who lost their lives in this war. "
     "Slava Ukraine🇺🇦🇺🇦", []),
    (
        "Ruth Adler",
        "I really like Erin’s reporting, but I think the focus on asking if ordinary Russians are becoming aware of "
        "how chaotic the war effort is and how ill-trained the Russian army is the wrong question. There should be "
        "NO war underway. I think the question should be whether ordinary Russians are beginning to understand how "
        "ill-begotten this invasion and war is, and that they’ve been manipulated by their ‘leader’ – or what can "
        "be done to raise the alarm inside Russia for those who have been cut off from anything other than "
        "state-controlled media",
        [("Kevin Doyle", "Yes, I was thinking the same thing. I saw YouTube video today, on that subject. I won’t "
          "include the URL, since it might cause my comment to be deleted. The exact title is, “Do rural Russians "
          "know why their kids are sent to Ukraine?”\n\nThere seems to be a huge division on this subject in "
          "Russia. Those who are younger, active online, and live in large cities, tend to be more suspicious of "
          "the, causus belli. Those who are older, not computer literate, &/or live in rural areas, tend to believe "
          "Putin’s version of things. Let me know what you think of the video?")],
    ),
]


def _html(text: str) -> str:
    return "".join(f"<p>{escape(p, quote=False).replace(chr(10), '<br />')}</p>" for p in text.split("\n\n"))


def seed_comments(site: str = "news", post_id: int = 707) -> tuple[Page, list[Comment], dict[str, int]]:
    """The seed page as site comments: ids from 1001 in page order, replies minutes after their parents.

    Also returns ids by position: "3" is the third top-level comment, "3.2" its second reply.
    """
    page = Page(site, post_id, SEED_URL, SEED_TITLE, "More than 200,000 Russian citizens have arrived in Kazakhstan.")
    comments: list[Comment] = []
    ids: dict[str, int] = {}
    next_id = 1001
    for number, (author, text, replies) in enumerate(SEED, 1):
        top = next_id
        ids[str(number)] = top
        when = START + timedelta(minutes=23 * number)
        comments.append(_comment(site, post_id, top, 0, author, when, text))
        next_id += 1
        for r_number, (r_author, r_text) in enumerate(replies, 1):
            ids[f"{number}.{r_number}"] = next_id
            r_when = when + timedelta(minutes=40 * r_number + 3)
            comments.append(_comment(site, post_id, next_id, top, r_author, r_when, r_text))
            next_id += 1
    return page, comments, ids


def _comment(site: str, post_id: int, cid: int, parent: int, author: str, when: datetime, text: str) -> Comment:
    return Comment(site, cid, post_id, parent, author, when, _html(text), f"{SEED_URL}#comment-{cid}")


def seed_thread() -> tuple[Thread, dict[str, int]]:
    page, comments, ids = seed_comments()
    return thread_from_comments(page, comments), ids


def quotes_of(text: str) -> list[str]:
    return re.findall(r"“([^”]*(?:”[^”“]*)*?)”(?= —| ↔|$|\s<|\n)", text)


# -- the seed-shaped thread ---------------------------------------------------------------------------


def test_seed_thread_shape() -> None:
    thread, ids = seed_thread()
    st = analyze_structure(thread)
    assert len(st.items) == 25 and len(st.top_level) == 12 and st.people == 23
    # "@Javih Vv" answers Javih's reply, not the top-level comment WordPress hangs it under.
    by_key = {item.key: n for n, item in enumerate(st.items)}
    assert st.parent[by_key[f"c{ids['3.2']}"]] == by_key[f"c{ids['3.1']}"]
    assert st.parent[by_key[f"c{ids['7.3']}"]] == by_key[f"c{ids['7.2']}"]
    assert st.longest_chain == 4  # 7 → 7.1 → 7.2 → 7.3
    assert st.descendants[by_key[f"c{ids['3']}"]] == 3 and st.descendants[by_key[f"c{ids['7']}"]] == 3
    assert st.own_text(by_key[f"c{ids['3.2']}"]).startswith("No its’ not;")
    assert st.own_text(by_key[f"c{ids['7.1']}"]).startswith("well several reasons")  # "@Preußen " cut off


@pytest.mark.parametrize("length", ["short", "long"])
def test_main_points_include_the_most_replied_comments(length: str) -> None:
    thread, ids = seed_thread()
    digest = build_digest(thread, length)  # type: ignore[arg-type]
    keys = [p.key for p in digest.points]
    assert len(keys) == (3 if length == "short" else 5)
    assert f"c{ids['3']}" in keys and f"c{ids['7']}" in keys  # three replies each: the most of any
    assert digest.most_replied is not None and digest.most_replied.key in (f"c{ids['3']}", f"c{ids['7']}")
    assert all(p.label and p.quote and p.link.endswith(f"#comment-{p.key[1:]}") for p in digest.points)


def test_the_disagreement_detector_finds_the_pushback() -> None:
    thread, ids = seed_thread()
    digest = build_digest(thread, "long")
    found = {(d.claim_key, d.reply_key) for d in digest.disagreements}
    assert (f"c{ids['3.1']}", f"c{ids['3.2']}") in found  # "@Javih Vv No its’ not; ... baseless ..."
    assert digest.disagreements[0].reply_key == f"c{ids['3.2']}"
    assert build_digest(thread, "short").disagreements[0].reply_key == f"c{ids['3.2']}"
    assert "No its’ not" in digest.disagreements[0].pushback
    assert len(digest.disagreements) == 2
    assert len({d.reply_key for d in digest.disagreements}) == 2


def test_pushback_cues() -> None:
    pushback = [
        "No its’ not; if you have any actual evidence present it.",
        "I disagree, the numbers say otherwise.",
        "That’s not true at all.",
        "It wasn’t that calm. You could see the chop from the bridge.",
        "Not everything about it was a clown show.",
        "The first buses didn’t get stuck in the middle of a river though.",
        "It’s the safe failure mode, not the bug.",
    ]
    agreement = [
        "I completely agree and thank you for your thoughtful response.",
        "Exactly. Holding position was right.",
        "No argument there. The tow should have been quicker.",
        "Thanks Bea 👍",
        "Yes, I was thinking the same thing.",
        "ha, fair point.",
    ]
    for text in pushback:
        assert pushback_score(text) >= 1.25, text
    for text in agreement:
        assert pushback_score(text) < 1.25, text


@pytest.mark.parametrize("length", ["short", "long"])
def test_the_message_has_its_shape_fits_and_never_quotes_twice(length: str) -> None:
    thread, ids = seed_thread()
    text = render_digest(build_digest(thread, length), "offline summary", length)  # type: ignore[arg-type]
    assert units(text) <= 2000
    lines = text.split("\n")
    assert lines[0].startswith(f"Summary: {SEED_TITLE} · 25 comments by 23 people · 12 threads")
    assert "longest reply chain 4" in lines[0] and "27 Sep 2022 18:23–" in lines[0]
    assert lines[1] == "Main points:" and lines[2].startswith("1. ")
    assert "Disagreements:" in lines and any(line.startswith("Most replied: ") for line in lines)
    assert lines[-1] == "— offline summary"
    quotes = quotes_of(text)
    assert len(quotes) >= 4
    marks = ["".join(ch for ch in q.casefold() if ch.isalnum())[:40] for q in quotes]
    assert len(marks) == len(set(marks)), quotes
    assert f"#comment-{ids['3']}>" in text and f"#comment-{ids['7']}>" in text


def test_same_input_same_output_whatever_the_order() -> None:
    thread, _ = seed_thread()
    first = render_digest(build_digest(thread, "long"), "offline summary", "long")
    items = list(thread.items)
    random.Random(7).shuffle(items)
    shuffled = Thread(thread.title, thread.url, tuple(items))
    assert shuffled.content_hash() == thread.content_hash()
    assert render_digest(build_digest(shuffled, "long"), "offline summary", "long") == first
    again = subprocess.run(
        [sys.executable, "-c", "from tests.test_summarize import _render_seed; print(_render_seed(), end='')"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert again.stdout == first  # a fresh process, fresh hash seeds: same text


def _render_seed() -> str:
    thread, _ = seed_thread()
    return render_digest(build_digest(thread, "long"), "offline summary", "long")


def test_a_repeated_comment_is_never_quoted_twice() -> None:
    thread, _ = seed_thread()
    items = list(thread.items)
    base = items[0].created_at
    text = "Speaking out like that is dangerous when it comes to Putin. Hope this man stays safe and far away."
    for n in range(4):  # a copy-paste storm, each copy drawing replies
        key = f"x{n}"
        items.append(ThreadItem(key, None, f"Copier {n}", base + timedelta(hours=5, minutes=n), text, f"l/{key}"))
        reply_at = base + timedelta(hours=6, minutes=n)
        items.append(ThreadItem(f"{key}r", key, "Replier", reply_at, "Agreed, so true.", ""))
    bigger = Thread(thread.title, thread.url, tuple(items))
    out = render_digest(build_digest(bigger, "long"), "offline summary", "long")
    assert out.count("when it comes to Putin") <= 1


# -- small and odd threads -----------------------------------------------------------------------------


def test_an_empty_thread_says_so() -> None:
    text = render_digest(build_digest(Thread("Quiet post", "u", ()), "short"), "offline summary")
    assert text == "Summary: Quiet post · no comments yet, so there is nothing to summarize."


def test_a_one_comment_thread_says_so() -> None:
    page, comments, _ = seed_comments()
    thread = thread_from_comments(page, comments[:1])
    text = render_digest(build_digest(thread, "long"), "offline summary", "long")
    assert text.startswith(f"Summary: {SEED_TITLE} · 1 comment, by Dana Whitfield (27 Sep 2022 18:23 UTC)")
    assert "nothing to summarize yet" in text and "fall out of windows" in text and "#comment-1001>" in text


def test_two_comments_and_texts_without_words() -> None:
    when = START
    items = (
        ThreadItem("c1", None, "A", when, "👍👍", "l1"),
        ThreadItem("c2", "c1", "B", when + timedelta(minutes=5), "+1 🎉", "l2"),
    )
    text = render_digest(build_digest(Thread("Emoji", "u", items), "long"), "offline summary", "long")
    assert text.startswith("Summary: Emoji · 2 comments by 2 people · 1 thread · longest reply chain 2")
    assert units(text) <= 2000


def test_thread_per_comment_keeps_one_branch() -> None:
    page, comments, ids = seed_comments()
    thread = thread_from_comments(page, comments, root_comment_id=ids["7"])
    assert {i.key for i in thread.items} == {f"c{ids[k]}" for k in ("7", "7.1", "7.2", "7.3")}
    assert thread.title == f"Preußen on {SEED_TITLE}"
    text = render_digest(build_digest(thread, "short"), "offline summary")
    assert "4 comments by 3 people · 1 thread · longest reply chain 4" in text


def test_chat_only_messages_take_part() -> None:
    thread, ids = seed_thread()
    later = START + timedelta(hours=9)
    extra = (
        chat_item("discord", "9001", "Mod Mia", later, "I disagree, the evidence is clear.", f"c{ids['3.2']}"),
        chat_item("discord", "9002", "Lurker", later + timedelta(minutes=1), "Good thread.", None),
    )
    mixed = Thread(thread.title, thread.url, thread.items + extra)
    assert mixed.content_hash() != thread.content_hash()
    digest = build_digest(mixed, "long")
    assert digest.facts.comments == 27 and digest.facts.chat_messages == 2
    text = render_digest(digest, "offline summary", "long")
    assert "27 comments (incl. 2 in chat only) by 25 people" in text


def test_hostile_input_still_fits() -> None:
    when = START
    long_title = "Breaking: " + "very " * 200 + "long title @everyone"
    items = tuple(
        ThreadItem(
            f"c{n}",
            None if n % 3 == 0 else f"c{n - n % 3}",
            f"Author {n} " + "x" * 60,
            when + timedelta(minutes=n),
            ("@everyone " if n == 0 else "") + ("Wordy sentence without an end " * 40) + f" topic{n}",
            "https://example.test/" + "p" * 150 + f"#comment-{n}",
        )
        for n in range(30)
    )
    for length in ("short", "long"):
        text = render_digest(build_digest(Thread(long_title, "u", items), length), "offline summary", length)  # type: ignore[arg-type]
        assert units(text) <= 2000
        assert "@everyone" not in text  # neutralized: pings nobody
    emoji = tuple(
        ThreadItem(f"c{n}", None, "E", when + timedelta(minutes=n), "🇺🇦" * 400 + f" word{n} shared words here", "")
        for n in range(10)
    )
    text = render_digest(build_digest(Thread("Flags", "u", emoji), "long"), "offline summary", "long")
    assert units(text) <= 2000


def test_stop_words_handle_curly_apostrophes() -> None:
    stop = stop_words()
    for text in ("I don’t think it’s Putin’s fault, they’re wrong", "I don't think it's Putin's fault, they're wrong"):
        terms = content_terms(text, stop)
        assert "putin" in terms and "fault" in terms and "wrong" in terms
        assert not {"don", "t", "s", "re", "it's", "don't", "they're", "putin's"} & set(terms)
    assert words("O’Malley’s") == ["o'malley's"]
    assert "putin fault" in content_terms("Putin’s fault", stop)
    assert "calm imagine" not in content_terms("The water was calm. Imagine November.", stop)


def test_time_span_wording() -> None:
    a = datetime(2026, 3, 10, 10, 10, tzinfo=UTC)
    assert time_span(a, a + timedelta(hours=4, minutes=28)) == "10 Mar 2026 10:10–14:38 UTC (4 h 28 min)"
    assert time_span(a, a + timedelta(days=2, hours=1)) == "10 Mar 10:10 – 12 Mar 2026 11:10 UTC (2 d 1 h)"
    assert time_span(a, a) == "10 Mar 2026 10:10 UTC"


# -- big threads ---------------------------------------------------------------------------------------


def test_a_big_thread_is_grouped_into_topics_and_fits() -> None:
    thread = synthetic_thread(2000, seed=3)
    digest = build_digest(thread, "long")
    assert digest.topics and len(digest.points) == 5
    assert digest.facts.comments == 2000
    text = render_digest(digest, "offline summary", "long")
    assert units(text) <= 2000 and text.count("comments): “") == 5
    quotes = [p.quote for p in digest.points]
    assert len(set(quotes)) == len(quotes)
    assert render_digest(build_digest(thread, "long"), "offline summary", "long") == text


def test_the_heavy_libraries_load_only_when_a_summary_is_made() -> None:
    code = (
        "import sys; import bot.core.app, bot.commands.summarize, bot.summarize; "
        "print(sorted(m for m in ('sklearn', 'numpy', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
