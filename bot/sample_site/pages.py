"""The sample site's HTML: a home page listing the posts and a post page with its approved comments.

The comment list uses the markup of WordPress's classic themes (Twenty Twenty-One): `ol.comment-list` >
`li#comment-N.comment.depth-K` > `article.comment-body` with `b.fn`, `.comment-metadata time[datetime]` and
`.comment-content`, replies in `ol.children`. Every page names the API root in a `<link rel="https://api.w.org/">`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .discussion import SITE_NAME, SITE_TAGLINE
from .rest import esc
from .wpformat import avatar_urls, comment_text, convert_chars, format_wp_date, wptexturize

if TYPE_CHECKING:
    from .server import SampleSite, SiteComment, SitePost

__all__ = ["approved_comments", "home_body", "not_found_body", "post_body", "render_page"]


def render_page(
    site: SampleSite, title: str, body: str, *, post: SitePost | None = None, home: bool = False
) -> str:
    head_title = (
        esc(SITE_NAME) if home else f"{convert_chars(wptexturize(esc(title)))} &#8211; {esc(SITE_NAME)}"
    )
    extra = ""
    body_class = "home blog" if home else "error404"
    if post is not None:
        api_link = site.rest_url(f"wp/v2/posts/{post.id}")
        extra = (
            f'<link rel="alternate" type="application/json" href="{api_link}" />\n'
            f'<link rel="canonical" href="{site.post_link(post)}" />\n'
            f"<link rel='shortlink' href='{site.base_url}/?p={post.id}' />\n"
        )
        body_class = f"post-template-default single single-post postid-{post.id} single-format-standard"
    return f"""<!doctype html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{head_title}</title>
<link rel="https://api.w.org/" href="{site.api_root}" />
{extra}<style>
body{{font-family:Georgia,serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}}
a{{color:#1a5e8a}} .site-title{{font-size:1.6rem;font-weight:bold}}
.site-description{{color:#666;margin-top:0}}
ol.comment-list,ol.children{{list-style:none;padding-left:0}} ol.children{{margin-left:2rem}}
.comment-body{{border-top:1px solid #ddd;padding:.6rem 0}} .comment-meta{{font-size:.9rem;color:#555}}
.comment-author img{{vertical-align:middle;border-radius:50%;margin-right:.4rem}} .says{{display:none}}
blockquote{{border-left:3px solid #ccc;margin-left:0;padding-left:1rem;color:#555}}
</style>
</head>
<body class="{body_class}">
<div id="page" class="site">
<header id="masthead" class="site-header">
<p class="site-title"><a href="{site.base_url}/">{esc(SITE_NAME)}</a></p>
<p class="site-description">{esc(SITE_TAGLINE)}</p>
</header>
<main id="main" class="site-main">
{body}
</main>
<footer id="colophon" class="site-footer"><div class="site-info">A sample site for Thread Mirror. \
Proudly pretending to be <a href="https://wordpress.org/">WordPress</a>.</div></footer>
</div>
</body>
</html>
"""


def approved_comments(site: SampleSite, post_id: int) -> list[SiteComment]:
    return [c for c in site.comments.values() if c.post == post_id and c.status == "approved"]


def home_body(site: SampleSite) -> str:
    items = []
    for post in sorted(site.posts.values(), key=lambda p: p.date_gmt, reverse=True):
        count = len(approved_comments(site, post.id))
        items.append(
            f'<article id="post-{post.id}" class="post-{post.id} post type-post status-publish entry">\n'
            f'<header class="entry-header"><h2 class="entry-title"><a href="{site.post_link(post)}">'
            f"{convert_chars(wptexturize(esc(post.title)))}</a></h2></header>\n"
            f'<div class="entry-content">{site.post_excerpt(post)}</div>\n'
            f'<footer class="entry-footer"><time datetime="{post.date_gmt.isoformat()}">'
            f"{format_wp_date(post.date_gmt)}</time> · "
            f'<a href="{site.post_link(post)}#comments">{count} comments</a></footer>\n</article>'
        )
    return "\n".join(items)


def not_found_body() -> str:
    return (
        '<section class="error-404 not-found"><h1 class="page-title">Nothing here</h1>'
        "<p>It looks like nothing was found at this location.</p></section>"
    )


def post_body(site: SampleSite, post: SitePost) -> str:
    _, rendered = site.post_content(post)
    comments = approved_comments(site, post.id)
    visible = {c.id for c in comments}
    children: dict[int, list[SiteComment]] = {}
    for comment in sorted(comments, key=lambda c: (c.date_gmt, c.id)):
        parent = comment.parent if comment.parent in visible else 0  # orphans show at the top level
        children.setdefault(parent, []).append(comment)
    counters = {"alt": 0, "thread": 0}
    lines: list[str] = []

    def render(comment: SiteComment, depth: int) -> None:
        classes = ["comment"]
        if comment.user_id:
            user = site.users.get(comment.user_id)
            classes += ["byuser", f"comment-author-{user.slug if user else comment.user_id}"]
            if comment.user_id == post.author:
                classes.append("bypostauthor")
        classes += ["odd", "alt"] if counters["alt"] % 2 else ["even"]
        counters["alt"] += 1
        if depth == 1:
            classes += ["thread-odd", "thread-alt"] if counters["thread"] % 2 else ["thread-even"]
            counters["thread"] += 1
        classes.append(f"depth-{depth}")
        kids = children.get(comment.id, [])
        if kids:
            classes.append("parent")
        avatar = avatar_urls(comment.author_email)["96"].replace("s=96", "s=60")
        name = comment.author_name
        if comment.author_url:
            name = f"<a href='{esc(comment.author_url)}' class='url' rel='ugc external nofollow'>{name}</a>"
        link = site.comment_link(comment)
        stamp = comment.date_gmt.isoformat()
        lines.append(
            f'<li id="comment-{comment.id}" class="{" ".join(classes)}">\n'
            f'<article id="div-comment-{comment.id}" class="comment-body">\n'
            f'<footer class="comment-meta">\n<div class="comment-author vcard">'
            f"<img alt='' src='{avatar.replace('&', '&#038;')}' class='avatar avatar-60 photo' height='60' "
            f"width='60' loading='lazy' decoding='async'/> <b class=\"fn\">{name}</b> "
            f'<span class="says">says:</span></div>\n'
            f'<div class="comment-metadata"><a href="{link}"><time datetime="{stamp}">'
            f"{format_wp_date(comment.date_gmt)}</time></a></div>\n</footer>\n"
            f'<div class="comment-content">\n{comment_text(comment.content, site.base_url)}</div>\n'
            f"<div class=\"reply\"><a rel='nofollow' class='comment-reply-link' "
            f"href='{site.post_link(post)}?replytocom={comment.id}#respond' data-commentid=\"{comment.id}\" "
            f'data-postid="{post.id}">Reply</a></div>\n</article>'
        )
        if kids:
            lines.append('<ol class="children">')
            for kid in kids:
                render(kid, depth + 1)
            lines.append("</ol><!-- .children -->")
        lines.append("</li><!-- #comment-## -->")

    for top in children.get(0, []):
        render(top, 1)
    title = convert_chars(wptexturize(esc(post.title)))
    count = len(comments)
    return (
        f'<article id="post-{post.id}" class="post-{post.id} post type-post status-publish format-standard '
        f'hentry entry">\n<header class="entry-header"><h1 class="entry-title">{title}</h1></header>\n'
        f'<div class="entry-content">{rendered}</div>\n'
        f'<footer class="entry-footer"><span class="posted-on">Published <time class="entry-date published '
        f'updated" datetime="{post.date_gmt.isoformat()}">{format_wp_date(post.date_gmt)}</time></span>'
        f"</footer>\n</article>\n"
        f'<div id="comments" class="comments-area default-max-width show-avatars">\n'
        f'<h2 class="comments-title">{count} comments on &ldquo;{title}&rdquo;</h2>\n'
        f'<ol class="comment-list">\n'
        + "\n".join(lines)
        + "\n</ol><!-- .comment-list -->\n</div><!-- #comments -->"
    )
