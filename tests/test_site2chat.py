"""Planning site → chat deliveries (pure)."""

from datetime import UTC, datetime, timedelta

from bot.core.mirrors import MirrorSpec, Target
from bot.core.site2chat import content_hash, plan_poll, thread_root
from bot.models import Comment
from bot.store import StoredComment

T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
TERMINAL = Target("terminal", "main")
MATRIX = Target("matrix", "!room")


def comment(cid: int, parent: int = 0, post: int = 4, html: str | None = None, minutes: int = 0) -> Comment:
    return Comment(
        site="blog",
        id=cid,
        post_id=post,
        parent_id=parent,
        author_name=f"Author {cid}",
        created_at=T0 + timedelta(minutes=minutes or cid),
        html=html or f"<p>comment {cid}</p>\n",
        link=f"http://blog.test/post-{post}/#comment-{cid}",
    )


def stored(c: Comment, generation: int = 0) -> StoredComment:
    return StoredComment(c, content_hash(c.html), generation)


def mirror(**kw: object) -> MirrorSpec:
    base: dict[str, object] = {"name": "m", "site": "blog", "targets": (TERMINAL,)}
    base.update(kw)
    return MirrorSpec(**base)  # type: ignore[arg-type]


def kinds(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [j.kind for j in plan.jobs]


def test_new_comments_open_one_thread_per_page_and_post_in_order() -> None:
    seen = [comment(1), comment(2, parent=1), comment(3)]
    plan = plan_poll(seen, {}, [mirror()], set())
    assert plan.new == 3
    posts = [j for j in plan.jobs if j.kind == "post_comment"]
    assert [j.payload["comment_id"] for j in posts] == [1, 2, 3]
    assert {j.lane for j in plan.jobs} == {"thread:terminal:main:blog:4:0"}
    assert len({j.key for j in plan.jobs if j.kind == "open_thread"}) == 1


def test_unchanged_comments_plan_the_same_keys_again() -> None:
    seen = [comment(1), comment(2)]
    first = plan_poll(seen, {}, [mirror()], set())
    again = plan_poll(seen, {c.id: stored(c) for c in seen}, [mirror()], set())
    assert again.new == 0 and again.upserts == []
    assert {j.key for j in again.jobs} <= {j.key for j in first.jobs}


def test_comment_already_in_a_chat_is_not_sent_there_again() -> None:
    relayed = comment(7)
    plan = plan_poll([relayed], {}, [mirror(targets=(TERMINAL, MATRIX))], {(7, "terminal", "main")})
    assert {j.payload["chat"] for j in plan.jobs if j.kind == "post_comment"} == {"matrix"}


def test_edit_is_planned_for_every_target() -> None:
    old = comment(1)
    new = comment(1, html="<p>changed</p>\n")
    plan = plan_poll([new], {1: stored(old)}, [mirror(targets=(TERMINAL, MATRIX))], {(1, "terminal", "main")})
    assert plan.edited == 1
    assert sorted(j.payload["chat"] for j in plan.jobs if j.kind == "edit_comment") == ["matrix", "terminal"]
    assert plan.upserts[0][1] == content_hash("<p>changed</p>\n")


def test_missing_from_a_full_window_means_removed() -> None:
    gone, kept = comment(1), comment(2)
    known = {1: stored(gone), 2: stored(kept)}
    plan = plan_poll([kept], known, [mirror()], set(), window_start=T0)
    assert plan.removed == 1
    assert [j.payload["comment_id"] for j in plan.jobs if j.kind == "delete_comment"] == [1]
    assert plan.upserts[-1][0].status == "deleted"


def test_comments_older_than_the_window_are_not_declared_removed() -> None:
    old = comment(1, minutes=1)
    plan = plan_poll([], {1: stored(old)}, [mirror()], set(), window_start=T0 + timedelta(hours=1))
    assert plan.removed == 0 and plan.jobs == []


def test_a_returning_comment_gets_a_new_generation() -> None:
    c = comment(1)
    removed = StoredComment(c.__class__(**{**c.__dict__, "status": "deleted"}), content_hash(c.html), 0)
    plan = plan_poll([c], {1: removed}, [mirror()], set())
    assert plan.upserts[0][2] == 1
    assert any(j.key.endswith(":g1") for j in plan.jobs if j.kind == "post_comment")


def test_thread_per_comment_uses_the_top_level_ancestor() -> None:
    seen = [comment(1), comment(2, parent=1), comment(3, parent=2), comment(4)]
    plan = plan_poll(seen, {}, [mirror(thread_per="comment")], set())
    roots = {j.payload["comment_id"]: j.payload["root"] for j in plan.jobs if j.kind == "post_comment"}
    assert roots == {1: 1, 2: 1, 3: 1, 4: 4}


def test_thread_root_survives_a_parent_loop() -> None:
    assert thread_root(1, {1: 2, 2: 1}) in (1, 2)


def test_paused_and_uncovered_mirrors_plan_nothing() -> None:
    seen = [comment(1, post=4), comment(2, post=5)]
    assert plan_poll(seen, {}, [mirror(paused=True)], set()).jobs == []
    only_five = plan_poll(seen, {}, [mirror(pages=(5,))], set())
    assert {j.payload["comment_id"] for j in only_five.jobs if j.kind == "post_comment"} == {2}
    by_url = plan_poll(seen, {}, [mirror(pages=("http://blog.test/post-4",))], set())
    assert {j.payload["comment_id"] for j in by_url.jobs if j.kind == "post_comment"} == {1}
    by_pattern = plan_poll(seen, {}, [mirror(url_pattern="http://blog.test/post-5*")], set())
    assert {j.payload["comment_id"] for j in by_pattern.jobs if j.kind == "post_comment"} == {2}


def test_known_comments_are_posted_only_while_a_mirror_catches_up() -> None:
    seen = [comment(1), comment(2)]
    known = {c.id: stored(c) for c in seen}
    settled = plan_poll(seen, known, [mirror(backfilled=True)], set())
    assert settled.jobs == []  # a re-read of the edit window is no backfill
    catching_up = plan_poll(seen, known, [mirror(backfilled=False)], set())
    assert len([j for j in catching_up.jobs if j.kind == "post_comment"]) == 2
    now = T0 + timedelta(days=2)
    recent_only = plan_poll([*seen, comment(3, minutes=60 * 47)], known, [mirror(backfill_days=1)], set(), now=now)
    assert [j.payload["comment_id"] for j in recent_only.jobs if j.kind == "post_comment"] == [3]


def test_a_mirror_s_backfill_window_holds_even_when_another_mirror_lists_everything() -> None:
    old, recent = comment(1), comment(2, minutes=60 * 47)
    everything = mirror(name="all", targets=(MATRIX,))
    recent_only = mirror(name="recent", backfill_days=1)
    plan = plan_poll([old, recent], {}, [everything, recent_only], set(), now=T0 + timedelta(days=2))
    posts = {(j.payload["chat"], j.payload["comment_id"]) for j in plan.jobs if j.kind == "post_comment"}
    assert posts == {("matrix", 1), ("matrix", 2), ("terminal", 2)}
