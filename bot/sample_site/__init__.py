"""The bundled sample site: a made-up news discussion served through WordPress's REST API shapes.

`make run` and the tests use it instead of a real WordPress::

    site = SampleSite(port=0, interval=4.0, seed=1)
    base_url = await site.start()   # http://127.0.0.1:PORT, REST API root at BASE/wp-json/
    ...
    await site.stop()

The bot logs in as `BOT_USERNAME` with `BOT_APP_PASSWORD` (HTTP Basic, an editor, user id `BOT_USER_ID`).
`python -m bot.sample_site --port 8089` serves it on its own.
"""

from .discussion import SITE_NAME
from .rest import RestError
from .server import (
    BOT_APP_PASSWORD,
    BOT_EMAIL,
    BOT_USER_ID,
    BOT_USERNAME,
    MAIN_POST_ID,
    SECOND_POST_ID,
    SampleSite,
    SiteComment,
    SitePost,
    SiteUser,
)

__all__ = [
    "BOT_APP_PASSWORD",
    "BOT_EMAIL",
    "BOT_USERNAME",
    "BOT_USER_ID",
    "MAIN_POST_ID",
    "SECOND_POST_ID",
    "SITE_NAME",
    "RestError",
    "SampleSite",
    "SiteComment",
    "SitePost",
    "SiteUser",
]
