"""Delivering signing invitations to the party's phone of record, never to the drafter.

The drafter types the parties' names and ID numbers into the draft, so those alone prove
nothing about who holds the phone. The platform therefore sends each invitation link by SMS
to the mobile number of record (实名登记的手机号, from the police's identity extract) of the
ID number the draft names, and tells the drafter only that it was sent and where (masked).
A phone number the drafter typed into the contract is never used.

The messages go out through an SMS gateway's spool directory in the file format of SMS Server
Tools 3 (``smsd``: a ``To:`` header, a blank line, the text), the gateway Debian packages as
``smstools``. A message is staged in the transaction that issues its invitation and moved
into the outgoing directory (one rename) only after that transaction commits, so no phone
receives a link to an invitation that does not exist; a message staged by a process that
died before moving it is moved or dropped when the platform next starts
(``SpoolCourier.recover``), by whether its invitation was committed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

from signing.render import beijing_time

COUNTRY_CODE = "86"  # smsd takes numbers in international form, without the "+"
INVITATION_HEADER = "X-Wangqian-Invitation"  # smsd ignores headers it does not know
MAX_MESSAGE_BYTES = 4096  # what recover reads of a staged file: its headers are far shorter
PARTIAL_GRACE_SECONDS = 60  # a half-made file younger than this may be a live process's


class DeliveryError(Exception):
    """The gateway's spool cannot take the message: nothing was issued."""


@dataclass(frozen=True)
class TextMessage:
    """One SMS: the mobile number (11 digits, no country code) and the text."""

    phone: str
    text: str
    invitation_sha256: str  # the invitation it carries, by its token's hash


def masked(phone: str) -> str:
    """A number as the drafter may see it: enough to tell which phone, not to call it."""
    return f"{phone[:3]}****{phone[-4:]}"


def link(public_url: str, contract_id: str, field: str, token: str) -> str:
    """The page a phone opens. The token sits in the fragment, which browsers send to no
    server and no Referer carries; the page reads it from there."""
    return (
        f"{public_url.rstrip('/')}/sign#contract={quote(contract_id)}"
        f"&field={quote(field)}&token={quote(token)}"
    )


# A contract number the drafter chose, as the message may show it: letters, digits and the
# punctuation of document numbers, nothing a phone would take for a link (no dot, no colon).
_SHOWN_NUMBER = re.compile(r"[\w\-/（）()〔〕\[\]]{1,40}")


def invitation_text(name: str, role: str, number: str, url: str, expires_at: dt.datetime) -> str:
    """The SMS a party receives, in Chinese with Beijing time. ``name`` is the name of
    record; the contract number is the drafter's text, shown only when it is a plain number
    (else the signing page shows it)."""
    shown = number if _SHOWN_NUMBER.fullmatch(number) else ""
    return (
        f"【网签】{name}您好：合同{shown}请您作为{role}签署。"
        f"请在{beijing_time(expires_at)}前用本机打开：{url} "
        "签署前需核验本人姓名和身份证号。如非本人办理，请勿打开，并致电住房和城乡建设局。"
    )


def smsd_file(message: TextMessage) -> bytes:
    """The message in smsd's spool format (headers, blank line, UTF-8 text)."""
    return (
        f"To: {COUNTRY_CODE}{message.phone}\n"
        "Alphabet: UTF-8\n"
        f"{INVITATION_HEADER}: {message.invitation_sha256}\n"
        f"\n{message.text}\n"
    ).encode()


_TO = re.compile(rf"^To: {COUNTRY_CODE}(1[3-9][0-9]{{9}})$", re.M)
_INVITATION = re.compile(rf"^{INVITATION_HEADER}: ([0-9a-f]{{64}})$", re.M)


def read_smsd_file(raw: bytes) -> TextMessage:
    """A spool file back as the message (what the gateway, or a test's phone, reads)."""
    head, sep, body = raw.decode().partition("\n\n")
    to, invitation = _TO.search(head), _INVITATION.search(head)
    if not sep or to is None or invitation is None:
        raise ValueError("not an invitation message in smsd's format")
    return TextMessage(to.group(1), body.rstrip("\n"), invitation.group(1))


def staged_invitation(raw: bytes) -> str | None:
    """The invitation (its token's SHA-256) a spool file carries, from its headers alone:
    what recovery needs, however long the text after them (None: not a whole message)."""
    head, sep, _ = raw.partition(b"\n\n")
    try:
        headers = head.decode()
    except UnicodeDecodeError:
        return None
    to, invitation = _TO.search(headers), _INVITATION.search(headers)
    if not sep or to is None or invitation is None:
        return None
    return invitation.group(1)


class Courier(Protocol):
    """Where invitation messages go. ``staged`` holds the messages of one transaction and
    sends them only if the block ends without an exception."""

    def staged(self) -> AbstractContextManager[Callable[[TextMessage], None]]: ...


class SpoolCourier:
    """Stages messages in ``DIR/sms/staged`` and moves them into the gateway's outgoing
    directory (``DIR/sms/outgoing`` unless configured) on commit. Both are on one file
    system, so the move is a rename and the gateway never reads half a file."""

    def __init__(self, staging: Path, outgoing: Path) -> None:
        for d in (staging, outgoing):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
        if staging.stat().st_dev != outgoing.stat().st_dev:
            raise DeliveryError(
                f"the SMS outgoing directory {outgoing} must be on the file system of "
                f"{staging}: messages are moved there by a rename"
            )
        self.staging = staging
        self.outgoing = outgoing

    @contextmanager
    def staged(self) -> Iterator[Callable[[TextMessage], None]]:
        # Each staged file stays locked (flock) by this process until it is moved or
        # dropped, so that ``recover`` in another process never takes a live one.
        held: list[tuple[Path, int]] = []

        def stage(message: TextMessage) -> None:
            name = f"wq-{secrets.token_hex(8)}.sms"
            partial = self.staging / f".{name}"
            try:
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except OSError as exc:
                raise DeliveryError(f"the SMS spool cannot take a message: {exc}") from exc
            held.append((self.staging / name, fd))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(fd, smsd_file(message))
                os.fsync(fd)
                os.rename(partial, self.staging / name)
            except OSError as exc:
                partial.unlink(missing_ok=True)
                raise DeliveryError(f"the SMS spool cannot take a message: {exc}") from exc

        try:
            yield stage
        except BaseException:
            for path, fd in held:
                path.unlink(missing_ok=True)
                os.close(fd)
            raise
        for path, fd in held:
            try:
                os.replace(path, self.outgoing / path.name)
            finally:
                os.close(fd)

    def recover(self, committed: Callable[[str], bool]) -> tuple[int, int]:
        """Settle what a process that died left staged: a message whose invitation was
        committed (``committed(sha256)``) goes out, any other is dropped; a message a live
        process holds is left to it. Answers (sent, dropped)."""
        sent = dropped = 0
        for path in sorted(self.staging.glob("*wq-*.sms")):
            partial = path.name.startswith(".")
            try:
                if partial and time.time() - path.stat().st_mtime < PARTIAL_GRACE_SECONDS:
                    continue  # perhaps made a moment ago, not yet locked by its process
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue  # its process settled it meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # staged by a live process, inside its transaction
                # None: half written when its process died. The headers come first and are
                # short: a long text after them does not matter here.
                invitation = staged_invitation(os.read(fd, MAX_MESSAGE_BYTES))
                if not path.exists():
                    continue  # its process moved or dropped it before letting go of it
                if (
                    not path.name.startswith(".")
                    and invitation is not None
                    and committed(invitation)
                ):
                    try:
                        os.replace(path, self.outgoing / path.name)
                    except FileNotFoundError:
                        continue  # moved by its process after all
                    sent += 1
                else:
                    path.unlink(missing_ok=True)
                    dropped += 1
            finally:
                os.close(fd)
        return sent, dropped


_LINK = re.compile(r"/sign#contract=([^&\s]+)&field=([^&\s]+)&token=([A-Za-z0-9_-]+)")


def invitation_in(text: str) -> tuple[str, str, str]:
    """The contract id, field and token of the link in a message's text (what the phone's
    browser reads from the fragment)."""
    found = _LINK.search(text)
    if found is None:
        raise ValueError("the message carries no invitation link")
    contract_id, field, token = (unquote(part) for part in found.groups())
    return contract_id, field, token


def take_messages(outgoing: Path, phone: str) -> list[TextMessage]:
    """Take the messages for ``phone`` out of the outgoing spool, oldest first, as the
    gateway does when it sends them (the demo plays gateway and phone with this)."""
    found = []
    for path in sorted(outgoing.glob("wq-*.sms"), key=lambda p: p.stat().st_mtime_ns):
        message = read_smsd_file(path.read_bytes())
        if message.phone == phone:
            found.append(message)
            path.unlink()
    return found
