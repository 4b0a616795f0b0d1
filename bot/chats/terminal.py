"""The terminal chat: mirrored threads printed to stdout, replies typed on stdin.

It is the demo's chat and a local console for admins. Message and thread refs are
derived from the outbox key, so a retried delivery is recognised and not printed twice.
People refer to messages by short session numbers (#12) that map to those refs.
"""

from __future__ import annotations

import asyncio
import hashlib
import shlex
import sys
import threading
import uuid
from typing import TextIO

from bot.chats.base import ChatEvents
from bot.config import TerminalChat as TerminalSettings
from bot.convert import html_to_markdown, neutralize_mentions, split_message
from bot.models import ChatDelete, ChatEdit, ChatMessage, CommandCall, MirroredComment, ThreadHeader

HELP = """Terminal commands:
  threads                 list the mirrored threads
  reply <#msg> <text>     answer a message (it goes to the site under that comment)
  post <thread> <text>    write in a thread without answering anyone
  edit <#msg> <text>      change your message (and its copy on the site)
  delete <#msg>           remove your message (and trash its copy on the site)
  name <your name>        how your replies are signed ("<name> (via terminal)")
  mirror ...              admin commands: mirror help for the list
  summarize <thread> [short|long]   a summary of a thread's discussion
  help, quit"""

FIRST_ARG = {"mirror add": "url"}


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


class TerminalChat:
    label = "terminal"
    max_message_length = 4000

    def __init__(
        self,
        settings: TerminalSettings | None = None,
        name: str = "terminal",
        output: TextIO | None = None,
        input_stream: TextIO | None = None,
    ) -> None:
        settings = settings or TerminalSettings()
        self.name = name
        self.user_name = settings.user_name
        self.out = output or sys.stdout
        self.input_stream = input_stream
        use_color = settings.color if settings.color is not None else self.out.isatty()
        self._c = {
            "bold": "\033[1m",
            "dim": "\033[2m",
            "cyan": "\033[36m",
            "green": "\033[32m",
            "off": "\033[0m",
        }
        if not use_color:
            self._c = dict.fromkeys(self._c, "")
        self.events: ChatEvents | None = None
        self.quit_requested = asyncio.Event()
        self.thread_numbers: dict[str, int] = {}
        self.thread_channels: dict[str, str] = {}
        self.message_numbers: dict[str, int] = {}
        self.message_threads: dict[str, str] = {}
        self.own_messages: set[str] = set()
        self._reader: asyncio.Task[None] | None = None

    # -- output ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _thread_no(self, thread_ref: str) -> int:
        return self.thread_numbers.setdefault(thread_ref, len(self.thread_numbers) + 1)

    def _message_no(self, message_ref: str, thread_ref: str) -> int:
        self.message_threads[message_ref] = thread_ref
        return self.message_numbers.setdefault(message_ref, len(self.message_numbers) + 1)

    # -- ChatAdapter -------------------------------------------------------------------

    async def start(self, events: ChatEvents) -> None:
        self.events = events
        if self.input_stream is not None:
            self._reader = asyncio.create_task(self._read_lines(self.input_stream))
        self.say(f"{self._c['dim']}Terminal chat ready. Type `help` for commands.{self._c['off']}")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()

    async def health(self) -> str | None:
        return None

    async def open_thread(self, channel: str, header: ThreadHeader, key: str) -> str:
        ref = _ref("t", key)
        if ref not in self.thread_numbers:
            number = self._thread_no(ref)
            self.thread_channels[ref] = channel
            c = self._c
            self.say(f"\n{c['bold']}{c['cyan']}══ [{number}] {header.title} ══{c['off']}")
            self.say(f"   {header.page.url}")
            if header.page.excerpt:
                self.say(f"   {c['dim']}{header.page.excerpt}{c['off']}")
        return ref

    def _render(self, message: MirroredComment) -> list[str]:
        body = neutralize_mentions(html_to_markdown(message.comment.html))
        return split_message(body, self.max_message_length) or [""]

    def _print_message(self, thread_ref: str, ref: str, author: str, when: str, text: str, note: str = "") -> None:
        c = self._c
        thread_no, number = self._thread_no(thread_ref), self._message_no(ref, thread_ref)
        self.say(
            f"{c['dim']}[{thread_no}]{c['off']} #{number} {c['bold']}{author}{c['off']} {c['dim']}{when}{c['off']}"
            + (f"  {note}" if note else "")
        )
        for line in text.splitlines() or [""]:
            self.say(f"    {line}")

    async def send_comment(
        self, channel: str, thread_ref: str, message: MirroredComment, key: str, resuming: bool
    ) -> list[str]:
        parts = self._render(message)
        refs = [_ref("m", f"{key}:{i}") for i in range(len(parts))]
        self.thread_channels.setdefault(thread_ref, channel)
        comment = message.comment
        when = comment.created_at.strftime("%H:%M UTC")
        note = ""
        if message.parent is not None:
            note = f"{self._c['green']}↪ {message.parent.author_name}: “{message.parent.excerpt}”{self._c['off']}"
        for index, (ref, text) in enumerate(zip(refs, parts, strict=True)):
            if ref in self.message_numbers:
                continue  # printed before this retry
            suffix = f" ({index + 1}/{len(parts)})" if len(parts) > 1 else ""
            self._print_message(thread_ref, ref, comment.author_name + suffix, when, text, note if index == 0 else "")
        return refs

    async def edit_comment(
        self, channel: str, thread_ref: str, refs: list[str], message: MirroredComment, key: str
    ) -> list[str]:
        parts = self._render(message)
        new_refs = refs[: len(parts)] + [_ref("m", f"{key}:{i}") for i in range(len(refs), len(parts))]
        for ref, text in zip(new_refs, parts, strict=True):
            self._print_message(thread_ref, ref, message.comment.author_name, "(edited on the site)", text)
        return new_refs

    async def delete_messages(self, channel: str, thread_ref: str, refs: list[str]) -> None:
        numbers = ", ".join(f"#{self._message_no(r, thread_ref)}" for r in refs)
        self.say(f"{self._c['dim']}[{self._thread_no(thread_ref)}] {numbers} was removed from the site{self._c['off']}")

    # -- input -------------------------------------------------------------------------

    async def _read_lines(self, stream: TextIO) -> None:
        """Read stdin on a helper thread, so a blocking read never stalls the event loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def pump() -> None:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="terminal-input", daemon=True).start()
        while (line := await queue.get()) is not None:
            try:
                await self.handle_line(line)
            except Exception as exc:  # a typo must never take the bot down
                self.say(f"error: {exc}")

    async def handle_line(self, line: str) -> None:
        words = line.strip().split(maxsplit=2)
        if not words:
            return
        verb = words[0].lower().lstrip("/")
        if verb in ("help", "?"):
            self.say(HELP)
        elif verb in ("quit", "exit"):
            self.quit_requested.set()
        elif verb == "threads":
            self._list_threads()
        elif verb == "name" and len(words) > 1:
            self.user_name = line.strip().split(maxsplit=1)[1]
            self.say(f"You are now {self.user_name}.")
        elif verb in ("reply", "post", "edit") and len(words) == 3:
            await self._write(verb, words[1].lstrip("#"), words[2])
        elif verb == "delete" and len(words) == 2:
            await self._delete(words[1].lstrip("#"))
        elif verb == "mirror":
            await self._command(line.strip().lstrip("/"))
        elif verb == "summarize":
            await self._summarize(line.split()[1:])
        else:
            self.say("Not understood. Type `help`.")

    def _list_threads(self) -> None:
        if not self.thread_numbers:
            self.say("No threads yet.")
        for ref, number in self.thread_numbers.items():
            messages = sum(1 for t in self.message_threads.values() if t == ref)
            self.say(f"  [{number}] {messages} message(s)")

    def _message_by_number(self, number: str) -> str | None:
        for ref, n in self.message_numbers.items():
            if str(n) == number:
                return ref
        self.say(f"No message #{number}.")
        return None

    async def _write(self, verb: str, target: str, text: str) -> None:
        if verb == "post":
            thread_ref = next((r for r, n in self.thread_numbers.items() if str(n) == target), None)
            reply_to = None
            if thread_ref is None:
                self.say(f"No thread [{target}]. Type `threads`.")
                return
        else:
            reply_to = self._message_by_number(target)
            if reply_to is None:
                return
            thread_ref = self.message_threads[reply_to]
        if verb == "edit":
            if reply_to not in self.own_messages:
                self.say("You can only edit your own messages.")
                return
            self._print_message(thread_ref, reply_to, self.user_name, "(edited)", text)
            await self._emit(ChatEdit(self.name, reply_to, text))
            return
        ref = f"u-{uuid.uuid4().hex[:12]}"
        self.own_messages.add(ref)
        self._print_message(thread_ref, ref, self.user_name, "(you)", text)
        await self._emit(
            ChatMessage(
                chat=self.name,
                channel=self.thread_channels.get(thread_ref, ""),
                thread_ref=thread_ref,
                message_ref=ref,
                author_name=self.user_name,
                author_id=self.user_name,
                text=text,
                reply_to_ref=reply_to,
            )
        )

    async def _delete(self, target: str) -> None:
        ref = self._message_by_number(target)
        if ref is None:
            return
        if ref not in self.own_messages:
            self.say("You can only delete your own messages.")
            return
        self.say(f"#{target} deleted.")
        await self._emit(ChatDelete(self.name, ref))

    async def _emit(self, event: ChatMessage | ChatEdit | ChatDelete) -> None:
        if self.events is not None:
            await self.events.on_chat_event(event)

    async def _command(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.say(f"error: {exc}")
            return
        if len(words) < 2 or words[1] == "help":
            name, rest = "help", []
        else:
            name, rest = f"{words[0]} {words[1]}", words[2:]
        args: dict[str, str] = {}
        for word in rest:
            key, sep, value = word.partition("=")
            if sep:
                args[key] = value
            else:
                args.setdefault(FIRST_ARG.get(name, "name"), word)
        if self.events is None:
            return
        await self.events.on_command(
            CommandCall(
                chat=self.name,
                channel=args.pop("channel", "") or "terminal",
                thread_ref=None,
                user_name=self.user_name,
                user_id="local",
                is_admin=True,  # the terminal is the operator's own
                name=name,
                args=args,
                respond=self._respond,
            )
        )

    async def _summarize(self, words: list[str]) -> None:
        """`summarize <thread> [short|long]`; the thread may be left out when there is only one."""
        number = next((w.strip("[]#") for w in words if w.strip("[]#").isdigit()), None)
        args: dict[str, str] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if sep:
                args[key] = value
        length = next((w.lower() for w in words if w.lower() in ("short", "long")), None)
        if length:
            args["length"] = length
        if number is None and len(self.thread_numbers) == 1:
            number = str(next(iter(self.thread_numbers.values())))
        thread_ref = next((r for r, n in self.thread_numbers.items() if str(n) == number), None)
        if thread_ref is None:
            which = f"No thread [{number}]" if number else "Which thread?"
            self.say(f"{which} Type `threads`, then: summarize <thread> [short|long]")
            return
        if self.events is None:
            return
        await self.events.on_command(
            CommandCall(
                chat=self.name,
                channel=self.thread_channels.get(thread_ref, "terminal"),
                thread_ref=thread_ref,
                user_name=self.user_name,
                user_id="local",
                is_admin=True,
                name="summarize",
                args=args,
                respond=self._respond,
            )
        )

    async def _respond(self, text: str) -> None:
        self.say(text)
