"""Config loading: good configs load, broken ones explain themselves in one line."""

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, load_config

GOOD = """
sites:
  blog:
    url: https://blog.example.org
    username: mirrorbot
    app_password: ${WP_APP_PASSWORD}
chats:
  terminal: {enabled: true}
mirrors:
  - name: blog-all
    site: blog
    relay: off
    targets: [{chat: terminal, channel: main}]
"""

BROKEN = {
    "unknown top-level key": ("sitez: {}\n" + GOOD, "sitez", "unknown key"),
    "misspelt site key": (GOOD.replace("username:", "user_name:"), "sites.blog.user_name", "unknown key"),
    "bad url": (GOOD.replace("https://blog.example.org", "blog.example.org"), "sites.blog.url", "http"),
    "missing secret": (GOOD, "sites.blog.app_password", "WP_APP_PASSWORD"),
    "wrong type": (
        GOOD.replace("url: https", "poll_interval: soon\n    url: https"),
        "sites.blog.poll_interval",
        "number",
    ),
    "negative interval": (
        GOOD.replace("url: https", "poll_interval: -5\n    url: https"),
        "sites.blog.poll_interval",
        "larger",
    ),
    "bad relay": (GOOD.replace("relay: off", "relay: sometimes"), "mirrors[0].relay", "one of"),
    "bad thread_per": (
        GOOD.replace("relay: off", "relay: off\n    thread_per: post"),
        "mirrors[0].thread_per",
        "one of",
    ),
    "unknown site": (GOOD.replace("site: blog", "site: news"), "mirrors[0].site", "blog"),
    "unknown chat": (GOOD.replace("chat: terminal", "chat: discord"), "mirrors[0].targets[0].chat", "chats"),
    "no targets": (
        GOOD.replace("targets: [{chat: terminal, channel: main}]", "targets: []"),
        "mirrors[0].targets",
        "add",
    ),
    "duplicate mirror names": (GOOD + GOOD[GOOD.index("  - name") :], "mirrors[1].name", "own name"),
    "password without user": (GOOD.replace("    username: mirrorbot\n", ""), "sites.blog", "both"),
    "relay without password": (
        GOOD.replace("    username: mirrorbot\n    app_password: ${WP_APP_PASSWORD}\n", "").replace(
            "relay: off", "relay: approved"
        ),
        "mirrors[0].relay",
        "relay: off",
    ),
    "bad mirror name": (GOOD.replace("name: blog-all", "name: Blog All!"), "mirrors[0].name", "lowercase"),
    "not yaml": ("sites: [unclosed\n", "line", "YAML"),
    "empty file": ("", "(top level)", "example"),
    "no sites": ("sites: {}\n", "sites", "add"),
    "list instead of mapping": (
        GOOD.replace("chats:\n  terminal: {enabled: true}", "chats: [terminal]"),
        "chats",
        "mapping",
    ),
    "bad log level": ("log_level: loud\n" + GOOD, "log_level", "one of"),
    "http port out of range": ("http: {port: 99999}\n" + GOOD, "http.port", "less than"),
    "negative relay limit": ("relay: {per_user: -1}\n" + GOOD, "relay.per_user", "greater"),
    "allow_private not a list": ("network: {allow_private: 10.0.0.0/8}\n" + GOOD, "network.allow_private", "list"),
    "matrix id without server": (
        GOOD.replace("chats:\n", "chats:\n  matrix: {homeserver: 'https://m.org', user_id: mirror, password: x}\n"),
        "chats.matrix.user_id",
        "pattern",
    ),
    "discord without token": (
        GOOD.replace("chats:\n", "chats:\n  discord: {guilds: [1]}\n"),
        "chats.discord.token",
        "required",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_config_gives_one_line_naming_file_key_and_fix(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text, key, hint = BROKEN[name]
    if name != "missing secret":
        monkeypatch.setenv("WP_APP_PASSWORD", "abcd efgh ijkl mnop")
    else:
        monkeypatch.delenv("WP_APP_PASSWORD", raising=False)
    path = tmp_path / "config.yaml"
    path.write_text(text)
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert str(path) in err and key in err and "fix:" in err
    assert hint.lower() in err.lower()


def test_secrets_come_from_env_or_a_secrets_file_and_never_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WP_APP_PASSWORD", raising=False)
    secrets = tmp_path / "secrets.env"
    secrets.write_text("# the bot's WordPress password\nexport WP_APP_PASSWORD='abcd efgh ijkl mnop'\n")
    path = tmp_path / "config.yaml"
    path.write_text(GOOD)
    config = load_config(path, secrets)
    site = config.sites["blog"]
    assert site.app_password is not None and site.app_password.get_secret_value() == "abcd efgh ijkl mnop"
    assert "abcd" not in repr(config) and "abcd" not in str(site)
    monkeypatch.setenv("WP_APP_PASSWORD", "from env wins")
    assert load_config(path, secrets).secret_values() == ["from env wins"]


def test_yaml_off_means_relay_off_and_defaults_apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WP_APP_PASSWORD", "x")
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    mirror = load_config(path).mirrors[0]
    assert mirror.relay == "off" and mirror.thread_per == "page" and mirror.pages == "all"


def test_the_shipped_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WP_APP_PASSWORD", "x")
    config = load_config(Path(__file__).parent.parent / "config.yaml")
    assert config.mirrors[0].targets[0].chat == "terminal"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
